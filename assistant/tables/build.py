"""A comparison table made: every aspect read once, then the papers in batches -- each paper's
cells filled extractively, then (with an LLM) rewritten as checked phrases, several at a time.
`progress(done, total)` hears the papers finished; a cell that fails in any way keeps its
extractive text (marked), so one bad cell never loses the table."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from assistant.llm import LLM
from assistant.tables import extractive, writer
from assistant.tables.types import Cell, Row, Table
from assistant.types import Paper

log = logging.getLogger(__name__)

BATCH = 4  # papers per batch: progress is reported after each
LLM_WORKERS = 2  # cells written at once by an LLM


@dataclass
class TableJob:
    """What one table needs: its papers (row order), its aspects (column order), how papers are
    read (answerer.Reading), the LLM that writes cells (None: extractive) and its timeout."""

    papers: Sequence[Paper]
    aspects: Sequence[str]
    reading: Any
    llm: LLM | None = None
    timeout: float = 60.0
    progress: Callable[[int, int], None] | None = None


def make_table(job: TableJob) -> Table:
    """The table: one Row per paper, one Cell per aspect."""
    t0 = time.perf_counter()
    aspects = [extractive.read_aspect(a, job.reading) for a in job.aspects]
    timings = {"aspects": time.perf_counter() - t0}
    rows: list[Row] = []
    total = len(job.papers)
    for start in range(0, total, BATCH):
        batch = job.papers[start : start + BATCH]
        t = time.perf_counter()
        batch_rows = [Row(p, [_safe_fill(p, a) for a in aspects]) for p in batch]
        timings["extractive"] = timings.get("extractive", 0.0) + time.perf_counter() - t
        if job.llm is not None:
            t = time.perf_counter()
            _write(batch_rows, job)
            timings["llm"] = timings.get("llm", 0.0) + time.perf_counter() - t
        rows += batch_rows
        if job.progress is not None:
            job.progress(len(rows), total)
    timings["total"] = time.perf_counter() - t0
    llm = job.llm
    return Table(list(job.aspects), rows, llm.name if llm else "extractive", llm.model if llm else "", timings=timings)


def _safe_fill(paper: Paper, aspect: extractive.Aspect) -> Cell:
    try:
        return extractive.fill(paper, aspect)
    except Exception as e:  # one unreadable paper (a lost passage file) leaves one empty cell
        log.warning("table cell %s / %r failed", paper.id, aspect.text, exc_info=True)
        return Cell(aspect.text, extractive.NOT_STATED, False, source="error", note=f"the cell failed: {e}")


def _write(rows: list[Row], job: TableJob) -> None:
    """Each stated cell of these rows rewritten by the LLM, LLM_WORKERS at a time (in place)."""
    idf = job.reading.store.term_stats.idf
    todo = [(row, i) for row in rows for i, c in enumerate(row.cells) if c.stated]

    def one(item: tuple[Row, int]) -> Cell:
        row, i = item
        cell = row.cells[i]
        try:
            return writer.write_cell(job.llm, row.paper, cell, idf, job.timeout)
        except Exception as e:  # a bug or fault in one cell: that cell stays extractive
            log.warning("table cell %s / %r: the LLM writer failed", row.paper.id, cell.aspect, exc_info=True)
            return replace(cell, source="extractive-fallback", note=f"the cell could not be written: {e}")

    with ThreadPoolExecutor(LLM_WORKERS) as pool:
        for (row, i), cell in zip(todo, pool.map(one, todo)):
            row.cells[i] = cell
