"""The command line, `paper-assistant`: the parser and entry point (parser.py), and one module per
group of commands holding a `cmd_*` function each (ask.py, collection.py, library.py, table.py, ...)."""

from assistant.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
