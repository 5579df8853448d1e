"""A comparison table's typed results: Table -> Row (one paper) -> Cell (one aspect) -> Citation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant import references
from assistant.tables import export
from assistant.types import Citation, Paper

NOT_STATED = export.NOT_STATED


@dataclass
class Cell:
    """What one paper says about one aspect: `text` (its sentence(s), or an LLM's short phrase),
    `stated` (False: the paper does not say, and `text` reads "not stated"), the citations
    (verbatim quote, page and section for a PDF).  `source` is "extractive", "llm", or
    "extractive-fallback" (an LLM phrase that failed its check or its call; `note` says why).
    `score` is the measure `stated` was decided by; `nearest` is the closest sentence of a
    not-stated cell (shown as what came closest, never as the answer)."""

    aspect: str
    text: str
    stated: bool
    citations: list[Citation] = field(default_factory=list)
    source: str = "extractive"
    note: str = ""
    score: float = 0.0
    support: float = 0.0  # the share of the aspect's specific terms its best sentence holds
    nearest: Citation | None = None

    @property
    def quote(self) -> str:
        """The cell's verbatim quotes, joined ("" for a not-stated cell)."""
        return " ".join(c.quote for c in self.citations if c.quote)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "aspect": self.aspect,
            "text": self.text,
            "stated": self.stated,
            "citations": [citation_dict(c) for c in self.citations],
            "source": self.source,
        }
        if self.note:
            d["note"] = self.note
        return d


def citation_dict(c: Citation) -> dict[str, Any]:
    """A cell's citation as the JSON output shows it: the quote, its page and section (None: the abstract)."""
    return {"quote": c.quote, "page": c.page, "section": c.section}


@dataclass
class Row:
    """One paper's cells, one per aspect, in the table's aspect order."""

    paper: Paper
    cells: list[Cell]

    def to_dict(self) -> dict[str, Any]:
        p = self.paper
        paper: dict[str, Any] = {"id": p.id, "key": p.key, "title": p.title, "year": p.year, "authors": list(p.authors)}
        if p.venue:
            paper["venue"] = p.venue
        if p.doi:
            paper["doi"] = p.doi
        if p.url:
            paper["url"] = p.url
        return {"paper": paper, "cells": [c.to_dict() for c in self.cells]}


@dataclass
class Table:
    """Papers as rows, aspects as columns, every stated cell cited; `backend` wrote the cells
    ("extractive" or the LLM's name).  Exports: to_csv, to_markdown, to_json, to_bibtex."""

    aspects: list[str]
    rows: list[Row]
    backend: str = "extractive"
    model: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def cell(self, paper_id: str, aspect: str) -> Cell:
        """The cell of one paper (by id) for one aspect; KeyError when there is none."""
        for row in self.rows:
            if row.paper.id == paper_id:
                for c in row.cells:
                    if c.aspect == aspect:
                        return c
        raise KeyError(f"no cell for paper {paper_id!r} and aspect {aspect!r}")

    @property
    def cells(self) -> list[Cell]:
        return [c for row in self.rows for c in row.cells]

    def to_dict(self) -> dict[str, Any]:
        return {
            "aspects": list(self.aspects),
            "rows": [r.to_dict() for r in self.rows],
            "backend": self.backend,
            "model": self.model,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return export.to_json(self, indent)

    def to_csv(self, quotes: bool = True) -> str:
        """One line per paper: its id, key, title and year, then per aspect the cell's text and
        (`quotes`) its quote with page and section."""
        return export.to_csv(self, quotes)

    def to_markdown(self) -> str:
        """A Markdown table, each stated cell followed by its citation's page (paper text escaped)."""
        return export.to_markdown(self)

    def to_bibtex(self) -> str:
        """The rows' papers as a .bib file (a paper read from the user's .bib as they wrote it)."""
        return references.to_bibtex([r.paper for r in self.rows])
