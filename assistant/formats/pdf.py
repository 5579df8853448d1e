"""Read a paper's PDF into passage-ready text with page and section offsets.

`read_pdf(path)` returns a `PdfDocument`: the body text in reading order (pages joined with
"\\n\\n", paragraphs with "\\n"), where each page and each detected section heading starts,
the reference list cut out, and the title, authors and abstract.  Every word of `text` comes
from the page `page_of` names (a word hyphenated across a page break is whole on the later
page), so a quote cut out of `text` is verbatim from that page.
A file that cannot be read raises `PdfError` naming the file and the reason.

Two-column reading order, running headers/footers, code, tables, captions, footnotes and
line-end hyphens are handled in `pdf_layout` (see there for the rules and why).

Library: pypdfium2 (PDFium; Apache-2.0/BSD-3), the fastest of the parsers compared
(docs/quality.md, "Why the constants are what they are").
"""

from __future__ import annotations

import itertools
import re
import threading
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from assistant.formats import pdf_layout as layout
from assistant.formats import pdf_paragraphs as paragraphs

MAX_PAGES = 1000
READER_VERSION = 3  # raised when the text a PDF gives changes: indexed PDFs are then read again
_PDFIUM = threading.Lock()  # PDFium is not thread-safe; the web app reads uploads on several threads


class PdfError(ValueError):
    """A PDF that cannot be read; the message names the file and says why."""


@dataclass(frozen=True)
class Section:
    title: str  # the heading as detected ("2.1 Failure model")
    page: int  # 1-based
    start: int  # offset of the heading in PdfDocument.text


@dataclass(frozen=True)
class PdfDocument:
    text: str  # body text in reading order; pages joined with "\n\n", paragraphs with "\n"
    page_starts: list[int]  # offset in `text` where page n begins is page_starts[n - 1]
    sections: list[Section]  # detected headings, in order
    title: str  # "" when unknown
    authors: tuple[str, ...]  # () when unknown
    abstract: str  # verbatim from `text`; "" when none was found
    pages: int  # pages in the file; only the first max_pages (= len(page_starts)) are in `text`
    references_start: int | None  # where the reference list was cut out of `text`; None: none found
    front: str = ""  # every line of the first two pages ("\f" between them), headers and footers too
    metadata: dict = field(default_factory=dict)  # the file's document information (Title, Author, dates...)

    def page_of(self, offset: int) -> int:
        """1-based page of a character offset in `text`."""
        if not 0 <= offset <= len(self.text):
            raise IndexError(f"offset {offset} outside the text (0..{len(self.text)})")
        return max(1, bisect_right(self.page_starts, offset))

    def section_of(self, offset: int) -> str | None:
        """Title of the section an offset is in (None before the first heading)."""
        i = bisect_right([s.start for s in self.sections], offset)
        return self.sections[i - 1].title if i else None


def page_count(path: str | Path) -> int:
    """Pages in a PDF, found without reading them (a caller can refuse a long file first).
    Raises PdfError as read_pdf does for a file that cannot be opened."""
    path = Path(path)
    _check_bytes(path)
    with _PDFIUM:
        pdf = _open(path)
        try:
            return len(pdf)
        finally:
            pdf.close()


def read_pdf(path: str | Path, *, max_pages: int = MAX_PAGES) -> PdfDocument:
    """Read a paper's PDF; only its first `max_pages` pages (`pages` says how many it has).
    Raises PdfError for an empty, non-PDF, truncated, damaged, password-protected or
    image-only file, or one whose text layer does not map to letters."""
    if max_pages < 1:
        raise ValueError(f"max_pages must be at least 1, not {max_pages}")
    path = Path(path)
    _check_bytes(path)
    with _PDFIUM:
        pdf = _open(path)
        try:
            total = len(pdf)
            if total == 0:
                raise PdfError(f"{path.name}: truncated or damaged (no pages)")
            pages, heights = [], []
            for i in range(min(total, max_pages)):
                try:
                    page = pdf[i]
                    heights.append(page.get_height())
                    pages.append(layout.page_lines(page))
                    page.close()
                except _pdfium_error() as e:
                    raise PdfError(f"{path.name}: page {i + 1} is damaged ({e})") from e
            meta = pdf.get_metadata_dict(skip_empty=True)
        finally:
            pdf.close()
    chars = "".join(ln.text for lines in pages for ln in lines).replace(" ", "")
    letters = sum(map(str.isalpha, chars))
    if letters < 20 * len(pages) and letters < 500:
        raise PdfError(f"{path.name}: no text layer (scanned?); it needs OCR before it can be read")
    if letters < 0.3 * len(chars):
        raise PdfError(
            f"{path.name}: text layer is unreadable (its fonts map characters to symbols, "
            "not letters); it needs OCR before it can be read"
        )
    front = "\f".join("\n".join(ln.text for ln in lines) for lines in pages[:2])  # headers and footers too
    layout.drop_furniture(pages, heights)
    sizes = Counter()
    for lines in pages:
        for ln in lines:
            sizes[round(ln.size, 1)] += len(ln.text)
    body = sizes.most_common(1)[0][0]
    hyphens = paragraphs.Hyphens(ln.text for lines in pages for ln in lines)
    page_paras = []
    for lines in pages:
        ordered = layout.reading_order(lines)
        layout.classify(ordered, body)
        page_paras.append(paragraphs.paragraphs(ordered, hyphens))
    for before, after in itertools.pairwise(page_paras):
        paragraphs.join_across_pages(before, after, hyphens)
    title = _title(pages[0], meta, body)
    doc = _assemble(page_paras, total, title, _authors(pages[0], meta, title))
    return replace(doc, front=front, metadata={k: str(v) for k, v in meta.items()})


# --- the file ----------------------------------------------------------------------------------


def _check_bytes(path: Path) -> None:
    """Fail early, and specifically, on files PDFium would only call 'damaged'."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(1024)
            f.seek(max(0, size - 2048))
            tail = f.read()
    except OSError as e:
        raise PdfError(f"{path.name}: cannot be read ({e.strerror or e})") from e
    if size == 0:
        raise PdfError(f"{path.name}: empty file (0 bytes)")
    if b"%PDF-" not in head:
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if start.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or b"<html" in head.lower():
            raise PdfError(f"{path.name}: not a PDF (looks like HTML, e.g. a saved web page or a login page)")
        raise PdfError(f"{path.name}: not a PDF (no %PDF header)")
    if b"%%EOF" not in tail:
        raise PdfError(f"{path.name}: truncated or damaged (no end-of-file marker; an incomplete download?)")


def _pdfium_error() -> type[Exception]:
    import pypdfium2

    return pypdfium2.PdfiumError


def _open(path: Path):
    import pypdfium2 as pdfium
    from pypdfium2 import raw

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        code = getattr(e, "err_code", None)
        if code == raw.FPDF_ERR_PASSWORD:
            raise PdfError(
                f"{path.name}: password-protected; save a copy without the password (e.g. qpdf --decrypt) and add that"
            ) from e
        if code == raw.FPDF_ERR_SECURITY:
            raise PdfError(f"{path.name}: encrypted with an unsupported security handler") from e
        raise PdfError(f"{path.name}: truncated or damaged ({e})") from e


# --- the document ------------------------------------------------------------------------------

_REFERENCES = re.compile(
    r"^(?:[\dA-Z]{1,2}\.?\s+)?(?:references|bibliography|literature cited|works cited|"
    r"reference list)$",
    re.IGNORECASE,
)
_ABSTRACT = re.compile(r"abstract\b\s*[.:—–-]?\s*", re.IGNORECASE)
_KEYWORDS = re.compile(r"(?:key\s*words|index terms)\b", re.IGNORECASE)


def _references(page_paras: list[list[tuple[str, str]]]) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """(page, paragraph) where the reference list starts, and where it ends: the next heading
    (an appendix) or the end."""
    heads = [(p, i) for p, paras in enumerate(page_paras) for i, (kind, _) in enumerate(paras) if kind == "heading"]
    starts = [
        (p, i)
        for p, paras in enumerate(page_paras)
        for i, (kind, text) in enumerate(paras)
        if kind != "aside" and _REFERENCES.match(text)
    ]  # a heading, or a plain line of its own
    if not starts:
        return None
    later = [h for h in heads if h > starts[-1]]
    return starts[-1], (later[0] if later else (len(page_paras), 0))


def _assemble(page_paras: list[list[tuple[str, str]]], total: int, title: str, authors: tuple[str, ...]) -> PdfDocument:
    refs = _references(page_paras)
    parts: list[str] = []
    placed: list[tuple[int, str, int, str]] = []  # (page, kind, offset, text) of each paragraph kept
    page_starts: list[int] = []
    references_start = None
    pos = 0
    for p, paras in enumerate(page_paras):
        if p:
            parts.append("\n\n")
            pos += 2
        page_starts.append(pos)
        first = True
        for i, (kind, text) in enumerate(paras):
            if refs and kind != "aside" and refs[0] <= (p, i) < refs[1]:
                references_start = pos if references_start is None else references_start
                continue  # a footnote or caption on the same page stays
            if not first:
                parts.append("\n")
                pos += 1
            first = False
            placed.append((p, kind, pos, text))
            parts.append(text)
            pos += len(text)
    text = "".join(parts)
    sections = [Section(t, p + 1, at) for p, kind, at, t in placed if kind == "heading"]
    return PdfDocument(
        text=text,
        page_starts=page_starts,
        sections=sections,
        title=title,
        authors=authors,
        abstract=_abstract(text, placed),
        pages=total,
        references_start=references_start,
    )


def _abstract(text: str, placed: list[tuple[int, str, int, str]]) -> str:
    """The paragraphs after an "Abstract" heading up to the next heading or "Keywords", or the
    rest of a paragraph opening with "Abstract." -- on the first two pages."""
    spans: list[tuple[int, int]] = []
    inside = False
    for page, kind, at, para in placed:
        if page > 1:
            break
        m = _ABSTRACT.match(para)
        if m and m.end() == len(para):  # "Abstract" on a line of its own (a heading, or plain)
            inside = True
        elif inside and (kind == "heading" or _KEYWORDS.match(para)):
            break
        elif inside and kind == "body":
            spans.append((at, at + len(para)))
        elif not inside and m and kind == "body" and len(para) > m.end() + 100:
            return para[m.end() :]
    return text[spans[0][0] : spans[-1][1]] if spans else ""


# --- title and authors -------------------------------------------------------------------------

_FILENAME = re.compile(r"\.(?:pdf|docx?|tex|dvi|ps|indd|rtf)$|^(?:untitled|title|microsoft word)\b", re.IGNORECASE)
_ORG = re.compile(
    r"universit|institut|department|school|college|centre|center|laborator|\binc\b|\bltd\b|"
    r"corporation|hospital|academy|faculty|@|\d{3}",
    re.IGNORECASE,
)
_NAME = re.compile(
    r"^[A-ZÀ-Þ][\w'’.-]*(?:\s+(?:[A-ZÀ-Þ][\w'’.-]*|van|von|de|der|den|da|del|di|du|le|la|dos))*"
    r"\s+[A-ZÀ-Þ][\w'’-]+$"
)


_ARXIV_STAMP = re.compile(r"^\s*arXiv:\s*(?:\d{4}\.\d{4,5}|[a-z.-]+/\d{7})", re.IGNORECASE)  # its margin stamp
_MARKS = re.compile(r"[\s∗*†‡§¶⋆]+$")  # footnote marks after a title


def _squash(text: str) -> str:
    return " ".join(text.split()).casefold()


def _title(lines: list[layout.Line], meta: dict, body: float) -> str:
    """The metadata title (spelled as on page 1 when they agree), else the largest text at the
    top of page 1, else its first line when that is set in bold (R News)."""
    stamp = {(round(ln.x0), round(ln.x1)) for ln in lines if _ARXIV_STAMP.match(ln.text)}  # and its column
    top = [
        ln
        for ln in lines
        if ln.kind != "drop" and sum(map(str.isalpha, ln.text)) >= 2 and (round(ln.x0), round(ln.x1)) not in stamp
    ]
    page_title = ""
    if top:
        biggest = max(ln.size for ln in top)
        if biggest >= 1.15 * body:
            run = [ln for ln in top if ln.size >= biggest - 0.5]
            run = [ln for ln in run if run[0].top - ln.bottom < 6 * biggest]  # one block, not a later heading
            page_title = " ".join(ln.text for ln in run)
        elif top[0].bold and len(top[0].words) >= 3 and not layout.NUMBERED.match(top[0].text):
            page_title = top[0].text
    page_title = _MARKS.sub("", page_title)
    meta_title = " ".join(str(meta.get("Title", "")).split())
    if (
        meta_title
        and not _FILENAME.search(meta_title)
        and not _ARXIV_STAMP.match(meta_title)
        and len(meta_title.split()) >= 2
    ):
        return page_title if _squash(page_title) == _squash(meta_title) else meta_title
    return page_title


def _authors(lines: list[layout.Line], meta: dict, title: str) -> tuple[str, ...]:
    """Authors from the metadata; else the name-like pieces of the lines between the title
    and the abstract or first heading (affiliation lines skipped)."""
    listed = str(meta.get("Author", "")).strip()
    if listed:
        names = (" ".join(n.split()) for n in re.split(r"\s*(?:,|;|&|\band\b)\s*", listed))
        return tuple(n for n in names if n)
    names: list[str] = []
    after_title = False
    for ln in lines:
        if title and _squash(ln.text) in _squash(title):
            after_title = True
            continue
        if not after_title or _ORG.search(ln.text):
            continue
        if layout.NAMED.match(ln.text) or layout.NUMBERED.match(ln.text) and ln.bold or len(names) > 12:
            break
        for piece in re.split(r"\s*(?:[,;&*∗†‡§¶⋆]|\d+\b|\band\b|\s{2,})\s*", ln.text, flags=re.IGNORECASE):
            if _NAME.match(piece) and 2 <= len(piece.split()) <= 5:
                names.append(piece)
    return tuple(dict.fromkeys(names))
