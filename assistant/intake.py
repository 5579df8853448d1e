"""Papers in: a file (any format `assistant.papers` reads) or records, into the index or a
session's own papers, as an IngestReport.

A file is read as a stream and written in batches, so a bulk dump of any size ingests in
bounded memory: unchanged papers (same content hash) cost nothing, changed ones replace
their passages.  With `strict`, the file is read twice: once to find any bad record (then
nothing is added), once to add.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .index import Store
from .papers import CollectionError, iter_papers, normalize_record
from .session import SessionPapers
from .settings import Settings
from .types import IngestReport, LoadWarning, Paper, Rejection

Progress = Callable[[int, int], None]
Item = Paper | Rejection | LoadWarning

FLUSH_BATCHES = 4  # papers held before writing: this many ingest batches (the store embeds while it writes)


class _Source:
    """A file or a list of records, readable more than once (`strict` reads it twice)."""

    def __init__(self, source: str | Path | Iterable[dict | Paper], settings: Settings, strict: bool,
                 max_records: int):
        self.settings, self.strict, self.max_records = settings, strict, max_records
        self.path = Path(source) if isinstance(source, (str, Path)) else None
        self.records = None if self.path is not None else list(source)
        self.name = self.path.name if self.path is not None else "records"
        self.size = self.path.stat().st_size if self.path is not None and self.path.exists() else 0
        self.count = len(self.records) if self.records is not None else 0  # records, once read
        self.format = ""

    def items(self) -> Iterator[Item]:
        if self.records is not None:
            return _records(self.records, self.settings.max_abstract_chars, self.strict)
        s = self.settings
        stream = iter_papers(self.path, max_file_mb=s.max_file_mb, max_records=self.max_records,
                             max_abstract_chars=s.max_abstract_chars, strict=self.strict)
        self.format, self.count = stream.format, stream.count
        return iter(stream)


def add(source: str | Path | Iterable[dict | Paper], settings: Settings, store: Store,
        session: SessionPapers | None = None, progress: Progress | None = None, strict: bool = False) -> IngestReport:
    t0 = time.perf_counter()
    # A session's file is refused before it is parsed when it holds more records than the
    # session may add (a visitor's compressed dump must not cost the server its parsing).
    limit = min(settings.max_records, session.max_papers) if session is not None else settings.max_records
    src = _Source(source, settings, strict, max(1, limit))
    if strict:
        bad = [item for item in src.items() if isinstance(item, Rejection)]
        if bad:
            shown = "; ".join(f"{r.record}: {r.reason}" for r in bad[:5])
            more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
            raise CollectionError(f"{src.name}: {len(bad)} bad record(s), nothing added (strict): {shown}{more}")
    report = IngestReport(source=src.name)
    items = src.items()
    report.format = src.format
    if session is not None:
        _add_to_session(items, report, session, set(store.snapshot.papers), src.size)
    else:
        _add_to_store(items, report, store, FLUSH_BATCHES * settings.ingest_batch, src.count, progress)
    if not (report.added or report.updated or report.unchanged or report.rejected):
        raise CollectionError(f"{src.name}: no paper records found")
    report.seconds = time.perf_counter() - t0
    return report


def _add_to_store(items: Iterator[Item], report: IngestReport, store: Store, flush_at: int, total: int,
                  progress: Progress | None) -> None:
    pending: list[Paper] = []
    seen = 0  # papers done: unchanged, or written

    def flush() -> None:
        nonlocal seen
        base = seen
        report.passages_embedded += store.upsert(
            pending, progress=(lambda d, t: progress(base + d, max(total, base + t))) if progress else None)
        seen += len(pending)
        pending.clear()

    for item in items:
        if isinstance(item, Rejection):
            report.rejected.append(item)
        elif isinstance(item, LoadWarning):
            report.warnings.append(item)
        elif _changed(item, store.snapshot.hashes, report):
            pending.append(item)
            if len(pending) >= flush_at:
                flush()
        else:
            seen += 1
    if pending:
        flush()
    if progress:
        progress(seen, seen)


def _add_to_session(items: Iterator[Item], report: IngestReport, session: SessionPapers, taken: set[str],
                    size: int) -> None:
    todo = []
    for item in items:
        if isinstance(item, Rejection):
            report.rejected.append(item)
        elif isinstance(item, LoadWarning):
            report.warnings.append(item)
        else:
            paper = session.own_id(item, taken)
            if _changed(paper, session.hashes, report):
                todo.append(paper)
    session.check_room(len(report.added), size)
    report.passages_embedded = session.add(todo, size)


def _changed(paper: Paper, hashes: dict[str, str], report: IngestReport) -> bool:
    old = hashes.get(paper.id)
    if old == paper.content_hash():
        report.unchanged.append(paper.id)
        return False
    (report.updated if old else report.added).append(paper.id)
    return True


def _records(records: list[dict | Paper], max_abstract_chars: int, strict: bool) -> Iterator[Item]:
    seen: set[str] = set()
    for i, r in enumerate(records, 1):
        try:
            p = r if isinstance(r, Paper) else normalize_record(r, max_abstract_chars, strict=strict)
        except ValueError as e:
            yield Rejection(f"record {i}", str(e))
            continue
        if p.id in seen:
            yield Rejection(f"record {i}", f"duplicate id {p.id!r}")
            continue
        seen.add(p.id)
        yield p
        if not p.abstract:
            yield LoadWarning(f"record {i}", p.id, "no_abstract", "no abstract: found by its title and metadata only")
