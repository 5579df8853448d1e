"""The command line, `paper-assistant`: the parser and entry point (parser.py) and one function per command (commands.py)."""

from assistant.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
