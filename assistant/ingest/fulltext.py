"""Full text: a paper's PDF into a Paper and the passages of its body.

`read_full_text(path, ...)` reads a PDF (assistant.formats.pdf) and returns a `FullText`: the
Paper (pages and the hash of the file's bytes set) and its body passages, numbered after
the abstract passages.  Alone, a PDF gives its own title, authors and abstract -- and the
year, venue, DOI and arXiv id its first pages state (formats/pdf_metadata.py) -- and is
identified by its file name ("pdf:lmer" for lmer.pdf); as the attachment of a bibliography
entry (BibTeX `file`, Zotero, RIS L1), the entry's metadata wins and the PDF gives the body.

What the body is: the document text after the abstract (the abstract stays its own
passage(s), chunked from Paper.abstract as for any paper) -- or, for an entry without an
abstract, from the abstract on, so nothing the PDF says is lost; without an abstract,
from the first heading of page 1 (the title and author lines are not passages).  The
reference list is already cut out by the reader.

Unchanged files are never parsed: `unchanged_paper` compares the hash of the bytes with
the stored paper's before anything is read.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from assistant.formats.page import TITLE_MAX
from assistant.formats.pdf import READER_VERSION, PdfDocument, PdfError
from assistant.formats.pdf_metadata import pdf_record
from assistant.formats.pdf_worker import Budget, read_within
from assistant.ingest.chunking import abstract_passages, chunk_body
from assistant.types import Paper, Passage

PDF_ID_PREFIX = "pdf:"


@dataclass(frozen=True)
class FullText:
    """A paper with its body, ready to index; `source` is the PDF it was read from."""

    paper: Paper
    body: list[Passage]
    source: Path


def file_hash(path: Path) -> str:
    """Hash of a file's bytes and of the reader's version (16 hex digits, like content hashes):
    a PDF is read again when it changes or when the reader does.  Streamed: the file may be big."""
    h = hashlib.sha256(f"reader {READER_VERSION}\n".encode())
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()[:16]


def pdf_id(path: Path) -> str:
    """The id of a PDF read alone: its file name without the extension ("pdf:lmer"), so adding
    a new version of the same file replaces the paper."""
    stem = " ".join(unicodedata.normalize("NFC", Path(path).stem).split())
    return PDF_ID_PREFIX + (stem or "unnamed")[:190]


def is_pdf(path: Path) -> bool:
    """A .pdf name, or a file that starts like one."""
    if path.suffix.lower() == ".pdf":
        return True
    try:
        with open(path, "rb") as f:
            return f.read(5) == b"%PDF-"
    except OSError:
        return False


def unchanged_paper(stored: Paper | None, text_hash: str, entry: Paper | None = None) -> Paper | None:
    """The stored paper when re-reading the PDF (hash `text_hash`) would give it again, else None.

    Alone, a PDF with the same bytes is the same paper.  As an attachment, the entry must be
    unchanged too: the entry with the stored paper's full-text fields must hash as stored."""
    if stored is None or not stored.full_text or stored.text_hash != text_hash:
        return None
    if entry is None:
        return stored
    again = replace(entry, pages=stored.pages, text_hash=text_hash)
    return stored if again.content_hash() == stored.content_hash() else None


def read_full_text(
    path: Path,
    text_hash: str,
    chunk_words: int,
    max_pages: int,
    max_abstract_chars: int,
    *,
    entry: Paper | None = None,
    budget: Budget | None = None,
) -> FullText:
    """Read a PDF into a paper with its body, parsed in a worker process within `budget`
    (memory and CPU time).  Raises PdfError (the message names the file) for a file that
    cannot be read, is longer than `max_pages`, passes its budget, or has no text but a title."""
    path = Path(path)
    pages, doc = read_within(path, max_pages, budget)
    if doc is None:
        raise PdfError(
            f"{path.name}: {pages} pages is over the limit of {max_pages} (setting max_pages); "
            "a book or a proceedings volume is better added paper by paper"
        )
    paper = _paper(doc, path, text_hash, max_abstract_chars, entry)
    first = len(abstract_passages(paper, chunk_words))
    body = chunk_body(
        paper.id, doc, start=body_start(doc, bool(paper.abstract)), chunk_words=chunk_words, first_index=first
    )
    if not body:
        raise PdfError(f"{path.name}: no text besides the title and abstract was found")
    return FullText(paper, body, path)


def _paper(doc: PdfDocument, path: Path, text_hash: str, max_abstract_chars: int, entry: Paper | None) -> Paper:
    pages = len(doc.page_starts)
    if entry is not None:
        return replace(entry, pages=pages, text_hash=text_hash, abstract_page=_abstract_page(doc, entry.abstract))
    title = " ".join(doc.title.split())[:TITLE_MAX] or " ".join(re.sub(r"[_-]+", " ", path.stem).split())
    abstract = " ".join(doc.abstract.split())
    if len(abstract) > max_abstract_chars:  # not an abstract the reader should have found: keep it in the body
        abstract = ""
    record = pdf_record(doc.front, doc.metadata)  # year, venue, DOI, arXiv id, where the file states them
    return Paper(
        id=pdf_id(path),
        title=title or path.name,
        abstract=abstract,
        abstract_page=_abstract_page(doc, abstract),
        authors=doc.authors,
        year=record.year,
        venue=record.venue,
        doi=record.doi,
        arxiv_id=record.arxiv_id,
        url=_url(record),
        pdf_path=str(path.resolve()),
        pages=pages,
        text_hash=text_hash,
    )


def _url(record) -> str:
    """A link made from the DOI or arXiv id, as a bibliography entry's would be."""
    if record.doi:
        return f"https://doi.org/{record.doi}"
    return f"https://arxiv.org/abs/{record.arxiv_id}" if record.arxiv_id else ""


def _abstract_page(doc: PdfDocument, abstract: str) -> int:
    """The page an abstract is printed on, when its opening words are in the document (0: not found)."""
    head = " ".join(abstract.split()[:12])
    if not head:
        return 0
    flat = re.sub(r"\s+", " ", doc.text)
    at = flat.find(head)
    if at < 0:
        return 0
    return doc.page_of(_offset_in(doc.text, at))


def _offset_in(text: str, flat_at: int) -> int:
    """The offset in `text` of offset `flat_at` of its whitespace-collapsed form."""
    seen, i = 0, 0
    for m in re.finditer(r"\s+|\S+", text):
        size = 1 if m.group().isspace() else len(m.group())
        if seen + size > flat_at:
            return m.start() + (0 if m.group().isspace() else flat_at - seen)
        seen += size
        i = m.end()
    return i


def body_start(doc: PdfDocument, has_abstract: bool) -> int:
    """Where the body passages begin in `doc.text` (see the module docstring)."""
    at = doc.text.find(doc.abstract) if doc.abstract else -1
    if at >= 0:
        return at + len(doc.abstract) if has_abstract else at
    first = doc.sections[0] if doc.sections else None
    return first.start if first is not None and first.page == 1 else 0
