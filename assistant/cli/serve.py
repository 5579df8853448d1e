"""The `serve` command: the web app, optionally watching sources, taking other terminals' commands."""

from __future__ import annotations

import sys

from assistant.cli.relay import start_relay
from assistant.cli.settings import settings_for


def cmd_serve(args) -> int:
    """The web app (the same one `python app.py` and the Hugging Face Space run)."""
    try:
        from ui.app import build_app, launch, open_assistant
    except ImportError as e:
        print(
            f"error: the web app needs the ui extra ({e.name} is missing): pip install 'paper-assistant[ui]'",
            file=sys.stderr,
        )
        return 2
    from assistant.cli.library import start_watching

    pa = open_assistant(settings_for(args))
    info = pa.info()
    print(f"paper-assistant: {info['papers']} papers, answers by {info['backend']}", file=sys.stderr)
    watcher = start_watching(pa, args.watch) if args.watch else None
    relay = start_relay(pa, args.relayed)
    try:
        launch(build_app(pa), server_name=args.host, server_port=args.port)
    finally:
        if watcher is not None:
            watcher.stop()
        if relay is not None:
            relay.stop()
    return 0
