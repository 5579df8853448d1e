"""Papers in: a file (any format ingest/records.py reads), a PDF, a folder of them, or
records, into a destination (ingest/destinations.py: the index or a session's own papers),
as an IngestReport.

A file is read as a stream and written in batches, so a bulk dump of any size ingests in
bounded memory: unchanged papers (same content hash) cost nothing, changed ones replace
their passages.  With `strict`, a file is read twice: once to find any bad record (then
nothing is added), once to add.

PDFs (ingest/fulltext.py): a PDF alone is a paper of its own; a bibliography entry whose
attachment exists is indexed with the full text of that PDF (setting read_attachments) and
keeps its own metadata.  An unchanged PDF (same bytes) is not parsed.  A folder: every
bibliography file in it, recursively (.bib, .ris, .json, .jsonl, .csv, .tsv and
zotero.sqlite; hidden files and folders are skipped), then every PDF no entry claimed, alone.
A file that cannot be read is one rejection, named by its path in the folder, and the rest
are added.  `on_file(name, outcome)` is told about each file of a folder as it is read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.formats.sources import Input, ReadLimits
from assistant.ingest.fulltext import is_pdf
from assistant.ingest.items import Destination, Item, Progress
from assistant.ingest.reader import FileNote, FileReader
from assistant.ingest.records import CollectionError, SeenIds, duplicate, iter_papers, normalize_record
from assistant.settings import Settings
from assistant.types import IngestReport, LoadWarning, Paper, Rejection


@dataclass(frozen=True)
class Intake:
    """How to add: where to (`into`), with which settings, `progress(done, total)` and
    `on_file(name, outcome)` callbacks; `strict`: any bad record refuses the whole file."""

    into: Destination
    settings: Settings
    progress: Progress | None = None
    strict: bool = False
    on_file: FileNote | None = None


def add(source: str | Path | Iterable[dict | Paper], how: Intake) -> IngestReport:
    """Add the papers of a file, a PDF, a folder or records (PaperAssistant.add_papers says how)."""
    t0 = time.perf_counter()
    path = Path(source) if isinstance(source, (str, Path)) else None
    if path is not None and (path.is_dir() or (path.is_file() and is_pdf(path))):
        report = _add_pdfs(path, how)
    else:
        report = _add_file(source, how)
    report.seconds = time.perf_counter() - t0
    return report


# --- papers files and records -------------------------------------------------------------------


class _Source:
    """A file or a list of records, readable more than once (`strict` reads it twice)."""

    def __init__(
        self, source: str | Path | Iterable[dict | Paper], settings: Settings, strict: bool, limits: ReadLimits
    ):
        self.settings, self.strict, self.limits = settings, strict, limits
        self.path = Path(source) if isinstance(source, (str, Path)) else None
        self.records = None if self.path is not None else list(source)
        self.name = self.path.name if self.path is not None else "records"
        self.size = self.path.stat().st_size if self.path is not None and self.path.exists() else 0
        if self.size and limits.bytes_setting == "session_mb":  # a visitor's room counts what a file holds
            self.size = content_size(Input(self.name, path=self.path), limits)
        self.count = len(self.records) if self.records is not None else 0  # records, once read
        self.format = ""

    def items(self) -> Iterator[Paper | Rejection | LoadWarning]:
        if self.records is not None:
            return _records(self.records, self.settings.max_abstract_chars, self.strict)
        stream = iter_papers(
            self.path, max_abstract_chars=self.settings.max_abstract_chars, strict=self.strict, limits=self.limits
        )
        self.format, self.count = stream.format, stream.count
        return iter(stream)


def _add_file(source, how: Intake) -> IngestReport:
    # A file is refused before it is parsed when it holds more records than the destination
    # may take (a visitor's compressed dump must not cost the server its parsing).
    src = _Source(source, how.settings, how.strict, read_limits(how.settings, how.into))
    if how.strict:
        bad = [item for item in src.items() if isinstance(item, Rejection)]
        if bad:
            _refuse_strict(src.name, bad)
    report = IngestReport(source=src.name)
    items = FileReader(how.settings, how.into, report, how.on_file).entries(src.items())
    report.format = src.format
    how.into.write(items, report, src.size, src.count, how.progress)
    if not (report.added or report.updated or report.unchanged or report.rejected):
        raise CollectionError(f"{src.name}: no paper records found")
    return report


def content_size(src: Input, limits: ReadLimits) -> int:
    """Bytes a file holds once decompressed, read (and refused past the limit) in chunks."""
    if not src.compression():
        return src.path.stat().st_size if src.path is not None else len(src.data or b"")
    total = 0
    with src.binary(limits) as f:
        while chunk := f.read(1 << 20):
            total += len(chunk)
    return total


def read_limits(settings: Settings, into: Destination) -> ReadLimits:
    """What one file may cost to read into `into`: the settings' limits, and a visitor's room
    (a session destination's `max_bytes`: decompressed bytes, not the upload's size)."""
    room = getattr(into, "max_bytes", None)
    total = settings.max_decompressed_mb * 1e6
    session = room is not None and room < total
    return ReadLimits(
        max_mb=settings.max_file_mb,
        max_records=max(1, into.max_records),
        max_bytes=room if session else total,
        bytes_setting="session_mb" if session else "max_decompressed_mb",
        max_line=int(settings.max_line_mb * 1e6),
        databases=getattr(into, "databases", True),
    )


def _refuse_strict(name: str, bad: list[Rejection]) -> None:
    shown = "; ".join(f"{r.record}: {r.reason}" for r in bad[:5])
    more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
    raise CollectionError(f"{name}: {len(bad)} bad record(s), nothing added (strict): {shown}{more}")


# --- PDFs and folders -----------------------------------------------------------------------------


def _add_pdfs(path: Path, how: Intake) -> IngestReport:
    """One PDF, or a folder: progress counts files, not papers."""
    folder = path.is_dir()
    report = IngestReport(source=path.name or str(path), format="folder" if folder else "pdf")
    reader = FileReader(how.settings, how.into, report, how.on_file)
    items: Iterable[Item] = reader.folder(path, how.progress) if folder else reader.pdf(path, path.name)
    if not folder or how.strict:  # one file, or nothing unless all is well: read everything first
        items = list(items)
        bad = [item for item in items if isinstance(item, Rejection)]
        if bad and not folder:  # a file that cannot be read changes nothing, as for any papers file
            raise CollectionError(f"{path.name}: {bad[0].reason}")
        if bad:
            _refuse_strict(report.source, bad)
    size = sum(f.stat().st_size for f in reader.files) if folder else path.stat().st_size
    how.into.write(iter(items), report, size, 0, passages_only(how.progress))
    if folder and not reader.files:
        raise CollectionError(f"{path}: no PDFs or bibliography files in the folder")
    return report


def passages_only(progress: Progress | None) -> Progress | None:
    """For PDFs, where `progress` counts files: only its passages callback, if it has one."""
    passages = getattr(progress, "passages", None)
    if passages is None:
        return None

    def files_counted_elsewhere(done: int, total: int) -> None:
        pass

    files_counted_elsewhere.passages = passages
    return files_counted_elsewhere


def _records(
    records: list[dict | Paper], max_abstract_chars: int, strict: bool
) -> Iterator[Paper | Rejection | LoadWarning]:
    seen = SeenIds()
    for i, r in enumerate(records, 1):
        try:
            p = r if isinstance(r, Paper) else normalize_record(r, max_abstract_chars, strict=strict)
        except ValueError as e:
            yield Rejection(f"record {i}", str(e))
            continue
        first = seen.first(p.id, f"record {i}")
        if first is not None:
            yield duplicate(p.id, f"record {i}", first)
            continue
        yield p
        if not p.abstract:
            yield LoadWarning(f"record {i}", p.id, "no_abstract", "no abstract: found by its title and metadata only")
