"""Page layout for `assistant.formats.pdf`: PDFium's characters to paragraphs in reading order.

Used by `pdf.read_pdf` only.  The steps, one function each, and why:
* `page_lines` -- lines from the characters' own boxes (PDFium joins a line that ends in a
  hyphen to the next one, even across columns), split at gaps over ~1.6x the line height
  (table cells, author blocks);
* `drop_furniture` -- running headers/footers (a top or bottom line repeating on another
  page, digits ignored) and bare page numbers;
* `reading_order` -- a two-column gutter is a strip no line crosses (a line that a file
  writing both columns row by row runs across it is split there); lines spanning it (titles,
  wide tables) cut the page into bands, each read left column then right;
* `classify` -- headings (bold or larger, numbered or named), code (monospace fonts) and
  lines mostly digits and symbols (kept as lines of their own, or as part of the sentence
  they sit in), table rows and plot labels (dropped), captions and footnotes
  (asides: moved after the page's body so a sentence a float or footnote interrupts stays
  whole); the lines set close to a caption that are not sentences are its table or figure;
* then `pdf_paragraphs` joins the lines into paragraphs.
Text is NFC; ligatures are expanded (U+FB00..FB06 with NFKC, and the control codes that old
TeX fonts without a Unicode map leave for them).
"""

from __future__ import annotations

import ctypes
import itertools
import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass

NUMBERED = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})*\.?|[A-Z](?:\.\d{1,2})*\.?|[IVX]{1,4}\.)\s+[^\W\d_]")
NAMED = re.compile(
    r"^(?:abstract|introduction|references|bibliography|acknowledge?ments?|conclusions?|"
    r"discussion|related work|appendix|appendices|summary|background|methods?|results|"
    r"literature cited|works cited)\b",
    re.IGNORECASE,
)
TERMINAL = re.compile(r"[.!?:][\"'”’)\]]*$")  # a line or paragraph ending a sentence
_CAPTION = re.compile(r"^(?:figure|fig\.|table|listing|algorithm|exhibit)\s*[A-Z]?\d+[.:]", re.IGNORECASE)
_EQUATION_NUMBER = re.compile(r"^\(\d+(?:\.\d+)?[a-z]?\)$")
_FOOTNOTE_MARK = re.compile(r"^(?:\d{1,2}|[*∗†‡§¶])\s*\S")
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?(?:\d+|[ivxlc]+)(?:\s*(?:/|of)\s*\d+)?$", re.IGNORECASE)
# Word characters: all but spaces and controls -- except the control codes where old TeX fonts
# without a Unicode map keep their ligatures and quotes (T1: 0x10-0x12, 0x1B-0x1F; OT1: 0x0B,
# 0x0C, 0x0E, 0x0F; OT1's fl at 0x0D is lost: it is PDFium's line-break "\r").  PDFium writes U+FFFE for a line-end hyphen.
_WORD = re.compile(
    "[^\x00-\x0a\x0d\x13-\x1a\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufffe]+\ufffe?"
)
_TEX_LIGATURES = str.maketrans(
    {
        0x1B: "ff",
        0x1C: "fi",
        0x1D: "fl",
        0x1E: "ffi",
        0x1F: "ffl",
        0x0B: "ff",
        0x0C: "fi",
        0x0E: "ffi",
        0x0F: "ffl",
        0x10: "“",
        0x11: "”",
        0x12: "„",
    }
)  # T1's double quotes
_MONO = re.compile(r"mono|monl|courier|consol|typewriter|inconsolata|menlo|code|tt\d+$", re.IGNORECASE)  # CMSLTT10
_BOLD = re.compile(r"bold|black|heavy|demi|medi|(?:cm|ec|sf|lm)bx|\bbx|^cmb\d|csc\d", re.IGNORECASE)  # csc: small caps
_LIGATURE = re.compile("[\ufb00-\ufb06]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_UMLAUT = re.compile("\u00a8([aeiouyAEIOU])")  # old TeX fonts set "ä" as a spacing "¨" before the "a"


@dataclass
class Line:
    """A run of words on one baseline, with its box (PDF points, y upwards) and font."""

    x0: float
    x1: float
    top: float
    bottom: float
    words: list[str]
    starts: list[int]  # PDFium index of each word's first character (fonts are read there)
    spans: list[tuple[float, float]]  # each word's left and right edge
    text: str = ""
    size: float = 0.0
    bold: bool = False
    mono: bool = False
    symbolic: bool = False  # mostly digits and symbols: table cells, maths, plot ticks
    col: int = 0  # 0 spans the page (or one column), 1 left column, 2 right column
    kind: str = "body"  # body | heading | aside | drop


def clean(word: str) -> str:
    if word.isascii() and word.isprintable():
        return word
    if _SURROGATE.search(word):  # a character outside the BMP as a UTF-16 pair, or half of one
        word = _SURROGATE.sub("\ufffd", word.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace"))
    word = word.translate(_TEX_LIGATURES)
    word = _UMLAUT.sub(lambda m: m[1] + "\u0308", _LIGATURE.sub(lambda m: unicodedata.normalize("NFKC", m[0]), word))
    return unicodedata.normalize("NFC", word).replace("\ufffe", "-").replace("\u00ad", "-")


def page_lines(page) -> list[Line]:
    """The text lines of one PDFium page, in the file's order."""
    from pypdfium2 import raw

    tp = page.get_textpage()
    try:
        h = tp.raw
        n = raw.FPDFText_CountChars(h)
        text = tp.get_text_range() if n > 0 else ""
        if len(text) != n:  # characters outside the BMP: one call per character keeps indices right
            text = "".join(chr(raw.FPDFText_GetUnicode(h, i) or 32) for i in range(n))
        box = raw.FS_RECTF()
        lines: list[Line] = []
        cur: Line | None = None
        for m in _WORD.finditer(text):  # a box for each word's first and last character only
            raw.FPDFText_GetLooseCharBox(h, m.start(), box)
            x0, top, bottom = box.left, box.top, box.bottom
            raw.FPDFText_GetLooseCharBox(h, m.end() - 1, box)
            height = max(top - bottom, 1.0)
            if (
                cur is not None
                and min(top, cur.top) - max(bottom, cur.bottom) > 0.5 * min(height, cur.top - cur.bottom)
                and -0.5 * height < x0 - cur.x1 < 1.6 * height
            ):
                cur.words.append(m[0])
                cur.starts.append(m.start())
                cur.spans.append((x0, box.right))
                cur.x1, cur.top, cur.bottom = max(cur.x1, box.right), max(cur.top, top), min(cur.bottom, bottom)
            else:
                cur = Line(
                    x0=x0,
                    x1=box.right,
                    top=top,
                    bottom=bottom,
                    words=[m[0]],
                    starts=[m.start()],
                    spans=[(x0, box.right)],
                )
                lines.append(cur)
        buf, flags = ctypes.create_string_buffer(128), ctypes.c_int()
        for ln in lines:  # size and weight: the first, middle and last word's; monospace: every word's
            picks = {ln.starts[0], ln.starts[len(ln.starts) // 2], ln.starts[-1]}
            sizes, bold = [], 0
            for i in picks:
                sizes.append(raw.FPDFText_GetFontSize(h, i))
                bold += bool(_BOLD.search(_font(h, i, buf, flags)))
            mono = sum(len(w) for i, w in zip(ln.starts, ln.words) if _MONO.search(_font(h, i, buf, flags)))
            ln.size, ln.bold = sorted(sizes)[len(sizes) // 2], 2 * bold > len(picks)
            ln.mono = mono > 0.8 * sum(map(len, ln.words))  # a line of code, not a sentence naming a function
            ln.words = [clean(w) for w in ln.words]
            _set_text(ln)
    finally:
        tp.close()
    return lines


def _font(h, i: int, buf, flags) -> str:
    """The name of the font of character `i`, without the subset prefix."""
    from pypdfium2 import raw

    raw.FPDFText_GetFontInfo(h, i, buf, len(buf), flags)
    return buf.value.decode("latin-1").split("+")[-1]


def _set_text(ln: Line) -> None:
    ln.text = " ".join(ln.words)
    chars = ln.text.replace(" ", "")
    ln.symbolic = sum(map(str.isalpha, chars)) < 0.5 * len(chars)


# --- page furniture and reading order -----------------------------------------------------------


def _edge_lines(lines: list[Line], height: float) -> list[Line]:
    """The top and bottom rows of a page, where running headers and footers sit."""
    if not lines:
        return []
    by_top = sorted(lines, key=lambda ln: -ln.top)
    top = [ln for ln in by_top[:4] if ln.top >= by_top[0].bottom and ln.top > 0.85 * height]
    bottom = [ln for ln in by_top[-4:] if ln.bottom <= by_top[-1].top and ln.bottom < 0.15 * height]
    return top + bottom


def drop_furniture(pages: list[list[Line]], heights: list[float]) -> None:
    """Drop running headers/footers (an edge line repeating on another page, digits aside) and
    page numbers.  A one-page file has no repeats: only its page number goes."""

    def key(ln: Line) -> str:
        return re.sub(r"\d+", "#", ln.text.lower().replace(" ", ""))

    edges = [_edge_lines(lines, h) for lines, h in zip(pages, heights)]
    seen = Counter(k for page in edges for k in {key(ln) for ln in page})
    for page in edges:
        for ln in page:
            if seen[key(ln)] >= 2 or _PAGE_NUMBER.match(ln.text):
                ln.kind = "drop"


def _gap_at(ln: Line, g: float) -> int | None:
    """Index of the word after a gap of over half a line height around x = g (a gutter that a
    file writing both columns row by row leaves inside one line), if there is one."""
    height = ln.top - ln.bottom
    for k in range(1, len(ln.spans)):
        if ln.spans[k - 1][1] <= g and ln.spans[k][0] >= g and ln.spans[k][0] - ln.spans[k - 1][1] > 0.5 * height:
            return k
    return None


def _split(ln: Line, k: int) -> list[Line]:
    parts = []
    for words, starts, spans in (
        (ln.words[:k], ln.starts[:k], ln.spans[:k]),
        (ln.words[k:], ln.starts[k:], ln.spans[k:]),
    ):
        part = Line(
            x0=spans[0][0],
            x1=spans[-1][1],
            top=ln.top,
            bottom=ln.bottom,
            words=words,
            starts=starts,
            spans=spans,
            size=ln.size,
            bold=ln.bold,
            mono=ln.mono,
        )
        _set_text(part)
        parts.append(part)
    return parts


def reading_order(lines: list[Line]) -> list[Line]:
    """The page's lines (furniture left out) in reading order.  Two columns when a gutter near
    the middle is crossed by few lines and both sides hold full-width lines; lines crossing it
    cut the page into bands, each read left column then right.  Within a column the file's
    order is kept."""
    live = [ln for ln in lines if ln.kind != "drop"]
    if len(live) < 8:
        return live
    left, right = min(ln.x0 for ln in live), max(ln.x1 for ln in live)

    def spans(ln: Line, g: float) -> bool:
        return ln.x0 < g - 2 and ln.x1 > g + 2

    crossing, g = min(
        (sum(1 for ln in live if spans(ln, g) and _gap_at(ln, g) is None), g)
        for g in (left + (right - left) * k / 40 for k in range(14, 27))
    )  # 35%..65%
    pieces = []
    for ln in live:
        k = _gap_at(ln, g) if spans(ln, g) else None
        pieces.extend(_split(ln, k) if k else [ln])
    full_left = sum(1 for ln in pieces if ln.x1 <= g + 2 and ln.x1 - ln.x0 > 0.6 * (g - left))
    full_right = sum(1 for ln in pieces if ln.x0 >= g - 2 and ln.x1 - ln.x0 > 0.6 * (right - g))
    if full_left < 3 or full_right < 3 or crossing > 0.3 * len(live):
        return live
    wide_tops = sorted(ln.top for ln in pieces if spans(ln, g))
    keyed = []
    for i, ln in enumerate(pieces):
        above = len(wide_tops) - bisect_right(wide_tops, ln.top + 0.5)  # spanning lines above this one
        if spans(ln, g):
            ln.col, band = 0, 2 * above + 1
        else:
            ln.col, band = (1 if ln.x1 <= g + 2 else 2), 2 * above
        keyed.append(((band, ln.col, i), ln))
    return [ln for _, ln in sorted(keyed, key=lambda kv: kv[0])]


# --- what each line is ----------------------------------------------------------------------------


def _is_heading(ln: Line, body: float) -> bool:
    if len(ln.text) > 90 or len(ln.words) > 12 or not (ln.bold or ln.size >= 1.08 * body):
        return False
    if ln.text.endswith((",", ";")) or (ln.text.endswith(".") and not NUMBERED.match(ln.text)):
        return False
    return bool(NUMBERED.match(ln.text) or (NAMED.match(ln.text) and len(ln.words) <= 4))


def _table_rows(lines: list[Line], lefts: dict[int, float], width: float) -> set[int]:
    """Table cells: rows (same column and baseline) of three or more short pieces, or of two
    or more where one is code or digits -- and a cell wrapped onto the line below one."""
    rows: list[list[Line]] = []
    for ln in sorted(lines, key=lambda ln: (ln.col, ln.bottom)):
        if rows and rows[-1][0].col == ln.col and abs(ln.bottom - rows[-1][0].bottom) < 2:
            rows[-1].append(ln)
        else:
            rows.append([ln])
    out = set()
    for row in rows:
        if _EQUATION_NUMBER.match(max(row, key=lambda ln: ln.x1).text):
            continue  # a display formula and its number (formula_lines)
        if (
            len(row) >= 3
            and all(ln.x1 - ln.x0 < 0.4 * width for ln in row)
            or len(row) >= 2
            and any(ln.mono or ln.symbolic for ln in row)
        ):
            out.update(id(ln) for ln in row)
    for prev, ln in itertools.pairwise(lines):
        if (
            id(prev) in out
            and ln.col == prev.col
            and ln.x0 > lefts[ln.col] + 0.3 * width
            and prev.bottom - ln.top < 0.8 * (ln.top - ln.bottom)
        ):
            out.add(id(ln))
    return out


def _formula_lines(lines: list[Line], width: float) -> set[int]:
    """A numbered display formula: the pieces on the baseline of its number, and the short
    pieces just above and below them (a fraction's numerator and denominator)."""
    numbers = [n for n in lines if _EQUATION_NUMBER.match(n.text) and n.x0 > min(ln.x0 for ln in lines) + 0.6 * width]
    out = set()
    for n in numbers:
        height = n.top - n.bottom
        for ln in lines:
            near = ln.col == n.col and abs(ln.bottom - n.bottom) < 1.2 * height
            if near and (ln is n or ln.x1 - ln.x0 < 0.6 * width and not TERMINAL.search(ln.text)):
                out.add(id(ln))
    return out


def classify(lines: list[Line], body: float) -> None:
    """Set each line's kind: heading, body, aside (caption, footnote) or drop (code, tables,
    maths, plot labels).  `body` is the document's body font size."""
    if not lines:
        return
    lefts: dict[int, float] = {}
    for ln in lines:
        lefts[ln.col] = min(lefts.get(ln.col, ln.x0), ln.x0)
    width = max(ln.x1 for ln in lines) - min(lefts.values())
    table, formula = _table_rows(lines, lefts, width), _formula_lines(lines, width)
    prev: Line | None = None
    in_note = False
    for ln in lines:
        size_step = prev is not None and abs(ln.size - prev.size) > 0.12 * body
        gap = prev is not None and (ln.col != prev.col or prev.bottom - ln.top > 0.8 * (ln.top - ln.bottom))
        if _is_heading(ln, body):
            ln.kind = "heading"  # before the code test: a heading may name a function
        elif (
            prev is not None
            and prev.kind == "heading"
            and not gap
            and ln.bold == prev.bold
            and abs(ln.size - prev.size) < 0.5
            and len(ln.text) < 90
            and not ln.mono
        ):
            ln.kind = "heading"  # a heading wrapped onto a second line
        elif id(ln) in formula:
            ln.kind = "formula"
        elif id(ln) in table:
            ln.kind = "drop"
        elif ln.mono or ln.symbolic:  # inside a running sentence it is part of it; else a display
            ln.kind = "body" if _continues(prev, ln, gap) else "code"
        elif (
            _CAPTION.match(ln.text)
            and _starts_block(prev, ln, gap)
            or ln.size < 0.9 * body
            and _FOOTNOTE_MARK.match(ln.text)
            and (prev is None or gap or size_step)
        ):
            ln.kind = "aside"
        elif in_note and not gap and not size_step:
            ln.kind = "aside"  # a footnote goes on until a gap or a change of font size
        elif ln.size < 0.8 * body and ln.x1 - ln.x0 < 0.5 * width:
            ln.kind = "drop"  # small print in short pieces: the labels and legend of a plot
        in_note = ln.kind == "aside" and not _CAPTION.match(ln.text) or (in_note and ln.kind == "drop")
        prev = ln
    _floats(lines)


def _continues(prev: Line | None, ln: Line, gap: bool) -> bool:
    """Is `ln` (code or maths) a line of the sentence `prev` left unfinished, set like it?"""
    return (
        prev is not None
        and not gap
        and prev.kind == "body"
        and abs(ln.size - prev.size) < 0.5
        and abs(ln.x0 - prev.x0) < 2
        and not re.search(r"[.!?:]\W*$", prev.text)
    )


def _starts_block(prev: Line | None, ln: Line, gap: bool) -> bool:
    """Can `ln` start a caption: not in the middle of a running sentence ("... an overview is
    given in / Table 3. This includes ...")?"""
    return prev is None or gap or prev.kind != "body" or bool(TERMINAL.search(prev.text)) or prev.size != ln.size


def _same_paragraph(a: Line, b: Line, right: float) -> bool:
    """Is `b` the next line of `a`'s paragraph (same font and left edge, at the line spacing,
    `a` running to the block's right edge `right`)?"""
    height = b.top - b.bottom
    return (
        abs(a.size - b.size) < 0.3
        and abs(a.x0 - b.x0) < 0.5 * height
        and a.x1 > right - 2 * height
        and b.top < a.top
        and a.bottom - b.top < 0.6 * height
    )


def _close(a: Line, b: Line, x0: float, x1: float) -> bool:
    """Is `b` set right after `a` in one block spanning x0..x1: next in the same row (table
    cells), or on the next line below, overlapping the block horizontally?"""
    height = b.top - b.bottom
    if min(a.top, b.top) - max(a.bottom, b.bottom) > 0.5 * height:
        return a.col == b.col or 0 in (a.col, b.col)
    return b.top < a.top and a.bottom - b.top < 1.3 * height and b.x0 < x1 and x0 < b.x1


def _floats(lines: list[Line]) -> None:
    """A caption is an aside to the end of its paragraph.  The lines set close to it that are
    not sentences are the table or figure it labels (header cells, axis labels): dropped.  A
    sentence end stops the search, so prose next to an in-text listing is kept."""

    def float_text(ln: Line) -> bool:  # a listing in a float is part of the figure, not of the text
        return ln.kind in ("drop", "code", "formula") or ln.kind == "body" and not TERMINAL.search(ln.text)

    for i, ln in enumerate(lines):
        if ln.kind != "aside" or not _CAPTION.match(ln.text):
            continue
        for step in (1, -1):  # the float below its caption, then above it
            j, x0, x1 = i, ln.x0, ln.x1
            ended = step < 0 or TERMINAL.search(ln.text)
            while 0 <= j + step < len(lines):
                a, b = (lines[j], lines[j + step]) if step > 0 else (lines[j + step], lines[j])
                if not _close(a, b, x0, x1):
                    break
                j += step
                nxt = lines[j]
                if nxt.kind == "body" and (not ended or step > 0 and a.kind == "aside" and _same_paragraph(a, nxt, x1)):
                    nxt.kind, ended = "aside", TERMINAL.search(nxt.text)  # the caption goes on
                elif ended and float_text(nxt):
                    nxt.kind = "drop"
                else:
                    break
                x0, x1 = min(x0, nxt.x0), max(x1, nxt.x1)
    for a, b in itertools.pairwise(lines):  # a listing that goes on in the next column
        if b.kind == "code" and a.kind == "drop" and a.mono:
            b.kind = "drop"
