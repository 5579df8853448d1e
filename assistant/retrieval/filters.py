"""Metadata filters: which papers pass a year range, an author, a venue, a tag or a citation key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from assistant.types import Paper


@dataclass(frozen=True)
class Filters:
    """Each set field is a filter a paper must pass (PaperAssistant.select_ids says how each matches)."""

    year_from: int | None = None
    year_to: int | None = None
    author: str | None = None
    venue: str | None = None
    tag: str | None = None
    key: str | None = None

    def passes(self, p: Paper) -> bool:
        if (self.year_from is not None or self.year_to is not None) and p.year is None:
            return False
        if (self.year_from is not None and p.year < self.year_from) or (
            self.year_to is not None and p.year > self.year_to
        ):
            return False
        who, where, label, cite = _norm(self.author), _norm(self.venue), _norm(self.tag), (self.key or "").strip()
        return (
            (not who or any(who in _norm(a) for a in p.authors))
            and (not where or where in _norm(p.venue))
            and (not label or label in _labels(p))
            and (not cite or p.key == cite)
        )


def select(papers: Iterable[Paper], filters: Filters) -> list[str]:
    """Ids of the papers passing every filter."""
    return [p.id for p in papers if filters.passes(p)]


def _norm(text: str | None) -> str:
    return " ".join((text or "").lower().split())


def _labels(p: Paper) -> set[str]:
    """A paper's tags, its collections and every collection above them ("Reading/2024": both)."""
    out = {_norm(t) for t in p.tags}
    for c in p.collections:
        out |= {_norm(c)} | {_norm(part) for part in c.split("/")}
    return out
