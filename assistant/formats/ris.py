"""RIS files (.ris: EndNote, Zotero, Mendeley, Web of Science, publishers' "export citation").

A record runs from a `TY  - ` line to an `ER  - ` line.  The file is cut into records here
(so each one has a line number and a broken one is rejected alone) and each record is
parsed with rispy.  Tags used: TI/T1 (title), AB/N2 (abstract), AU/A1 (authors, "Last,
First"), PY/Y1/DA (year), T2/JO/JF/J2/JA/BT (venue), DO (doi), UR (url), KW (tags),
L1/file attachments (PDF), ID (id), and arXiv ids wherever they are mentioned.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from assistant.formats import CollectionError, Records
from assistant.formats.ids import find_arxiv_id, find_code_link
from assistant.formats.names import display_name

TAG_LINE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")


def read_ris(text: str, name: str, base_dir: Path | None = None) -> Records:
    import rispy

    parser = rispy.RisParser(skip_unknown_tags=False)
    found = False
    current: list[str] = []
    start = 0
    for n, line in enumerate(text.splitlines(), 1):
        line = line.rstrip("\r")
        m = TAG_LINE.match(line.lstrip("\ufeff"))
        tag = m.group(1) if m else None
        if tag == "TY":
            found = True
            if current:
                yield f"record at line {start}", "record has no 'ER  -' line before the next 'TY  -'"
            current, start = [line.lstrip("\ufeff")], n
        elif tag == "ER":
            if not current:
                yield f"line {n}", "'ER  -' line without a 'TY  -' line before it"
                continue
            current.append("ER  - ")
            yield f"record at line {start}", _record(parser.parse_lines(iter(current)), base_dir)
            current = []
        elif current:
            current.append(line)
    if current:
        yield f"record at line {start}", "record has no 'ER  -' line (the file may be cut short)"
    if not found:
        raise CollectionError(f"{name}: no RIS records ('TY  - ' lines) found")


def _record(parsed: list[dict], base_dir: Path | None) -> dict[str, Any] | str:
    if not parsed:
        return "not a readable RIS record"
    r = parsed[0]

    def first(*keys):
        return next((r[k] for k in keys if r.get(k)), None)

    authors = r.get("authors") or r.get("first_authors") or []
    urls = r.get("urls") or []
    unknown = r.get("unknown_tag") or {}
    venue = first("secondary_title", "journal_name", "alternate_title3", "alternate_title1", "alternate_title2")
    venue = venue or (unknown.get("BT") or [""])[0]
    files = (
        list(r.get("file_attachments1") or [])
        if isinstance(r.get("file_attachments1"), list)
        else [r.get("file_attachments1") or ""]
    )
    return {
        "id": r.get("id"),
        "title": first("title", "primary_title", "short_title"),
        "abstract": first("abstract", "notes_abstract"),
        "authors": [display_name(a) for a in authors if isinstance(a, str)],
        "year": first("year", "publication_year", "date"),
        "venue": venue,
        "doi": r.get("doi"),
        "url": next((u for u in urls if u.startswith("http")), ""),
        "arxiv_id": find_arxiv_id(*urls, r.get("doi"), r.get("note"), *(r.get("notes") or [])),
        "tags": [k for k in (r.get("keywords") or []) if k],
        "code_url": find_code_link(*(r.get("notes") or [])),
        "pdf_path": _pdf(files, base_dir),
    }


def _pdf(values: list[str], base_dir: Path | None) -> str:
    for value in values:
        for item in value.split(";"):
            path = re.sub(r"^file://", "", item.strip())
            if path.lower().endswith(".pdf"):
                p = Path(path)
                if base_dir is not None and not p.is_absolute() and "://" not in path:
                    p = base_dir / p
                return str(p)
    return ""
