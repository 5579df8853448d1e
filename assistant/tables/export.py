"""A comparison table written out: CSV (a spreadsheet), Markdown (a review draft), JSON."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

from assistant.text import md_title
from assistant.types import where_in_pdf

if TYPE_CHECKING:
    from assistant.tables.types import Cell, Table

NOT_STATED = "not stated"


def where(cell: Cell) -> str:
    """Where a cell's first quote is: "abstract", or "p. 7, §3.2" for a PDF page ("" for not stated)."""
    if not cell.citations:
        return ""
    c = cell.citations[0]
    return where_in_pdf(c.page, c.section).lstrip(", ") or "abstract"


def to_csv(table: Table, quotes: bool = True) -> str:
    """One line per paper: id, key, title, year; per aspect its text and (`quotes`) the quote and where it is."""
    out = io.StringIO()
    w = csv.writer(out)
    head = ["id", "key", "title", "year"]
    for a in table.aspects:
        head += [a, f"{a} [quote]", f"{a} [where]"] if quotes else [a]
    w.writerow(head)
    for row in table.rows:
        p = row.paper
        line = [p.id, p.key, p.title, p.year if p.year is not None else ""]
        for c in row.cells:
            line += [_safe(c.text), _safe(c.quote), where(c)] if quotes else [_safe(c.text)]
        w.writerow(line)
    return out.getvalue()


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula ("=cmd|..." from a paper's text)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _md_cell(text: str) -> str:
    """Paper text inside a Markdown table cell: one line, pipes and Markdown escaped."""
    return md_title(" ".join(text.split())).replace("|", "\\|")


def to_markdown(table: Table) -> str:
    """A Markdown table: the paper (title and year), then each aspect's cell with where its quote is."""
    head = "| Paper | " + " | ".join(_md_cell(a) for a in table.aspects) + " |"
    rule = "|---|" + "---|" * len(table.aspects)
    lines = [head, rule]
    for row in table.rows:
        p = row.paper
        name = _md_cell(p.title) + (f" ({p.year})" if p.year else "")
        cells = []
        for c in row.cells:
            if not c.stated:
                cells.append(f"_{NOT_STATED}_")
            else:
                at = where(c)
                cells.append(_md_cell(c.text) + (f" ({_md_cell(at)})" if at else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_json(table: Table, indent: int | None = 2) -> str:
    """{"aspects": [...], "rows": [{"paper": {...}, "cells": [{"aspect", "text", "stated", "citations"}]}]}."""
    return json.dumps(table.to_dict(), indent=indent, ensure_ascii=False)
