"""The settings a command runs with (--config, the flags, --set KEY=VALUE), and the `settings` command."""

from __future__ import annotations

from typing import Any

import assistant as pa_lib
from assistant.cli.output import print_json
from assistant.settings import SettingsError


def settings_for(args) -> pa_lib.Settings:
    """The settings file and environment, overridden by the global flags and each --set KEY=VALUE."""
    overrides: dict[str, Any] = {}
    for name in ("index_dir", "collection", "chroma_url", "backend", "model", "base_url", "gguf"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SettingsError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value
    return pa_lib.Settings.load(config_file=args.config, **overrides)


def cmd_settings(args) -> int:
    if args.markdown:
        print(pa_lib.Settings.markdown(), end="")
        return 0
    s = settings_for(args)
    if args.json:
        print_json(s.redacted())
        return 0
    shown = s.redacted()
    for name, env, _default, help_ in pa_lib.Settings.describe():
        print(f"{name:20s} {str(shown[name])[:40]:40s} {env}\n    {help_}")
    return 0
