"""Readers of paper files, one module per format.

Each reader turns a file into records in one vocabulary and never decides what a Paper is:
`assistant.papers` detects the format, calls the reader and builds the Papers
(`normalize_record`).  A reader yields `(position, record)` pairs lazily, where position says
where in the file the record is ("line 3", "entry 'smith2020' (line 12)") and record is a dict
or a string saying why that record cannot be read.

The vocabulary (every key optional except title):
  title, abstract, id, authors (list of display names, "John Smith"), year, venue, doi,
  arxiv_id, url, code_url, key (citation key), tags (list), collections (list),
  pdf_path (a local PDF), bibtex (the original entry text), warnings (list of notes about
  the record, reported with it).

Modules: sources (opening a file, recognising its format, choosing the reader), page
(papers-page text), jsonish (JSON, JSON lines), tabular (CSV/TSV), bibtex, ris, csljson,
zotero (zotero.sqlite), dumps (arXiv, OpenAlex, Semantic Scholar records); latex, names and
ids are shared helpers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Record = dict[str, Any] | str  # a record, or why it cannot be read
Records = Iterator[tuple[str, Record]]


class CollectionError(ValueError):
    """The file as a whole cannot be read as a paper collection."""


# What the formats are called in messages (the order is the order they are listed to users).
FORMAT_NAMES = {
    "bibtex": "BibTeX/BibLaTeX (.bib)",
    "ris": "RIS (.ris)",
    "csljson": "CSL JSON (Zotero / Better BibTeX export)",
    "zotero": "Zotero database (zotero.sqlite)",
    "arxiv": "arXiv metadata snapshot (JSON lines)",
    "openalex": "OpenAlex works (JSON lines)",
    "s2": "Semantic Scholar papers (JSON lines)",
    "jsonl": "JSON lines",
    "json": 'JSON (an array of records, or {"papers": [...]})',
    "csv": "CSV/TSV with a title column",
    "page": "papers-page text (title line, abstract paragraph)",
}


def formats_understood(databases: bool = True) -> str:
    """One line listing the formats, for messages about a file that is none of them
    (`databases=False`: without the Zotero database, for visitors of a public deployment)."""
    return "; ".join(v for k, v in FORMAT_NAMES.items() if databases or k != "zotero")
