"""CSL JSON items (Zotero's "CSL JSON" export, Better BibTeX, citeproc, Pandoc) as records.

A CSL JSON file is a JSON array of items; `jsonish` parses it and calls `to_record` for each
item `looks_like_csl` recognises.  Fields used (CSL-JSON schema 1.0.2): id, citation-key,
title, abstract, author ({family, given, non-dropping-particle, suffix} or {literal}),
issued ({"date-parts": [[2020, 3]]}, {"raw": "2020"} or {"literal": ...}), container-title,
event-title, DOI, URL, number / archive_location (arXiv ids of preprints), keyword.

Ids: an item's `id` as given, except Zotero's item URIs
("http://zotero.org/users/1/items/ABCD2345"), which become "zotero:ABCD2345" -- the same id
the Zotero database reader gives that item.
"""

from __future__ import annotations

import re
from typing import Any

from assistant.formats.ids import find_arxiv_id, find_code_link
from assistant.formats.names import person_name

_ZOTERO_URI = re.compile(r"^https?://zotero\.org/(?:users|groups)/(?:local/)?[^/]+/items/([A-Z0-9]{8})$")
_RICH_TEXT = re.compile(r"</?(?:i|b|sup|sub|sc|span)(?:\s[^<>]*)?>", re.IGNORECASE)


def looks_like_csl(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    if any(k in item for k in ("issued", "container-title", "citation-key")):
        return True
    authors = item.get("author")
    return isinstance(authors, list) and any(isinstance(a, dict) and ("family" in a or "literal" in a) for a in authors)


def strip_rich_text(value: Any) -> Any:
    """Zotero and CSL titles may carry <i>, <sup>, <span class="nocase"> markup: keep the text."""
    return _RICH_TEXT.sub("", value) if isinstance(value, str) else value


def to_record(item: dict) -> dict[str, Any]:
    cid = item.get("id")
    cid = str(cid).strip() if isinstance(cid, (str, int)) and str(cid).strip() else None
    m = _ZOTERO_URI.match(cid or "")
    if m:
        cid = f"zotero:{m.group(1)}"
    authors = item.get("author") if isinstance(item.get("author"), list) else []
    if not authors and isinstance(item.get("editor"), list):
        authors = item["editor"]
    keywords = item.get("keyword")
    return {
        "id": cid,
        "key": item.get("citation-key") or item.get("citation_key"),
        "title": strip_rich_text(item.get("title")),
        "abstract": item.get("abstract"),
        "authors": [n for n in (person_name(a) for a in authors) if n],
        "year": issued_year(item.get("issued")) or item.get("year"),
        "venue": strip_rich_text(item.get("container-title") or item.get("event-title") or item.get("event") or ""),
        "doi": item.get("DOI"),
        "url": item.get("URL"),
        "arxiv_id": find_arxiv_id(item.get("number"), item.get("archive_location"), item.get("URL"), item.get("note")),
        "code_url": find_code_link(item.get("note")),
        "tags": re.split(r"\s*[,;]\s*", keywords.strip()) if isinstance(keywords, str) and keywords.strip() else [],
    }


def issued_year(issued: Any) -> Any:
    """The year of a CSL date: date-parts first, then raw/literal text (left to the year parser)."""
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            return parts[0][0]
        return issued.get("raw") or issued.get("literal") or issued.get("season")
    return issued
