"""Answers about a paper's record ("who wrote the Adam paper?", "when was it published?",
"which journal?": retrieval.query.asks_metadata), from the record and cited to it."""

from __future__ import annotations

from assistant.answering import prompts
from assistant.text import md_title
from assistant.types import Citation, Paper


def record_line(paper: Paper) -> str:
    """The paper's record as one line: authors; venue, year; DOI (the fields it has)."""
    parts = []
    if paper.authors:
        parts.append(", ".join(paper.authors))
    where = ", ".join(str(x) for x in (paper.venue, paper.year) if x)
    if where:
        parts.append(where)
    if paper.doi:
        parts.append(f"doi:{paper.doi}")
    return "; ".join(parts)


def metadata_answer(paper: Paper, fields: list[str]) -> tuple[str, list[Citation]]:
    """The answer text (with its [1] marker) and its citation of the record."""
    values = {
        "authors": ", ".join(paper.authors),
        "year": str(paper.year or ""),
        "venue": paper.venue,
        "doi": paper.doi,
    }
    said = [prompts.RECORD_FIELDS[f].format(value=md_title(values[f])) for f in fields if values[f]]
    missing = [prompts.RECORD_FIELD_NAMES[f] for f in fields if not values[f]]
    lines = said + ([prompts.RECORD_MISSING.format(fields=", ".join(missing))] if missing else [])
    text = f"{prompts.METADATA_INTRO}\n\n**{md_title(paper.title)}** [1]\n" + "\n".join(f"- {line}" for line in lines)
    return text, [Citation(number=1, paper=paper, quote=record_line(paper), spans=[])]
