"""Which papers a table has rows for: papers named by id, citation key or exact title, in
the order named; and what a table may be asked (its aspects)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

from assistant.types import Paper


class TableError(ValueError):
    """A table cannot be made as asked (no aspects, an aspect too long, too many papers); the message says why."""


class UnknownPaper(KeyError):
    """A paper named for a table is not in the collection (by id, citation key or exact title)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such paper"


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def resolve(names: Sequence[str], papers: Mapping[str, Paper]) -> list[Paper]:
    """The papers `names` name, in that order, each once: an id, else a citation key (exact,
    then ignoring case), else an exact title (ignoring case and spacing).  An unknown name
    raises UnknownPaper naming it and the closest titles; a title two papers share, TableError."""
    by_key: dict[str, list[Paper]] = {}
    by_title: dict[str, list[Paper]] = {}
    for p in papers.values():
        if p.key:
            by_key.setdefault(p.key, []).append(p)
            by_key.setdefault(p.key.casefold(), []).append(p)
        by_title.setdefault(_fold(p.title), []).append(p)
    out: dict[str, Paper] = {}
    for name in names:
        name = (name or "").strip()
        found = (
            [papers[name]]
            if name in papers
            else by_key.get(name) or by_key.get(name.casefold()) or by_title.get(_fold(name))
        )
        if not found:
            raise UnknownPaper(_unknown(name, papers.values()))
        distinct = list({p.id: p for p in found}.values())
        if len(distinct) > 1:
            raise TableError(f"{name!r} names {len(distinct)} papers ({', '.join(p.id for p in distinct)}): give an id")
        out.setdefault(distinct[0].id, distinct[0])
    return list(out.values())


def _unknown(name: str, papers: Iterable[Paper]) -> str:
    titles = [p.title for p in papers]
    close = difflib.get_close_matches(name, titles, n=3, cutoff=0.5)
    hint = "; closest titles: " + "; ".join(repr(t) for t in close) if close else ""
    return f"no paper with id, citation key or title {name!r} in the collection{hint}"


def check_aspects(aspects: Iterable[str] | str, max_aspects: int, max_chars: int) -> list[str]:
    """The aspects as a table's columns: stripped, each once, in order; at least one, at most
    `max_aspects`, each at most `max_chars` characters (TableError otherwise)."""
    if isinstance(aspects, str):
        aspects = [aspects]
    out = list(dict.fromkeys(" ".join(str(a).split()) for a in aspects if str(a).strip()))
    if not out:
        raise TableError("a table needs at least one aspect (a question asked of every paper)")
    if len(out) > max_aspects:
        raise TableError(f"{len(out)} aspects; the limit is {max_aspects} (setting table_max_aspects)")
    long = [a for a in out if len(a) > max_chars]
    if long:
        raise TableError(
            f"the aspect {long[0][:40]!r}... is {len(long[0])} characters long; the limit is {max_chars} "
            "(setting max_question_chars)"
        )
    return out
