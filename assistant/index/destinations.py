"""Where added papers go (ingest.intake.Destination): the shared index (`ToIndex`), or a
private() view's own papers (`ToSession`, in memory, never written)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from assistant.index import Store
from assistant.index.ingest import BATCH_PASSAGES_PER_PAPER
from assistant.index.session import SessionPapers
from assistant.ingest.fulltext import FullText
from assistant.ingest.items import Item, Progress
from assistant.ingest.records import sort_stream
from assistant.settings import Settings
from assistant.types import IngestReport, LoadWarning, Paper, Passage

FLUSH_BATCHES = 4  # papers held before writing: this many ingest batches (the store embeds while it writes)


class ToIndex:
    """Into the shared index, in batches, embedding while it writes."""

    full_text = True

    def __init__(self, store: Store, settings: Settings):
        self.store, self.settings = store, settings
        self.max_records = settings.max_records

    @property
    def stored(self) -> Mapping[str, Paper]:
        return self.store.snapshot.papers

    def write(self, items: Iterator[Item], report: IngestReport, size: int, total: int, progress: Progress | None):
        batch = _Batch(self.store, report, total, progress)
        flush_at = FLUSH_BATCHES * self.settings.ingest_batch
        flush_passages = flush_at * BATCH_PASSAGES_PER_PAPER  # full text: as many passages as that many abstracts
        for item in sort_stream(items, report.rejected, report.warnings):
            paper = item.paper if isinstance(item, FullText) else item
            if not changed(paper, self.store.snapshot.hashes, report):
                batch.seen += 1
                continue
            batch.add(item)
            if len(batch.pending) >= flush_at or batch.held >= flush_passages:
                batch.flush()
        batch.flush()
        if progress:
            progress(batch.seen, batch.seen)


class _Batch:
    """Papers waiting to be written, with their bodies and the PDFs the index keeps a copy of."""

    def __init__(self, store: Store, report: IngestReport, total: int, progress: Progress | None):
        self.store, self.report, self.total, self.progress = store, report, total, progress
        self.pending: list[Paper] = []
        self.bodies: dict[str, list[Passage]] = {}
        self.pdfs: dict[str, tuple[Path, str]] = {}  # paper id -> (its PDF, the hash of its bytes)
        self.held = 0  # body passages pending
        self.seen = 0  # papers done: unchanged, or written

    def add(self, item: Paper | FullText) -> None:
        paper = item.paper if isinstance(item, FullText) else item
        self.pending.append(paper)
        if isinstance(item, FullText):
            self.bodies[paper.id], self.pdfs[paper.id] = item.body, (item.source, paper.text_hash)
            self.held += len(item.body)

    def flush(self) -> None:
        if not self.pending:
            return
        base, progress, total = self.seen, self.progress, self.total
        for pid, (source, text_hash) in self.pdfs.items():  # the copy the app serves (by hash: never half-replaced)
            try:
                self.store.keep_pdf(source, text_hash)
            except OSError as e:
                self.report.warnings.append(
                    LoadWarning(source.name, pid, "pdf", f"no copy of the PDF kept in the index ({e})")
                )
        self.report.passages_embedded += self.store.upsert(
            self.pending, progress=offset(progress, base, total), bodies=self.bodies
        )
        self.seen += len(self.pending)
        self.pending, self.bodies, self.pdfs, self.held = [], {}, {}, 0


def offset(progress: Progress | None, base: int, total: int) -> Progress | None:
    """`progress` for papers counted from `base`, keeping its `passages` callback (index/ingest.py)."""
    if progress is None:
        return None

    def show(done: int, of: int) -> None:
        progress(base + done, max(total, base + of))

    show.passages = getattr(progress, "passages", None)
    return show


class ToSession:
    """Into a private() view's own papers: ids that cannot shadow the index's, within the
    session's limits (checked before anything is embedded)."""

    full_text = False

    def __init__(self, session: SessionPapers, taken: set[str], settings: Settings):
        self.session, self.taken = session, taken
        self.max_records = min(settings.max_records, session.max_papers)
        self.databases = False  # a visitor's file is never read as a database, whatever it is called

    @property
    def max_bytes(self) -> float:
        """Bytes a file may still bring (decompressed): the session's room."""
        return max(0.0, self.session.max_bytes - self.session.bytes_added)

    @property
    def stored(self) -> Mapping[str, Paper]:
        return self.session.papers

    def write(self, items: Iterator[Item], report: IngestReport, size: int, total: int, progress: Progress | None):
        todo = []
        for item in sort_stream(items, report.rejected, report.warnings):
            paper = self.session.own_id(item.paper if isinstance(item, FullText) else item, self.taken)
            if changed(paper, self.session.hashes, report):
                todo.append(paper)
        self.session.check_room(len(report.added), size)
        report.passages_embedded = self.session.add(todo, size)


def changed(paper: Paper, hashes: dict[str, str], report: IngestReport) -> bool:
    """Whether a paper is new or changed (reported as added, updated or unchanged)."""
    old = hashes.get(paper.id)
    if old == paper.content_hash():
        report.unchanged.append(paper.id)
        return False
    (report.updated if old else report.added).append(paper.id)
    return True
