"""Author names as people read them: "John Smith", never "Smith, John".

Every format spells authors its own way -- BibTeX "Smith, John and Doe, Jane", a CSV cell
"Smith, John; Doe, Jane", CSL {"family", "given"}, arXiv's [last, first, suffix], OpenAlex
{"author": {"display_name"}} -- and all of them become a list of display names here.
"""

from __future__ import annotations

import re
from typing import Any

_SUFFIX = re.compile(r"^(jr|sr|ii|iii|iv|v)\.?$", re.IGNORECASE)
_COMPANY = re.compile(r"^(inc|ltd|llc|corp|co|gmbh|ag|sa)\.?$", re.IGNORECASE)


def display_name(name: str) -> str:
    """ "Smith, John" -> "John Smith"; "Smith, Jr., John" -> "John Smith Jr."; others unchanged."""
    parts = [p.strip() for p in name.split(",")]
    if len(parts) == 2 and parts[0] and parts[1] and not _COMPANY.match(parts[1]):
        return f"{parts[1]} {parts[0]}"
    if len(parts) == 3 and all(parts):
        if _SUFFIX.match(parts[1]):  # BibTeX's "von Last, Jr, First"
            return f"{parts[2]} {parts[0]} {parts[1]}"
        if _SUFFIX.match(parts[2]):  # "Last, First, Jr."
            return f"{parts[1]} {parts[0]} {parts[2]}"
    return name.strip()


def split_authors(text: str) -> list[str]:
    """Display names from one string of authors.

    "A; B" and "A and B" are split on the separator first.  Within a part, commas are read
    the way people write them: "Smith, John" is one person, "Smith, John, Doe, Jane" two,
    "John Smith, Jane Doe" two.  When every comma-separated piece has two or more words the
    pieces are names; otherwise they pair up as last name, first names.
    """
    text = " ".join(text.split())
    if ";" in text:
        parts = text.split(";")
    else:
        parts = re.split(r"\s*,?\s+and\s+", text)
    return [name for part in parts for name in _comma_list(part)]


def _comma_list(text: str) -> list[str]:
    pieces = [p.strip() for p in text.split(",") if p.strip()]
    if len(pieces) < 2:
        return pieces
    if len(pieces) == 3 and (_SUFFIX.match(pieces[1]) or _SUFFIX.match(pieces[2])):
        return [display_name(text)]
    if all(len(p.split()) >= 2 for p in pieces):
        return pieces
    if len(pieces) % 2 == 0 and all(len(p.split()) <= 3 for p in pieces[0::2]):
        return [display_name(f"{last}, {first}") for last, first in zip(pieces[0::2], pieces[1::2])]
    return pieces


def person_name(value: Any) -> str:
    """A display name for one author given as a string, a dict or a [last, first, suffix] list."""
    if isinstance(value, str):
        return display_name(value)
    if isinstance(value, dict):
        nested = value.get("author")
        if isinstance(nested, dict):  # OpenAlex authorship
            return person_name(nested) or person_name({k: v for k, v in value.items() if k != "author"})
        for key in ("literal", "display_name", "name", "raw_author_name", "full_name"):
            if isinstance(value.get(key), str) and value[key].strip():
                return display_name(value[key])
        family = " ".join(
            str(value.get(k) or "") for k in ("non-dropping-particle", "family", "last", "lastName")
        ).strip()
        given = " ".join(str(value.get(k) or "") for k in ("given", "first", "firstName", "dropping-particle")).strip()
        suffix = str(value.get("suffix") or "").strip()
        return " ".join(p for p in (given, family, suffix) if p)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        last, first, suffix = (list(value) + ["", ""])[:3]  # arXiv authors_parsed
        return " ".join(p.strip() for p in (first, last, suffix) if p.strip())
    return ""
