"""Read a paper's PDF into passage-ready text with page and section offsets.

`read_pdf(path)` returns a `PdfDocument`: the body text in reading order (pages joined with
"\\n\\n", paragraphs with "\\n"), where each page and each detected section heading starts,
the reference list cut out, and the title, authors and abstract.  Every character of `text`
comes from its page, so a quote cut out of `text` is verbatim from the page `page_of` names.
A file that cannot be read raises `PdfError` naming the file and the reason.

What is done to the characters PDFium extracts, and why:
* lines come from the characters' own boxes (PDFium joins a line that ends in a hyphen to the
  next one even across columns), split at gaps wider than ~1.5 em (table cells, author blocks);
* two-column pages: a vertical gutter is found where no line crosses it; lines spanning it
  (titles, wide tables, figures) cut the page into bands, each read left column then right;
* running headers/footers (a top or bottom line repeating on other pages, digits ignored)
  and bare page numbers are dropped;
* code (monospace fonts) and lines that are mostly digits and symbols (tables, equations,
  plot axes) are dropped; captions and footnotes move after the page's body text, so a
  sentence broken by a float or a footnote comes out whole;
* a hyphen at a line end is removed when the joined word is a word ("optimi-zation") and
  kept for compounds ("mixed-effects", "state-of-the-art"): the document's own spelling
  decides first, then English word frequencies (wordfreq);
* ligatures are expanded (NFKC for U+FB00..FB06 only), everything else is NFC.

Library: pypdfium2 (PDFium; Apache-2.0/BSD).  Measured by bench/pdf_parsers.py on the test
corpus (2-core machine, indicative): ~470 pages/s raw text vs pypdf ~40, pdfplumber ~10,
docling-parse ~5; of the raw extractors only PDFium and docling-parse kept two-column order
on every page, and PDFium is the only fast one -- this module adds the layout on top.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

MAX_PAGES = 1000


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
    abstract: str  # verbatim from `text` ("" when the paper has none that could be found)
    pages: int  # pages in the file (only the first max_pages are in `text`)
    references_start: int | None  # where the reference list was cut out of `text` (None: none found)

    def page_of(self, offset: int) -> int:
        """1-based page of a character offset in `text`."""
        if not 0 <= offset <= len(self.text):
            raise IndexError(f"offset {offset} outside the text (0..{len(self.text)})")
        return max(1, bisect_right(self.page_starts, offset))

    def section_of(self, offset: int) -> str | None:
        """Title of the section an offset is in (None before the first heading)."""
        i = bisect_right([s.start for s in self.sections], offset)
        return self.sections[i - 1].title if i else None


# --- reading the file -------------------------------------------------------------------------

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


def _open(path: Path):
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        if getattr(e, "err_code", None) == raw.FPDF_ERR_PASSWORD:
            raise PdfError(f"{path.name}: password-protected; save a copy without the password "
                           "(e.g. qpdf --decrypt) and add that") from e
        if getattr(e, "err_code", None) == raw.FPDF_ERR_SECURITY:
            raise PdfError(f"{path.name}: encrypted with an unsupported security handler") from e
        raise PdfError(f"{path.name}: truncated or damaged ({e})") from e


# --- characters to lines ------------------------------------------------------------------------

@dataclass
class _Line:
    x0: float
    x1: float
    top: float
    bottom: float
    words: list[str]
    word_starts: list[int]  # PDFium index of each word's first character (fonts are read there)
    size: float = 0.0
    bold: bool = False
    mono: bool = False
    col: int = 0  # 0 spans the page, 1 left column, 2 right column
    kind: str = "body"  # body | heading | aside | drop

    @property
    def text(self) -> str:
        return " ".join(self.words)


_WORD = re.compile(r"[^\s\ufffe\x00-\x1f]+\ufffe?")  # PDFium writes U+FFFE for a line-end hyphen
_MONO = re.compile(r"mono|monl|courier|consol|typewriter|inconsolata|menlo|code|tt\d+$", re.I)  # CMSLTT10, NimbusMonL
_BOLD = re.compile(r"bold|black|heavy|semibold|demi|medi|(cm|ec|sf|lm)bx|\bbx|^cmb\d|csc\d", re.I)  # csc: small caps (R News headings)
_LIGATURES = {chr(c): unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)}
_LIG = re.compile("[\ufb00-\ufb06]")


def _page_lines(page) -> list[_Line]:
    """The text lines of one page with their boxes and dominant font."""
    import ctypes

    import pypdfium2.raw as raw

    tp = page.get_textpage()
    h = tp.raw
    n = raw.FPDFText_CountChars(h)
    text = tp.get_text_range() if n > 0 else ""
    if len(text) != n:  # characters outside the BMP: fall back to one call per character
        text = "".join(chr(raw.FPDFText_GetUnicode(h, i) or 32) for i in range(n))
    box = raw.FS_RECTF()
    lines: list[_Line] = []
    cur: _Line | None = None
    for m in _WORD.finditer(text):
        i, j = m.start(), m.end() - 1
        raw.FPDFText_GetLooseCharBox(h, i, box)
        x0, top, bottom = box.left, box.top, box.bottom
        raw.FPDFText_GetLooseCharBox(h, j, box)
        x1 = box.right
        height = max(top - bottom, 1.0)
        if cur is not None:
            overlap = min(top, cur.top) - max(bottom, cur.bottom)
            gap = x0 - cur.x1
            if overlap > 0.5 * min(height, cur.top - cur.bottom) and -0.5 * height < gap < 1.6 * height:
                cur.words.append(m.group())
                cur.word_starts.append(i)
                cur.x1, cur.top, cur.bottom = max(cur.x1, x1), max(cur.top, top), min(cur.bottom, bottom)
                continue
        cur = _Line(x0, x1, top, bottom, [m.group()], [i])
        lines.append(cur)
    buf = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    for line in lines:
        picks = {line.word_starts[0], line.word_starts[len(line.word_starts) // 2], line.word_starts[-1]}
        sizes, bold, mono = [], 0, 0
        for i in picks:
            sizes.append(raw.FPDFText_GetFontSize(h, i))
            raw.FPDFText_GetFontInfo(h, i, buf, len(buf), flags)
            name = buf.value.decode("latin-1").split("+")[-1]
            bold += bool(_BOLD.search(name))
            mono += bool(_MONO.search(name))
        line.size = sorted(sizes)[len(sizes) // 2]
        line.bold = 2 * bold > len(picks)
        line.mono = 2 * mono > len(picks)
        line.words = [_clean(w) for w in line.words]
    tp.close()
    return [ln for ln in lines if ln.text.strip()]


_UMLAUT = re.compile("\u00a8([aeiouyAEIOU])")  # old TeX fonts set "ä" as a spacing "¨" before "a"


def _clean(word: str) -> str:
    word = _UMLAUT.sub(lambda m: m.group(1) + "\u0308", _LIG.sub(lambda m: _LIGATURES[m.group()], word))
    word = unicodedata.normalize("NFC", word)
    return word.replace("\ufffe", "-").replace("\u00ad", "-")


# --- page furniture and layout --------------------------------------------------------------------

def _furniture_key(line: _Line) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", line.text.lower()))


_PAGE_NUMBER = re.compile(r"^(?:page\s*)?(?:\d+|[ivxlc]+)(?:\s*(?:/|of)\s*\d+)?$", re.I)


def _edge_lines(lines: list[_Line], height: float) -> list[_Line]:
    """Lines that could be a running header or footer: the top and bottom rows of the page."""
    if not lines:
        return []
    by_top = sorted(lines, key=lambda ln: -ln.top)
    top_rows = [ln for ln in by_top[:4] if ln.top >= by_top[0].bottom and ln.top > 0.85 * height]
    bottom_rows = [ln for ln in by_top[-4:] if ln.bottom <= by_top[-1].top and ln.bottom < 0.15 * height]
    return top_rows + bottom_rows


def _drop_furniture(pages: list[list[_Line]], heights: list[float]) -> None:
    """Drop running headers/footers (repeating on other pages, digits aside) and page numbers."""
    edges = [_edge_lines(lines, h) for lines, h in zip(pages, heights)]
    seen = Counter(k for page in edges for k in {_furniture_key(ln) for ln in page})
    for lines, page_edges in zip(pages, edges):
        for ln in page_edges:
            if seen[_furniture_key(ln)] >= 2 or _PAGE_NUMBER.match(ln.text.strip()):
                ln.kind = "drop"


def _order(lines: list[_Line]) -> list[_Line]:
    """Reading order: find a two-column gutter; lines crossing it cut the page into bands,
    each band is read left column then right.  Within a column the file's order is kept."""
    live = [ln for ln in lines if ln.kind != "drop"]
    if len(live) < 8:
        return live
    left, right = min(ln.x0 for ln in live), max(ln.x1 for ln in live)
    span = right - left
    best = None
    for k in range(14, 27):  # candidate gutters between 35% and 65% of the text width
        g = left + span * k / 40
        crossing = sum(1 for ln in live if ln.x0 < g - 2 and ln.x1 > g + 2)
        if best is None or crossing < best[0]:
            best = (crossing, g)
    crossing, g = best
    full_left = sum(1 for ln in live if ln.x1 <= g + 2 and ln.x1 - ln.x0 > 0.6 * (g - left))
    full_right = sum(1 for ln in live if ln.x0 >= g - 2 and ln.x1 - ln.x0 > 0.6 * (right - g))
    if full_left < 3 or full_right < 3 or crossing > 0.3 * len(live):
        return live  # one column
    wide_tops = sorted(ln.top for ln in live if ln.x0 < g - 2 and ln.x1 > g + 2)
    keyed = []
    for i, ln in enumerate(live):
        above = len(wide_tops) - bisect_right(wide_tops, ln.top + 0.5)
        if ln.x0 < g - 2 and ln.x1 > g + 2:
            ln.col, band = 0, 2 * above + 1
        else:
            ln.col, band = (1 if ln.x1 <= g + 2 else 2), 2 * above
        keyed.append(((band, ln.col, i), ln))
    keyed.sort(key=lambda kv: kv[0])
    return [ln for _, ln in keyed]


# --- what each line is ------------------------------------------------------------------------------

_NUMBERED = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})*\.?|[A-Z](?:\.\d{1,2})*\.?|[IVX]{1,4}\.)\s+[^\W\d_]")
_NAMED = re.compile(r"^(?:abstract|introduction|references|bibliography|acknowledge?ments?|conclusions?|"
                    r"discussion|related work|appendix|appendices|summary|background|methods?|results|"
                    r"literature cited|works cited)\b", re.I)
_REFERENCES = re.compile(r"^(?:[\dA-Z]{1,2}\.?\s+)?(?:references|bibliography|literature cited|works cited|"
                         r"reference list)$", re.I)
_CAPTION = re.compile(r"^(?:figure|fig\.|table|listing|algorithm|exhibit)\s*[A-Z]?\d+[.:]", re.I)
_FOOTNOTE_MARK = re.compile(r"^(?:\d{1,2}|[*∗†‡§¶])\s*\S")
_TERMINAL = re.compile(r"[.!?:][\"'”’)\]]*$")


def _is_heading(ln: _Line, body: float) -> bool:
    text = ln.text.strip()
    if len(text) > 90 or len(ln.words) > 12 or not (ln.bold or ln.size >= 1.08 * body):
        return False
    if text.endswith((",", ";")) or (text.endswith(".") and not _NUMBERED.match(text)):
        return False
    return bool(_NUMBERED.match(text) or (_NAMED.match(text) and len(ln.words) <= 4))


def _symbolic(text: str) -> bool:
    chars = [c for c in text if not c.isspace()]
    return sum(c.isalpha() for c in chars) < 0.5 * len(chars)


def _table_rows(lines: list[_Line]) -> set[int]:
    """Pieces of table rows: a row (same column, same baseline) of three or more short pieces,
    or of two or more where one is code, digits or symbols."""
    if not lines:
        return set()
    width = max(ln.x1 for ln in lines) - min(ln.x0 for ln in lines)
    rows: list[list[_Line]] = []
    for ln in sorted(lines, key=lambda ln: (ln.col, ln.bottom)):
        if rows and rows[-1][0].col == ln.col and abs(ln.bottom - rows[-1][0].bottom) < 2:
            rows[-1].append(ln)
        else:
            rows.append([ln])
    out = set()
    for row in rows:
        cells = len(row) >= 3 and all(ln.x1 - ln.x0 < 0.4 * width for ln in row)
        if cells or len(row) >= 2 and any(ln.mono or _symbolic(ln.text) for ln in row):
            out.update(id(ln) for ln in row)
    return out


def _classify(lines: list[_Line], body: float) -> None:
    """Mark headings, asides (captions, footnotes) and dropped lines (code, tables, maths)."""
    table = _table_rows(lines)
    lefts: dict[int, float] = {}
    for ln in lines:
        lefts[ln.col] = min(lefts.get(ln.col, ln.x0), ln.x0)
    width = max((ln.x1 for ln in lines), default=0) - min(lefts.values(), default=0)
    prev: _Line | None = None
    in_note = False
    for ln in lines:
        if prev is not None and id(prev) in table and ln.col == prev.col and ln.x0 > lefts[ln.col] + 0.3 * width \
                and prev.bottom - ln.top < 0.8 * (ln.top - ln.bottom):
            table.add(id(ln))  # a table cell wrapped onto the next line
        size_step = prev is not None and abs(ln.size - prev.size) > 0.12 * body
        gap = prev is not None and (ln.col != prev.col or prev.bottom - ln.top > 0.8 * (ln.top - ln.bottom))
        if _is_heading(ln, body):
            ln.kind = "heading"  # before the code test: a heading may name a function
        elif prev is not None and prev.kind == "heading" and not gap and ln.bold == prev.bold \
                and abs(ln.size - prev.size) < 0.5 and len(ln.text) < 90 and not ln.mono:
            ln.kind = "heading"  # a heading wrapped onto a second line
        elif ln.mono or _symbolic(ln.text) or id(ln) in table:
            ln.kind = "drop"
        elif _CAPTION.match(ln.text):
            ln.kind = "aside"
        elif ln.size < 0.9 * body and _FOOTNOTE_MARK.match(ln.text) and (prev is None or gap or size_step):
            ln.kind = "aside"
        elif in_note and not gap and not size_step:
            ln.kind = "aside"  # a footnote goes on until a gap or a change of font size
        in_note = ln.kind == "aside" and not _CAPTION.match(ln.text) or (in_note and ln.kind == "drop")
        prev = ln
    _floats(lines)


def _close(a: _Line, b: _Line, x0: float, x1: float) -> bool:
    """Is `b` set right after `a` in one block spanning x0..x1: next in the same row (table
    cells), or on the next line below, overlapping the block horizontally?"""
    height = b.top - b.bottom
    if min(a.top, b.top) - max(a.bottom, b.bottom) > 0.5 * height:
        return a.col == b.col or 0 in (a.col, b.col)
    return b.top < a.top and a.bottom - b.top < 1.3 * height and b.x0 < x1 and x0 < b.x1


def _floats(lines: list[_Line]) -> None:
    """A caption is an aside until its first sentence end.  The lines set close to it that are
    not sentences are the table or figure it labels (header cells, axis labels): dropped.  A
    sentence end stops the search, so prose next to an in-text listing is kept."""
    def float_text(ln: _Line) -> bool:
        return ln.kind == "drop" or ln.kind == "body" and not _TERMINAL.search(ln.text)

    for i, ln in enumerate(lines):
        if ln.kind != "aside" or not _CAPTION.match(ln.text):
            continue
        for step in (1, -1):  # the float below its caption, then above it
            j, x0, x1 = i, ln.x0, ln.x1
            ended = step < 0 or _TERMINAL.search(ln.text)
            while 0 <= j + step < len(lines) and _close(*((lines[j], lines[j + step]) if step > 0 else
                                                          (lines[j + step], lines[j])), x0, x1):
                j += step
                nxt = lines[j]
                if not ended and nxt.kind == "body":
                    nxt.kind, ended = "aside", _TERMINAL.search(nxt.text)  # the caption goes on
                elif ended and float_text(nxt):
                    nxt.kind = "drop"
                else:
                    break
                x0, x1 = min(x0, nxt.x0), max(x1, nxt.x1)


# --- lines to paragraphs ----------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_PREFIXES = frozenset("re pre un non co de dis sub inter over under multi semi anti counter mis out up".split())


class _Hyphens:
    """Decides whether a hyphen at a line end goes ("optimi-zation") or stays ("mixed-effects")."""

    def __init__(self, pages: list[list[_Line]]):
        self.seen = Counter(t.lower() for lines in pages for ln in lines for t in _TOKEN.findall(ln.text))

    def join(self, left: str, right: str) -> str:
        """`left` ends with "-"; the word that continues on the next line is `right`."""
        head = left[:-1]
        frag = re.search(r"[^\W\d_]+$", head)
        nxt = re.match(r"[^\W\d_]+", right)
        if not frag or not nxt or "-" in head or nxt.group()[0].isupper():
            return left + right  # a compound ("state-of-the-", "Friedrich-Alexander") or not a word
        a, b = frag.group().lower(), nxt.group().lower()
        if self.seen[a + b] != self.seen[f"{a}-{b}"]:  # the paper's own spelling decides
            return head + right if self.seen[a + b] > self.seen[f"{a}-{b}"] else left + right
        from wordfreq import zipf_frequency

        za, zb, zj = (zipf_frequency(w, "en") for w in (a, b, a + b))
        if a in _PREFIXES:  # "re-training" is TeX's break of "retraining"; "de-identification" is not
            return head + right if zj > 0 else left + right
        # two common words whose join is rare: "long-run", "mixed-effects"; not "tran-sect"
        compound = min(za, zb) >= 3 and zj < min(za, zb) - 2.5
        return left + right if compound else head + right


def _paragraphs(lines: list[_Line], hyphens: _Hyphens) -> list[tuple[str, str]]:
    """(kind, text) paragraphs of one page in reading order: body and headings, then the
    asides -- placed before the page's last paragraph when that one goes on to the next page."""
    lefts: dict[int, float] = {}
    for ln in lines:
        lefts[ln.col] = min(lefts.get(ln.col, ln.x0), ln.x0)
    flow = _join([ln for ln in lines if ln.kind in ("body", "heading")], "body", lefts, hyphens)
    asides = _join([ln for ln in lines if ln.kind == "aside"], "aside", lefts, hyphens)
    if flow and flow[-1][0] == "body" and not _TERMINAL.search(flow[-1][1]):
        return flow[:-1] + asides + flow[-1:]
    return flow + asides


def _join(lines: list[_Line], label: str, lefts: dict[int, float], hyphens: _Hyphens) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    words: list[str] = []
    prev: _Line | None = None
    for ln in lines:
        if ln.kind == "heading" and prev is not None and prev.kind == "heading" and not _NUMBERED.match(ln.text) \
                and abs(ln.size - prev.size) < 0.5 and prev.bottom - ln.top < (ln.top - ln.bottom):
            words.extend(ln.words)  # a heading wrapped onto a second line
            continue
        if prev is None or ln.kind == "heading" or prev.kind == "heading" or _new_paragraph(prev, ln, lefts):
            if words:
                out.append(("heading" if prev.kind == "heading" else label, " ".join(words)))
            words = list(ln.words)
        elif words[-1].endswith("-") and len(words[-1]) > 1:
            words[-1:] = [hyphens.join(words[-1], ln.words[0])] + ln.words[1:]
        elif words[-1].endswith(("—", "–", "/")):
            words[-1:] = [words[-1] + ln.words[0]] + ln.words[1:]
        else:
            words.extend(ln.words)
        prev = ln
    if words and prev is not None:
        out.append(("heading" if prev.kind == "heading" else label, " ".join(words)))
    return out


def _new_paragraph(prev: _Line, ln: _Line, lefts: dict[int, float]) -> bool:
    """Does `ln` start a paragraph?  Mostly only after a sentence end: a sentence broken by a
    column, a float or a footnote continues."""
    height = ln.top - ln.bottom
    if abs(ln.size - prev.size) > 0.15 * max(ln.size, prev.size):
        return True
    if ln.col == prev.col and prev.bottom - ln.top > height and ln.text[:1].isupper() \
            and not prev.text.endswith(("-", ",")):
        return True  # a block of its own after a wide gap ("Abstract." below the affiliations)
    if not _TERMINAL.search(prev.text):
        return False
    if ln.col == prev.col and min(prev.top, ln.top) - max(prev.bottom, ln.bottom) > 0:
        return False  # the same row, split at a wide space
    indented = ln.x0 - lefts.get(ln.col, ln.x0) > 0.5 * height
    spaced = ln.col == prev.col and prev.bottom - ln.top > 0.5 * height
    short = prev.x1 < max(ln.x1, prev.x1) - 2 * height
    return indented or spaced or short or ln.col != prev.col


# --- the document -------------------------------------------------------------------------------------

def read_pdf(path: str | Path, *, max_pages: int = MAX_PAGES) -> PdfDocument:
    """Read a paper's PDF.  Only the first `max_pages` pages are read (`pages` says how many
    the file has).  Raises PdfError for an empty, non-PDF, truncated, password-protected or
    image-only file, or one whose text layer is unreadable."""
    path = Path(path)
    _check_bytes(path)
    pdf = _open(path)
    try:
        total = len(pdf)
        pages, heights = [], []
        for i in range(min(total, max_pages)):
            page = pdf[i]
            heights.append(page.get_height())
            pages.append(_page_lines(page))
            page.close()
        meta = pdf.get_metadata_dict(skip_empty=True)
    finally:
        pdf.close()
    chars = "".join(ln.text for lines in pages for ln in lines)
    letters = sum(c.isalpha() for c in chars)
    if letters < 20 * max(1, len(pages)) and letters < 500:
        raise PdfError(f"{path.name}: no text layer (scanned?); it needs OCR before it can be read")
    if letters < 0.3 * len(chars.replace(" ", "")):
        raise PdfError(f"{path.name}: text layer is unreadable (its fonts map characters to symbols, "
                       "not letters); it needs OCR before it can be read")
    _drop_furniture(pages, heights)
    sizes = Counter()
    for lines in pages:
        for ln in lines:
            sizes[round(ln.size, 1)] += len(ln.text)
    body = sizes.most_common(1)[0][0] if sizes else 10.0
    hyphens = _Hyphens(pages)
    page_paras = []
    for lines in pages:
        ordered = _order(lines)
        _classify(ordered, body)
        page_paras.append(_paragraphs(ordered, hyphens))
    for before, after in zip(page_paras, page_paras[1:]):
        _join_across_pages(before, after, hyphens)
    title = _title(pages[0] if pages else [], meta, body)
    authors = _authors(pages[0] if pages else [], meta, title, body)
    return _assemble(page_paras, total, title, authors)


def _join_across_pages(before: list[tuple[str, str]], after: list[tuple[str, str]], hyphens: _Hyphens) -> None:
    """A word hyphenated across a page break goes whole to the next page ("con-" | "tractions")."""
    if not before or not after or before[-1][0] != "body" or after[0][0] != "body":
        return
    head, _, last = before[-1][1].rpartition(" ")
    first, _, rest = after[0][1].partition(" ")
    if last.endswith("-") and len(last) > 1 and first[:1].islower():
        word = hyphens.join(last, first)
        before[-1:] = [("body", head)] if head else []
        after[0] = ("body", f"{word} {rest}".rstrip())


def _references(page_paras: list[list[tuple[str, str]]]) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """(page, paragraph) where the reference list starts and where it ends (exclusive)."""
    heads = [(p, i) for p, paras in enumerate(page_paras) for i, (kind, _) in enumerate(paras) if kind == "heading"]
    starts = [h for h in heads if _REFERENCES.match(page_paras[h[0]][h[1]][1])]
    if not starts:
        return None
    start = starts[-1]
    later = [h for h in heads if h > start]
    return start, (later[0] if later else (len(page_paras), 0))


def _assemble(page_paras, total: int, title: str, authors: tuple[str, ...]) -> PdfDocument:
    refs = _references(page_paras)
    parts: list[str] = []
    pos = 0
    page_starts, sections = [], []
    references_start = None
    abstract_spans: list[tuple[int, int]] = []
    in_abstract = False
    for p, paras in enumerate(page_paras):
        if p:
            parts.append("\n\n")
            pos += 2
        page_starts.append(pos)
        first = True
        for i, (kind, text) in enumerate(paras):
            if refs and kind != "aside" and refs[0] <= (p, i) < refs[1]:
                if references_start is None:
                    references_start = pos
                continue
            if not first:
                parts.append("\n")
                pos += 1
            first = False
            if kind == "heading":
                sections.append(Section(text, p + 1, pos))
            # the abstract: paragraphs after an "Abstract" heading, or one opening with "Abstract."
            if p < 2 and not abstract_spans or in_abstract:
                m = re.match(r"abstract\b\s*[.:—–-]?\s*", text, re.I)
                if kind == "heading" and m and m.end() == len(text):
                    in_abstract = True
                elif in_abstract and (kind == "heading" or re.match(r"(key\s*words|index terms)\b", text, re.I)):
                    in_abstract = False
                elif in_abstract and kind == "body":
                    abstract_spans.append((pos, pos + len(text)))
                elif m and kind == "body" and len(text) > m.end() + 100:
                    abstract_spans.append((pos + m.end(), pos + len(text)))
            parts.append(text)
            pos += len(text)
    text = "".join(parts)
    abstract = text[abstract_spans[0][0]:abstract_spans[-1][1]] if abstract_spans else ""
    return PdfDocument(text=text, page_starts=page_starts, sections=sections, title=title, authors=authors,
                       abstract=abstract, pages=total, references_start=references_start)


# --- title and authors ---------------------------------------------------------------------------------

_FILENAME = re.compile(r"\.(?:pdf|docx?|tex|dvi|ps|indd|rtf)$|^(?:untitled|title|microsoft word)\b", re.I)
_ORG = re.compile(r"universit|institut|department|school|college|centre|center|laborator|\binc\b|\bltd\b|"
                  r"corporation|hospital|academy|faculty|@|\d{3}", re.I)
_NAME = re.compile(r"^[A-ZÀ-Þ][\w'’.-]*(?:\s+(?:[A-ZÀ-Þ][\w'’.-]*|van|von|de|der|den|da|del|di|du|le|la|dos))*"
                   r"\s+[A-ZÀ-Þ][\w'’-]+$")


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _title(lines: list[_Line], meta: dict, body: float) -> str:
    """The largest text near the top of page 1; the metadata title when page 1 has none."""
    top = [ln for ln in lines if ln.kind != "drop" and sum(c.isalpha() for c in ln.text) >= 2]
    page_title = ""
    if top:
        biggest = max(ln.size for ln in top)
        if biggest >= 1.15 * body:
            run = [ln for ln in top if ln.size >= biggest - 0.5]
            run = [ln for ln in run if run[0].top - ln.bottom < 6 * biggest]  # one block, not a later heading
            page_title = " ".join(" ".join(ln.text for ln in run).split())
        elif top[0].bold and len(top[0].words) >= 3 and not _NUMBERED.match(top[0].text):
            page_title = top[0].text  # a title set in bold body-size type (R News)
    meta_title = " ".join(str(meta.get("Title", "")).split())
    if meta_title and not _FILENAME.search(meta_title) and len(meta_title.split()) >= 2:
        return page_title if _squash(page_title) == _squash(meta_title) else meta_title
    return page_title


def _authors(lines: list[_Line], meta: dict, title: str, body: float) -> tuple[str, ...]:
    """Authors from the metadata; else name-like lines between the title and the abstract."""
    listed = str(meta.get("Author", "")).strip()
    if listed:
        names = re.split(r"\s*(?:,|;|&|\band\b)\s*", listed)
        return tuple(n for n in (" ".join(n.split()) for n in names) if n)
    names: list[str] = []
    after_title = False
    for ln in lines:
        text = ln.text.strip()
        if title and _squash(text) in _squash(title):
            after_title = True
            continue
        if not after_title or _ORG.search(text):
            continue  # affiliations and addresses
        if _NAMED.match(text) or _NUMBERED.match(text) and ln.bold or len(names) > 12:
            break
        for piece in re.split(r"\s*(?:[,;&*∗†‡§¶⋆]|\d+\b|\band\b|\s{2,})\s*", text, flags=re.I):
            if _NAME.match(piece) and 2 <= len(piece.split()) <= 5:
                names.append(piece)
    return tuple(dict.fromkeys(names))
