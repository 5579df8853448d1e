"""The paper-assistant web app (Gradio): `build_app(pa)` returns the Blocks, `main()` serves it."""

from ui.app import WebApp, build_app, launch, main, open_assistant
from ui.sessions import SessionSettings

__all__ = ["SessionSettings", "WebApp", "build_app", "launch", "main", "open_assistant"]
