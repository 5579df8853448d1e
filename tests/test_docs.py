"""The README documents every setting (name and environment variable) in its table."""

import re
from dataclasses import fields
from pathlib import Path

from assistant import Settings

README = Path(__file__).parent.parent / "README.md"


def test_readme_settings_table_lists_every_setting():
    table = README.read_text(encoding="utf-8").split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| (\w+) \| (\w*) \|", table, re.M)}
    for f in fields(Settings):
        assert f.name in rows, f"README settings table lacks {f.name}"
        assert rows[f.name] == (f.metadata.get("env") or ""), f"README gives the wrong variable for {f.name}"
