"""Metadata filters: which papers pass a year range, an author, a venue, a tag or a citation key."""

from __future__ import annotations

from collections.abc import Iterable

from assistant.types import Paper


def select(
    papers: Iterable[Paper],
    year_from: int | None = None,
    year_to: int | None = None,
    author: str | None = None,
    venue: str | None = None,
    tag: str | None = None,
    key: str | None = None,
) -> list[str]:
    """Ids of the papers passing every given filter (PaperAssistant.select_ids says how each matches)."""

    def norm(text: str | None) -> str:
        return " ".join((text or "").lower().split())

    who, where, label, cite = norm(author), norm(venue), norm(tag), (key or "").strip()
    out = []
    for p in papers:
        if (year_from is not None or year_to is not None) and p.year is None:
            continue
        if (year_from is not None and p.year < year_from) or (year_to is not None and p.year > year_to):
            continue
        if who and not any(who in norm(a) for a in p.authors):
            continue
        if where and where not in norm(p.venue):
            continue
        if label and label not in _labels(p, norm):
            continue
        if cite and p.key != cite:
            continue
        out.append(p.id)
    return out


def _labels(p: Paper, norm) -> set[str]:
    """A paper's tags, its collections and every collection above them ("Reading/2024": both)."""
    out = {norm(t) for t in p.tags}
    for c in p.collections:
        out |= {norm(c)} | {norm(part) for part in c.split("/")}
    return out
