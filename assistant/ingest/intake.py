"""Papers in: a file (any format `assistant.papers` reads), a PDF, a folder of them, or
records, into the index or a session's own papers, as an IngestReport.

A file is read as a stream and written in batches, so a bulk dump of any size ingests in
bounded memory: unchanged papers (same content hash) cost nothing, changed ones replace
their passages.  With `strict`, a file is read twice: once to find any bad record (then
nothing is added), once to add.

PDFs (assistant/fulltext.py): a PDF alone is a paper of its own; a bibliography entry whose
attachment exists is indexed with the full text of that PDF (setting read_attachments) and
keeps its own metadata.  An unchanged PDF (same bytes) is not parsed.  A folder: every
bibliography file in it, recursively (.bib, .ris, .json, .jsonl, .csv, .tsv and
zotero.sqlite; hidden files and folders are skipped), then every PDF no entry claimed, alone.
A file that cannot be read is one rejection, named by its path in the folder, and the rest
are added.  `on_file(name, outcome)` is told about each file of a folder as it is read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

from assistant.formats.pdf import PdfError
from assistant.index import Store
from assistant.index.ingest import BATCH_PASSAGES_PER_PAPER
from assistant.index.session import SessionPapers
from assistant.ingest.fulltext import (
    PDF_ID_PREFIX,
    FullText,
    file_hash,
    is_pdf,
    pdf_id,
    read_full_text,
    unchanged_paper,
)
from assistant.ingest.records import CollectionError, iter_papers, normalize_record, sort_stream
from assistant.settings import Settings
from assistant.types import IngestReport, LoadWarning, Paper, Passage, Rejection

Progress = Callable[[int, int], None]
FileNote = Callable[[str, str], None]  # (file, what happened to it): once per file of a folder
Item = Paper | FullText | Rejection | LoadWarning

FLUSH_BATCHES = 4  # papers held before writing: this many ingest batches (the store embeds while it writes)
BIBLIOGRAPHY = {".bib", ".bibtex", ".biblatex", ".ris", ".json", ".jsonl", ".ndjson", ".csv", ".tsv"}


def add(
    source: str | Path | Iterable[dict | Paper],
    settings: Settings,
    store: Store,
    session: SessionPapers | None = None,
    progress: Progress | None = None,
    strict: bool = False,
    on_file: FileNote | None = None,
) -> IngestReport:
    t0 = time.perf_counter()
    path = Path(source) if isinstance(source, (str, Path)) else None
    if path is not None and (path.is_dir() or (path.is_file() and is_pdf(path))):
        report = _add_pdfs(path, settings, store, session, progress, strict, on_file)
    else:
        report = _add_file(source, settings, store, session, progress, strict, on_file)
    report.seconds = time.perf_counter() - t0
    return report


# --- papers files and records -------------------------------------------------------------------


class _Source:
    """A file or a list of records, readable more than once (`strict` reads it twice)."""

    def __init__(self, source: str | Path | Iterable[dict | Paper], settings: Settings, strict: bool, max_records: int):
        self.settings, self.strict, self.max_records = settings, strict, max_records
        self.path = Path(source) if isinstance(source, (str, Path)) else None
        self.records = None if self.path is not None else list(source)
        self.name = self.path.name if self.path is not None else "records"
        self.size = self.path.stat().st_size if self.path is not None and self.path.exists() else 0
        self.count = len(self.records) if self.records is not None else 0  # records, once read
        self.format = ""

    def items(self) -> Iterator[Paper | Rejection | LoadWarning]:
        if self.records is not None:
            return _records(self.records, self.settings.max_abstract_chars, self.strict)
        s = self.settings
        stream = iter_papers(
            self.path,
            max_file_mb=s.max_file_mb,
            max_records=self.max_records,
            max_abstract_chars=s.max_abstract_chars,
            strict=self.strict,
        )
        self.format, self.count = stream.format, stream.count
        return iter(stream)


def _add_file(
    source,
    settings: Settings,
    store: Store,
    session: SessionPapers | None,
    progress: Progress | None,
    strict: bool,
    on_file: FileNote | None,
) -> IngestReport:
    # A session's file is refused before it is parsed when it holds more records than the
    # session may add (a visitor's compressed dump must not cost the server its parsing).
    limit = min(settings.max_records, session.max_papers) if session is not None else settings.max_records
    src = _Source(source, settings, strict, max(1, limit))
    if strict:
        bad = [item for item in src.items() if isinstance(item, Rejection)]
        if bad:
            _refuse_strict(src.name, bad)
    report = IngestReport(source=src.name)
    reader = _Reader(settings, _stored(store, session), report, on_file, full_text=session is None)
    items = reader.entries(src.items())
    report.format = src.format
    if session is not None:
        _add_to_session(items, report, session, set(store.snapshot.papers), src.size)
    else:
        _add_to_store(items, report, store, settings, src.count, progress)
    if not (report.added or report.updated or report.unchanged or report.rejected):
        raise CollectionError(f"{src.name}: no paper records found")
    return report


def _refuse_strict(name: str, bad: list[Rejection]) -> None:
    shown = "; ".join(f"{r.record}: {r.reason}" for r in bad[:5])
    more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
    raise CollectionError(f"{name}: {len(bad)} bad record(s), nothing added (strict): {shown}{more}")


# --- PDFs and folders -----------------------------------------------------------------------------


def _add_pdfs(
    path: Path,
    settings: Settings,
    store: Store,
    session: SessionPapers | None,
    progress: Progress | None,
    strict: bool,
    on_file: FileNote | None,
) -> IngestReport:
    """One PDF, or a folder: progress counts files, not papers."""
    folder = path.is_dir()
    report = IngestReport(source=path.name or str(path), format="folder" if folder else "pdf")
    reader = _Reader(settings, _stored(store, session), report, on_file, full_text=session is None)
    items: Iterable[Item] = reader.folder(path, progress) if folder else reader.pdf(path, path.name)
    if not folder or strict:  # one file, or nothing unless all is well: read everything first
        items = list(items)
        bad = [item for item in items if isinstance(item, Rejection)]
        if bad and not folder:  # a file that cannot be read changes nothing, as for any papers file
            raise CollectionError(f"{path.name}: {bad[0].reason}")
        if bad:
            _refuse_strict(report.source, bad)
    if session is not None:
        _add_to_session(
            iter(items),
            report,
            session,
            set(store.snapshot.papers),
            sum(f.stat().st_size for f in reader.files) if folder else path.stat().st_size,
        )
    else:
        _add_to_store(iter(items), report, store, settings, 0, None)
    if folder and not reader.files:
        raise CollectionError(f"{path}: no PDFs or bibliography files in the folder")
    return report


def _stored(store: Store, session: SessionPapers | None) -> Mapping[str, Paper]:
    return session.papers if session is not None else store.snapshot.papers


class _Reader:
    """Turns PDFs, bibliography files and folders into items: papers (with their full text
    when they have a PDF), rejections and warnings.  Knows the stored papers, so an unchanged
    PDF is not parsed.  With `full_text` off (a session's own papers), a PDF gives only its
    title, authors and abstract, and attachments are not read."""

    def __init__(
        self,
        settings: Settings,
        stored: Mapping[str, Paper],
        report: IngestReport,
        on_file: FileNote | None = None,
        full_text: bool = True,
    ):
        self.settings, self.stored, self.report, self.on_file = settings, stored, report, on_file
        self.full_text = full_text
        self.claimed: set[Path] = set()  # PDFs read through an entry
        self._by_hash: dict[str, Paper] | None = None  # stored PDFs read alone, by the hash of their bytes
        self._read_now: dict[str, str] = {}  # hash of the bytes -> where, of the PDFs read in this run
        self.seen: dict[str, str] = {}  # paper id -> where it was first read (a folder's files)
        self.files: list[Path] = []

    def note(self, where: str, outcome: str) -> None:
        if self.on_file is not None:
            self.on_file(where, outcome)

    # -- one PDF ------------------------------------------------------------------------------
    def pdf(self, path: Path, where: str) -> Iterator[Item]:
        try:
            text_hash = file_hash(path)
        except OSError as e:
            yield self._reject(where, path, f"{path.name}: cannot be read ({e.strerror or e})")
            return
        if text_hash in self._read_now:
            yield self._reject(where, path, f"the same file as {self._read_now[text_hash]} (identical bytes)")
            return
        self._read_now[text_hash] = where
        same = unchanged_paper(self.stored.get(pdf_id(path)), text_hash) or self._renamed(text_hash)
        if same is not None:
            self.note(where, "unchanged" if same.id == pdf_id(path) else f"unchanged (indexed as {same.id})")
            yield same
            return
        try:
            got = self._read(path, text_hash)
        except PdfError as e:
            yield self._reject(where, path, str(e))
            return
        if not self.full_text:
            paper = replace(got.paper, pages=0, text_hash="", pdf_path="")
            self.note(where, "read (title and abstract only)")
            yield paper
            if not paper.abstract:
                yield LoadWarning(where, paper.id, "no_abstract", "no abstract: found by its title only")
            return
        self.note(where, f"{got.paper.pages} pages, {len(got.body)} passages")
        yield got

    def _renamed(self, text_hash: str) -> Paper | None:
        """A PDF read alone before under another name: the same paper, not a second copy of it."""
        if self._by_hash is None:
            self._by_hash = {
                p.text_hash: p
                for p in self.stored.values()
                if p.text_hash and p.id.startswith(PDF_ID_PREFIX) and p.full_text
            }
        return self._by_hash.get(text_hash)

    def _read(self, path: Path, text_hash: str, entry: Paper | None = None) -> FullText:
        s = self.settings
        got = read_full_text(path, text_hash, s.chunk_words, s.max_pages, s.max_abstract_chars, entry)
        self.report.pdfs_read += 1
        self.report.pages_read += got.paper.pages
        return got

    def _reject(self, where: str, path: Path, message: str) -> Rejection:
        reason = message[len(path.name) + 2 :] if message.startswith(f"{path.name}: ") else message
        self.note(where, f"rejected: {reason}")
        return Rejection(where, reason)

    # -- entries with attachments ---------------------------------------------------------------
    def entries(self, items: Iterable[Paper | Rejection | LoadWarning], prefix: str = "") -> Iterator[Item]:
        """A bibliography file's items, an entry whose PDF exists with its full text (its
        "no abstract" warning then dropped: it is found by its body)."""
        full: set[str] = set()
        for item in items:
            if isinstance(item, Rejection):
                yield Rejection(prefix + item.record, item.reason)
            elif isinstance(item, LoadWarning):
                if not (item.kind == "no_abstract" and item.paper_id in full):
                    yield replace(item, record=prefix + item.record)
            elif item.pdf_path and self.full_text and self.settings.read_attachments:
                for out in self._attachment(item, prefix):
                    if isinstance(out, FullText):
                        full.add(out.paper.id)
                    yield out
            else:
                yield item

    def _attachment(self, entry: Paper, prefix: str) -> Iterator[Item]:
        where = f"{prefix}entry {entry.id!r}"
        path = Path(entry.pdf_path).expanduser()
        if not path.is_file():
            yield entry
            yield LoadWarning(
                where, entry.id, "pdf", f"attachment {entry.pdf_path} not found: indexed without its full text"
            )
            return
        self.claimed.add(path.resolve())
        try:
            text_hash = file_hash(path)
            same = unchanged_paper(self.stored.get(entry.id), text_hash, entry)
            got = same or self._read(path, text_hash, entry)
        except (PdfError, OSError) as e:
            self.note(str(path), f"not read: {e}")
            yield entry
            yield LoadWarning(where, entry.id, "pdf", f"attachment not read, indexed without its full text: {e}")
            return
        if isinstance(got, Paper):
            self.note(str(path), "unchanged")
        else:
            self.note(str(path), f"{got.paper.pages} pages, {len(got.body)} passages (entry {entry.id!r})")
        yield got

    # -- folders --------------------------------------------------------------------------------
    def folder(self, folder: Path, progress: Progress | None) -> Iterator[Item]:
        files = sorted(
            f
            for f in folder.rglob("*")
            if f.is_file() and not any(part.startswith(".") for part in f.relative_to(folder).parts)
        )
        bibliographies = [f for f in files if f.suffix.lower() in BIBLIOGRAPHY or f.name.lower() == "zotero.sqlite"]
        pdfs = [f for f in files if f.suffix.lower() == ".pdf"]
        self.files = bibliographies + pdfs
        done = 0
        for f in self.files:
            where = f.relative_to(folder).as_posix()
            if f in pdfs and f.resolve() in self.claimed:
                self.note(where, "read with its bibliography entry")
            else:
                yield from self._unique(
                    self._bibliography(f, where) if f in bibliographies else self.pdf(f, where), where
                )
            done += 1
            if progress:
                progress(done, len(self.files))

    def _bibliography(self, path: Path, where: str) -> Iterator[Item]:
        s = self.settings
        try:
            stream = iter_papers(
                path, max_file_mb=s.max_file_mb, max_records=s.max_records, max_abstract_chars=s.max_abstract_chars
            )
            n = 0
            for item in self.entries(stream, prefix=f"{where}: "):
                n += isinstance(item, (Paper, FullText))
                yield item
            self.note(where, f"{n} entries")
        except CollectionError as e:
            yield self._reject(where, path, str(e))

    def _unique(self, items: Iterator[Item], where: str) -> Iterator[Item]:
        """Ids must be unique across a folder's files: a second paper with an id is rejected."""
        for item in items:
            paper = item.paper if isinstance(item, FullText) else item
            if isinstance(paper, Paper):
                first = self.seen.setdefault(paper.id, where)
                if first != where:
                    yield Rejection(where, f"duplicate id {paper.id!r} (first in {first})")
                    continue
            yield item


# --- writing --------------------------------------------------------------------------------------


def _add_to_store(
    items: Iterator[Item], report: IngestReport, store: Store, settings: Settings, total: int, progress: Progress | None
) -> None:
    flush_at = FLUSH_BATCHES * settings.ingest_batch
    flush_passages = flush_at * BATCH_PASSAGES_PER_PAPER  # full text: as many passages as that many abstracts
    pending: list[Paper] = []
    bodies: dict[str, list[Passage]] = {}
    pdfs: dict[str, tuple[Path, str]] = {}  # paper id -> (its PDF, the hash of its bytes)
    held = 0  # body passages pending
    seen = 0  # papers done: unchanged, or written

    def flush() -> None:
        nonlocal seen, held
        base = seen
        for pid, (source, text_hash) in pdfs.items():  # the copy the app serves (by hash: never half-replaced)
            try:
                store.keep_pdf(source, text_hash)
            except OSError as e:
                report.warnings.append(
                    LoadWarning(source.name, pid, "pdf", f"no copy of the PDF kept in the index ({e})")
                )
        report.passages_embedded += store.upsert(
            pending,
            progress=(lambda d, t: progress(base + d, max(total, base + t))) if progress else None,
            bodies=bodies,
        )
        seen += len(pending)
        pending.clear()
        bodies.clear()
        pdfs.clear()
        held = 0

    for item in sort_stream(items, report.rejected, report.warnings):
        paper = item.paper if isinstance(item, FullText) else item
        if _changed(paper, store.snapshot.hashes, report):
            pending.append(paper)
            if isinstance(item, FullText):
                bodies[paper.id], pdfs[paper.id] = item.body, (item.source, paper.text_hash)
                held += len(item.body)
            if len(pending) >= flush_at or held >= flush_passages:
                flush()
        else:
            seen += 1
    if pending:
        flush()
    if progress:
        progress(seen, seen)


def _add_to_session(
    items: Iterator[Item], report: IngestReport, session: SessionPapers, taken: set[str], size: int
) -> None:
    todo = []
    for item in sort_stream(items, report.rejected, report.warnings):
        paper = session.own_id(item.paper if isinstance(item, FullText) else item, taken)
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


def _records(
    records: list[dict | Paper], max_abstract_chars: int, strict: bool
) -> Iterator[Paper | Rejection | LoadWarning]:
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
