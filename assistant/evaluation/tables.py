"""Comparison tables scored against gold cells (examples/tables/README.md): each cell of a
table set names its gold sentences ([] = the paper does not say).  A cell is right when it is
stated and its text or quote holds a gold sentence (`holds`), or when both it and its gold are
"not stated".  The naive baseline's cell is the paper's passage nearest to the aspect by the
embedding alone (it never says "not stated")."""

from __future__ import annotations

import re
import statistics
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.evaluation.questions import PDF_KEY, QuestionSetError, _file_key, title_index
from assistant.ingest.records import read_jsonl
from assistant.retrieval.query import dense_query

HOLDS = 0.9  # share of a gold sentence's words a cell must have (PDF readers differ on hyphens and symbols)
SYSTEMS = ("assistant", "nearest passage")


def is_table_set(source: str | Path) -> bool:
    """Whether a JSONL file is a table set (its first record has `aspects` and `rows`)."""
    for rec in read_jsonl(source):
        return isinstance(rec, dict) and "aspects" in rec and "rows" in rec
    return False


def load_tables(source: str | Path) -> list[dict[str, Any]]:
    """The tables of a table set, checked: each has an id, aspects, and rows of
    {"paper": title, "pdf"?: file, "cells": [{"aspect", "gold": [sentences]}]} in aspect order."""
    out = []
    for n, t in enumerate(read_jsonl(source), 1):
        where = f"table {n} ({t.get('id', '?') if isinstance(t, dict) else '?'})"
        if not isinstance(t, dict) or not isinstance(t.get("aspects"), list) or not t["aspects"]:
            raise QuestionSetError(f"{where}: 'aspects' must be a non-empty list")
        if not isinstance(t.get("rows"), list) or not t["rows"]:
            raise QuestionSetError(f"{where}: 'rows' must be a non-empty list")
        for r in t["rows"]:
            cells = r.get("cells") if isinstance(r, dict) else None
            if not isinstance(cells, list) or [c.get("aspect") for c in cells] != t["aspects"]:
                raise QuestionSetError(f"{where}: each row needs one cell per aspect, in the aspects' order")
        out.append(t)
    if not out:
        raise QuestionSetError(f"no tables in {source}")
    return out


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", unicodedata.normalize("NFKC", text).lower())


def holds(cell_text: str, gold: list[str]) -> bool:
    """Whether a cell's text (with its quote) has HOLDS of the words of one gold sentence."""
    have = set(words(cell_text))
    for g in gold:
        want = set(words(g))
        if want and len(want & have) >= HOLDS * len(want):
            return True
    return False


@dataclass
class CellResult:
    table: str
    paper: str
    aspect: str
    gold_stated: bool
    stated: bool
    right: bool
    words: int
    text: str = ""


@dataclass
class TableSystem:
    """One system's cells over a table set, and its time per table."""

    name: str
    cells: list[CellResult] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def scores(self) -> dict[str, float | int | None]:
        stated = [c for c in self.cells if c.gold_stated]
        silent = [c for c in self.cells if not c.gold_stated]
        said = [c.words for c in self.cells if c.stated]
        return {
            "cells": len(self.cells),
            "cells_right": _share(c.right for c in stated),
            "not_stated_right": _share(c.right for c in silent),
            "all_right": _share(c.right for c in self.cells),
            "false_not_stated": _share(not c.stated for c in stated),
            "words_per_stated_cell": round(statistics.mean(said), 1) if said else None,
            "seconds_per_table": round(statistics.median(self.seconds), 3) if self.seconds else None,
        }


def _share(flags) -> float | None:
    flags = list(flags)
    return round(sum(flags) / len(flags), 3) if flags else None


@dataclass
class TableReport:
    source: str
    tables: int
    systems: list[TableSystem]
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        """The scores as a plain-text table, a line per system."""
        head = f"{'system':18s} {'cells':>5s} {'cells right':>11s} {'not stated right':>16s} {'all right':>9s} "
        head += f"{'words/cell':>10s} {'s/table':>8s}"
        lines = [f"{self.source}: {self.tables} tables", head]
        for s in self.systems:
            v = s.scores()
            lines.append(
                f"{s.name:18s} {v['cells']:5d} {_fmt(v['cells_right']):>11s} {_fmt(v['not_stated_right']):>16s} "
                f"{_fmt(v['all_right']):>9s} {_fmt(v['words_per_stated_cell'], 1):>10s} "
                f"{_fmt(v['seconds_per_table'], 3):>8s}"
            )
        return "\n".join(lines + [f"note: {n}" for n in self.notes])

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "tables": self.tables,
            "systems": {s.name: {"scores": s.scores(), "cells": [asdict(c) for c in s.cells]} for s in self.systems},
            "notes": self.notes,
        }


def _fmt(v, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def evaluate_tables(
    pa, source: str | Path, progress: Callable[[str, int, int], None] | None = None, baseline: bool = True
) -> TableReport:
    """Make each table of a table set with `pa.table` (and with the baseline) and score the cells."""
    tables = load_tables(source)
    titles = title_index(pa.papers)
    ids = [[_paper_id(t, r, titles) for r in t["rows"]] for t in tables]
    pa.table(tables[0]["aspects"][:1], papers=ids[0][:1])  # first-call costs are not a table's time
    mine, naive = TableSystem(SYSTEMS[0]), TableSystem(SYSTEMS[1])
    for n, (t, row_ids) in enumerate(zip(tables, ids), 1):
        start = time.perf_counter()
        made = pa.table(t["aspects"], papers=row_ids)
        mine.seconds.append(time.perf_counter() - start)
        for r, row in zip(t["rows"], made.rows):
            for gold, cell in zip(r["cells"], row.cells):
                mine.cells.append(_score(t["id"], r["paper"], gold, cell.stated, cell.text, cell.quote))
        if baseline:
            start = time.perf_counter()
            for r, pid in zip(t["rows"], row_ids):
                for gold in r["cells"]:
                    text = nearest_passage(pa, pid, gold["aspect"])
                    naive.cells.append(_score(t["id"], r["paper"], gold, True, text))
            naive.seconds.append(time.perf_counter() - start)
        if progress:
            progress("tables", n, len(tables))
    systems = [mine] + ([naive] if baseline else [])
    notes = [f"cells by {pa.backend}" + (f" ({pa.model})" if pa.model else "")]
    return TableReport(Path(source).name, len(tables), systems, notes)


def _paper_id(t: dict, r: dict, titles: dict[str, str]) -> str:
    pdf = r.get("pdf")
    if pdf and PDF_KEY + _file_key(pdf) in titles:
        return titles[PDF_KEY + _file_key(pdf)]
    key = " ".join(str(r.get("paper", "")).lower().split())
    if key not in titles:
        hint = (
            f" (nor a PDF named {pdf!r}: add the PDFs first, e.g. `paper-assistant eval --papers DIR`)" if pdf else ""
        )
        raise QuestionSetError(f"table {t.get('id')}: paper {r.get('paper')!r} is not in the collection{hint}")
    return titles[key]


def _score(table: str, paper: str, gold: dict, stated: bool, shown: str, quote: str = "") -> CellResult:
    """One cell scored: `shown` is what the table shows, `quote` what it quotes."""
    gold_stated = bool(gold["gold"])
    right = (stated and holds(f"{shown} {quote}", gold["gold"])) if gold_stated else not stated
    return CellResult(table, paper, gold["aspect"], gold_stated, stated, right, len(shown.split()), shown[:300])


def nearest_passage(pa, paper_id: str, aspect: str) -> str:
    """The naive baseline's cell: the paper's passage whose vector is nearest to the aspect's."""
    paper = pa.paper(paper_id)
    qvec = pa.embedder.embed_query(dense_query(aspect))
    ranked = sorted(pa.store.paper_cosines(qvec, paper), key=lambda x: -x[1])
    return ranked[0][0].text if ranked else paper.abstract
