"""The paper-assistant web app (Gradio): `build_app(pa)` returns the Blocks, `main()` serves it."""

from .app import SessionSettings, build_app, launch, main, open_assistant

__all__ = ["SessionSettings", "build_app", "launch", "main", "open_assistant"]
