"""Files into items: a PDF (its full text, or an unchanged stored paper without parsing it),
a bibliography's entries (an entry whose attachment exists gets the PDF's body) and a
folder of both, as papers, rejections and warnings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from assistant.formats.pdf import PdfError
from assistant.formats.pdf_worker import Budget
from assistant.ingest.fulltext import PDF_ID_PREFIX, FullText, file_hash, pdf_id, read_full_text, unchanged_paper
from assistant.ingest.items import Destination, Item, Progress
from assistant.ingest.records import CollectionError, SeenIds, duplicate, iter_papers
from assistant.settings import Settings
from assistant.types import IngestReport, LoadWarning, Paper, Rejection

FileNote = Callable[[str, str], None]  # (file, what happened to it): once per file of a folder
BIBLIOGRAPHY = {".bib", ".bibtex", ".biblatex", ".ris", ".json", ".jsonl", ".ndjson", ".csv", ".tsv"}


class FileReader:
    """Turns PDFs, bibliography files and folders into items: papers (with their full text
    when they have a PDF), rejections and warnings.  Knows the stored papers, so an unchanged
    PDF is not parsed.  With `full_text` off (a session's own papers), a PDF gives only its
    title, authors and abstract, and attachments are not read."""

    def __init__(self, settings: Settings, into: Destination, report: IngestReport, on_file: FileNote | None = None):
        self.settings, self.stored, self.report, self.on_file = settings, into.stored, report, on_file
        self.full_text = into.full_text
        self.claimed: set[Path] = set()  # PDFs read through an entry
        self._by_hash: dict[str, Paper] | None = None  # stored PDFs read alone, by the hash of their bytes
        self._read_now: dict[str, str] = {}  # hash of the bytes -> where, of the PDFs read in this run
        self.seen = SeenIds()  # where each paper id was first read (a folder's files)
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
        budget = Budget(s.pdf_memory_mb, s.pdf_seconds)
        got = read_full_text(
            path, text_hash, s.chunk_words, s.max_pages, s.max_abstract_chars, entry=entry, budget=budget
        )
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
        bibliographies, pdfs = folder_files(folder)
        self.files = bibliographies + pdfs
        done = 0
        for f in self.files:
            where = f.relative_to(folder).as_posix()
            if f in pdfs and f.resolve() in self.claimed:
                self.note(where, "read with its bibliography entry")
            else:
                yield from self.unique(
                    self.bibliography(f, where) if f in bibliographies else self.pdf(f, where), where
                )
            done += 1
            if progress:
                progress(done, len(self.files))

    def bibliography(self, path: Path, where: str) -> Iterator[Item]:
        """A bibliography file's entries (a file that cannot be read: one rejection named `where`)."""
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

    def unique(self, items: Iterator[Item], where: str) -> Iterator[Item]:
        """Ids must be unique across a folder's files: a second paper with an id is rejected."""
        for item in items:
            paper = item.paper if isinstance(item, FullText) else item
            first = self.seen.first(paper.id, where) if isinstance(paper, Paper) else None
            if first not in (None, where):
                yield duplicate(paper.id, where, first)
                continue
            yield item


def is_bibliography(path: Path) -> bool:
    return path.suffix.lower() in BIBLIOGRAPHY or path.name.lower() == "zotero.sqlite"


def folder_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(bibliography files, PDFs) in a folder, recursively, sorted; hidden files and folders skipped."""
    files = sorted(
        f
        for f in folder.rglob("*")
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(folder).parts)
    )
    return [f for f in files if is_bibliography(f)], [f for f in files if f.suffix.lower() == ".pdf"]
