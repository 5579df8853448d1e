"""Sync: the library mirrors its sources -- a folder of PDFs and bibliography files, a
zotero.sqlite, a .bib/.ris/CSL JSON file.

One sync of a source: its files are listed and stat-ed; a file whose size and modification
time are as recorded (registry.py) is not read; a new or changed one is read (an unchanged
PDF's bytes are hashed, not parsed; a PDF read before under another name is the same paper,
not embedded again); its papers are added or updated through the index's usual ingest; the
papers of files gone from the source, and entries gone from a changed file, are removed --
unless another source still holds them.  Papers added by `ingest` or an upload belong to no
source and are never removed by a sync.

A file that cannot be read is reported and keeps the papers it gave before; it is read again
when it changes.  A file modified less than `settle` seconds ago is left for the next sync (a
PDF still being written).  One sync at a time per index (a thread lock and a file lock):
two syncs at once run one after the other, so nothing is lost or added twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from assistant.index.destinations import ToIndex, changed
from assistant.index.errors import IndexBusy
from assistant.ingest.fulltext import PDF_ID_PREFIX, FullText, is_pdf, pdf_id
from assistant.ingest.reader import FileNote, FileReader, folder_files
from assistant.ingest.records import CollectionError, sort_stream
from assistant.library.registry import FileState, Registry
from assistant.settings import Settings
from assistant.types import IngestReport, LoadWarning, Paper, Rejection

log = logging.getLogger(__name__)

SYNC_WAIT = 900.0  # s a sync waits for another one on the same index before giving up
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@dataclass(frozen=True)
class SyncOptions:
    """`dry_run`: change nothing, say what would change; `settle`: leave files modified less
    than this many seconds ago for later; `progress(done, total)` counts papers written;
    `on_file(name, outcome)` hears about each file read."""

    dry_run: bool = False
    settle: float = 0.0
    progress: Callable[[int, int], None] | None = None
    on_file: FileNote | None = None


@dataclass
class SyncReport:
    """What one sync of one source did (or, with dry_run, would do)."""

    source: str
    kind: str = ""
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0  # papers of the source left as they were
    files_read: int = 0
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (file, the id it is indexed as)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (file, why it could not be read)
    waiting: list[str] = field(default_factory=list)  # files still being written: next time
    rejected: list[Rejection] = field(default_factory=list)  # entries that cannot be papers
    warnings: list[LoadWarning] = field(default_factory=list)
    passages_embedded: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""
        s = (
            f"{self.source}: {len(self.added)} {verb}added, {len(self.updated)} {verb}updated, "
            f"{len(self.removed)} {verb}removed, {self.unchanged} unchanged"
        )
        if not self.dry_run:
            s += f" ({self.files_read} files read, {self.passages_embedded} passages embedded in {self.seconds:.1f}s)"
        if self.failures:
            s += f"; {len(self.failures)} file(s) could not be read"
        if self.waiting:
            s += f"; {len(self.waiting)} file(s) still changing, left for the next sync"
        return s

    def to_dict(self) -> dict:
        d = asdict(self)
        d["renamed"] = [list(r) for r in self.renamed]
        d["failures"] = [list(f) for f in self.failures]
        d["seconds"] = round(self.seconds, 3)
        return d


def source_key(source: str | Path) -> str:
    """How a source is named in the registry: its absolute path."""
    return str(Path(source).expanduser().resolve())


def source_kind(path: Path) -> str:
    if path.is_dir():
        return "folder"
    return "zotero" if path.name.lower() == "zotero.sqlite" else "file"


class _Lock:
    """One sync at a time per index: in this process (threads) and across processes (a file lock)."""

    def __init__(self, root: Path):
        with _LOCKS_GUARD:
            self.thread_lock = _LOCKS.setdefault(str(root), threading.Lock())
        self.file_lock = FileLock(root / ".sync.lock", thread_local=False)

    def __enter__(self) -> _Lock:
        if not self.thread_lock.acquire(timeout=SYNC_WAIT):
            raise IndexBusy(f"another sync of this index has been running for over {SYNC_WAIT:.0f} s; try again later")
        try:
            self.file_lock.acquire(timeout=SYNC_WAIT)
        except Timeout:
            self.thread_lock.release()
            raise IndexBusy(
                f"another process has been syncing this index for over {SYNC_WAIT:.0f} s ({self.file_lock.lock_file}); "
                "wait for it to finish, then sync again"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        self.file_lock.release()
        self.thread_lock.release()


def sync(store, settings: Settings, sources: Iterable[str | Path], opts: SyncOptions) -> list[SyncReport]:
    """Sync each source (none given: every source the index remembers); see the module docstring.
    A source named that does not exist raises CollectionError; a remembered one that is gone is
    reported as a failure and its papers are kept."""
    registry = Registry(store.root)
    named = [source_key(s) for s in sources]
    for s in named:
        if not Path(s).exists():
            raise CollectionError(f"{s}: no such file or folder to sync")
    with _Lock(store.root):
        keys = named or [info.path for info in registry.sources()]
        reports = []
        for key in keys:
            if not Path(key).exists():
                gone = SyncReport(key, failures=[(key, "the source is gone (its papers are kept)")])
                reports.append(gone)
                continue
            reports.append(_sync_one(store, settings, registry, Path(key), opts))
    return reports


def file_stamp(path: Path) -> tuple[int, int]:
    """(size, modification time in ns) of a file; a zotero.sqlite's include its -wal file, where a
    running Zotero writes its changes first."""
    st = path.stat()
    size, mtime = st.st_size, st.st_mtime_ns
    if path.name.lower() == "zotero.sqlite":
        try:
            wal = Path(f"{path}-wal").stat()
            size, mtime = size + wal.st_size, max(mtime, wal.st_mtime_ns)
        except OSError:
            pass
    return size, mtime


@dataclass
class _Plan:
    """What a sync of one source has to do, from its files' sizes and modification times."""

    stats: dict[str, tuple[int, int]]  # every file of the source now: path -> (size, mtime_ns)
    bibliographies: list[Path]  # to read
    pdfs: list[Path]  # to read alone (not claimed by an entry)
    keep: dict[str, FileState]  # files left as they were recorded
    waiting: list[str]
    unclaimed: list[Path] = field(default_factory=list)  # PDFs an entry had: read alone if none has them now


def _plan(source: Path, old: dict[str, FileState], settle: float) -> _Plan:
    bibs, pdfs = folder_files(source) if source.is_dir() else ([], [source]) if is_pdf(source) else ([source], [])
    stats, keep, waiting, now = {}, {}, [], time.time()
    read_bibs, read_pdfs = [], []
    for f in bibs + pdfs:
        try:
            size, mtime_ns = file_stamp(f)
        except OSError:
            continue  # gone meanwhile
        key, stats[str(f)] = str(f), (size, mtime_ns)
        before = old.get(key)
        if settle and now - mtime_ns / 1e9 < settle:
            waiting.append(key)
            if before is not None:
                keep[key] = before
        elif before is not None and before.same_file(size, mtime_ns):
            keep[key] = before
        else:
            (read_bibs if f in bibs else read_pdfs).append(f)
    changed_pdfs = {str(p) for p in read_pdfs}
    for key, state in list(keep.items()):  # an entry whose attached PDF changed is read again
        if state.claims and changed_pdfs & set(state.claims):
            read_bibs.append(Path(key))
            del keep[key]
    unclaimed = [Path(k) for k, s in keep.items() if not s.papers and not s.error and k in {str(p) for p in pdfs}]
    return _Plan(stats, read_bibs, read_pdfs, keep, waiting, unclaimed)


class _Preview:
    """A destination that writes nothing: it only sorts papers into added, updated and unchanged."""

    full_text = True

    def __init__(self, store, settings: Settings):
        self.store, self.max_records = store, settings.max_records

    @property
    def stored(self):
        return self.store.snapshot.papers

    def write(self, items, report: IngestReport, size: int, total: int, progress) -> None:
        for item in sort_stream(items, report.rejected, report.warnings):
            changed(item.paper if isinstance(item, FullText) else item, self.store.snapshot.hashes, report)


@dataclass
class _Read:
    """What reading one file gave."""

    path: str
    where: str
    papers: list[str] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)  # a bibliography: the PDFs its entries attached
    error: str = ""
    renamed_to: str = ""


def _sync_one(store, settings: Settings, registry: Registry, source: Path, opts: SyncOptions) -> SyncReport:
    t0 = time.perf_counter()
    key, kind = str(source), source_kind(source)
    report = SyncReport(key, kind=kind, dry_run=opts.dry_run)
    store.catch_up()
    old = registry.files(key)
    plan = _plan(source, old, opts.settle)
    reads = _read_and_write(store, settings, source, plan, report, opts)
    states = dict(plan.keep)
    for r in reads:
        st = plan.stats[r.path]
        before = old.get(r.path)
        if r.error:  # kept as it was (a half-written or broken file keeps the papers it gave), read when it changes
            report.failures.append((r.where, r.error))
            states[r.path] = FileState(*st, before.papers if before else (), before.claims if before else (), r.error)
        else:
            states[r.path] = FileState(*st, tuple(dict.fromkeys(r.papers)), tuple(r.claims))
        if r.renamed_to:
            report.renamed.append((r.where, r.renamed_to))
    report.failures += [(_where(source, p), s.error) for p, s in plan.keep.items() if s.error]
    report.waiting = [_where(source, p) for p in plan.waiting]
    _remove_gone(store, registry, key, old, states, report)
    members = {pid for s in states.values() for pid in s.papers}
    report.unchanged = len(members - set(report.added) - set(report.updated))
    report.seconds = time.perf_counter() - t0
    if not opts.dry_run:
        registry.save(key, kind, states, report.to_dict())
    return report


def _where(source: Path, path: str) -> str:
    p = Path(path)
    return p.relative_to(source).as_posix() if source.is_dir() and p.is_relative_to(source) else p.name


def _read_and_write(store, settings: Settings, source: Path, plan: _Plan, report: SyncReport, opts) -> list[_Read]:
    """Read the plan's new and changed files and write their papers (nothing, with dry_run)."""
    if not plan.bibliographies and not plan.pdfs and not plan.unclaimed:
        return []
    into = _Preview(store, settings) if opts.dry_run else ToIndex(store, settings)
    ingest = IngestReport(source=str(source))
    reader = FileReader(settings, into, ingest, opts.on_file)
    reads: list[_Read] = []
    claimed = {c for s in plan.keep.values() for c in s.claims}

    def items() -> Iterator:
        for f in plan.bibliographies:
            r = _Read(str(f), _where(source, str(f)))
            reads.append(r)
            before = set(reader.claimed)
            yield from _tracked(reader.unique(reader.bibliography(f, r.where), r.where), r, named=True)
            r.claims = sorted(set(r.claims) | {str(p) for p in reader.claimed - before})
        taken = claimed | {str(p) for p in reader.claimed}  # kept bibliographies, and those just read
        for f in plan.pdfs + [p for p in plan.unclaimed if str(p.resolve()) not in taken]:
            r = _Read(str(f), _where(source, str(f)))
            reads.append(r)
            if str(f.resolve()) in taken:
                reader.note(r.where, "read with its bibliography entry")
                continue
            yield from _tracked(reader.unique(reader.pdf(f, r.where), r.where), r)
            if r.papers and r.papers[0] != pdf_id(f) and r.papers[0].startswith(PDF_ID_PREFIX):
                r.renamed_to = r.papers[0]

    into.write(items(), ingest, 0, 0, opts.progress)
    report.added, report.updated = ingest.added, ingest.updated
    report.rejected = [r for r in ingest.rejected if r.record not in {x.where for x in reads}]
    report.warnings = ingest.warnings
    report.passages_embedded = ingest.passages_embedded
    report.files_read = len(reads)
    return reads


def _tracked(items: Iterator, r: _Read, named: bool = False) -> Iterator:
    """The items of one file, noting the ids of its papers and whether the file itself failed;
    `named`: also the PDFs its entries name, found or not (one that appears later is the
    entry's, so the file is read again then)."""
    for item in items:
        if isinstance(item, Rejection) and item.record == r.where:
            r.error = item.reason
        elif isinstance(item, (Paper, FullText)):
            paper = item.paper if isinstance(item, FullText) else item
            r.papers.append(paper.id)
            if named and paper.pdf_path:
                r.claims.append(str(Path(paper.pdf_path).expanduser().resolve()))
        yield item


def _remove_gone(store, registry: Registry, key: str, old: dict[str, FileState], states, report: SyncReport) -> None:
    """Remove the papers this source held before and holds no more, unless another source holds them."""
    before = {pid for s in old.values() for pid in s.papers}
    now = {pid for s in states.values() for pid in s.papers}
    gone = (before - now) - registry.held_elsewhere(key)
    gone = sorted(pid for pid in gone if pid in store.snapshot.papers)
    if gone and not report.dry_run:
        gone = store.remove(gone)
    report.removed = gone
