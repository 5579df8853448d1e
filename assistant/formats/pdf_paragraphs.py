"""Lines to paragraphs for `assistant.formats.pdf` (after pdf_layout has put a page's lines in
reading order and classified them): a new paragraph only after a sentence end, an indent or a
gap; line-end hyphens undone by `Hyphens` ("optimi-zation" joined, "mixed-effects" kept)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from assistant.formats.pdf_layout import NUMBERED, TERMINAL, Line

_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_PREFIXES = frozenset("re pre un non co de dis sub inter over under multi semi anti counter mis out up".split())


class Hyphens:
    """Decides whether a hyphen at a line end goes ("optimi-zation") or stays ("mixed-effects")."""

    def __init__(self, texts: Iterable[str]):
        """`texts`: the document's lines, for the words it spells elsewhere."""
        self.seen = Counter(t.lower() for text in texts for t in _TOKEN.findall(text))

    def join(self, left: str, right: str) -> str:
        """`left` ends with "-"; `right` is the word that goes on at the next line."""
        head = left[:-1]
        frag = re.search(r"[^\W\d_]+$", head)
        nxt = re.match(r"[^\W\d_]+", right)
        if not frag or not nxt or "-" in head or nxt[0][0].isupper():
            return left + right  # a compound ("state-of-the-art", "Friedrich-Alexander") or no word
        a, b = frag[0].lower(), nxt[0].lower()
        if self.seen[a + b] != self.seen[f"{a}-{b}"]:  # the paper's own spelling decides
            return head + right if self.seen[a + b] > self.seen[f"{a}-{b}"] else left + right
        from wordfreq import zipf_frequency

        za, zb, zj = (zipf_frequency(w, "en") for w in (a, b, a + b))
        if a in _PREFIXES:  # "re-training" is TeX's break of "retraining"; "de-identification" is not
            return head + right if zj > 0 else left + right
        compound = min(za, zb) >= 3 and zj < min(za, zb) - 2.5  # "long-run", not "tran-sect"
        return left + right if compound else head + right


def paragraphs(lines: list[Line], hyphens: Hyphens) -> list[tuple[str, str]]:
    """(kind, text) paragraphs of one page in reading order: headings, body and display code or
    maths (a paragraph per line), then the asides -- placed before the page's last paragraph
    when that one goes on to the next page."""
    lefts: dict[int, float] = {}
    for ln in lines:
        lefts[ln.col] = min(lefts.get(ln.col, ln.x0), ln.x0)
    flow = _join([ln for ln in lines if ln.kind in ("body", "heading", "code", "formula")], "body", lefts, hyphens)
    asides = _join([ln for ln in lines if ln.kind == "aside"], "aside", lefts, hyphens)
    if flow and flow[-1][0] == "body" and not TERMINAL.search(flow[-1][1]):
        return flow[:-1] + asides + flow[-1:]
    return flow + asides


def _join(lines: list[Line], label: str, lefts: dict[int, float], hyphens: Hyphens) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    words: list[str] = []
    prev: Line | None = None
    for ln in lines:
        if (
            ln.kind == "heading"
            and prev is not None
            and prev.kind == "heading"
            and not NUMBERED.match(ln.text)
            and abs(ln.size - prev.size) < 0.5
            and prev.bottom - ln.top < (ln.top - ln.bottom)
        ):
            words.extend(ln.words)  # a heading wrapped onto a second line
            continue
        if (
            prev is None
            or "heading" in (ln.kind, prev.kind)
            or "code" in (ln.kind, prev.kind)
            or _new_paragraph(prev, ln, lefts)
        ):
            if words:
                out.append((prev.kind if prev.kind in ("heading", "code") else label, " ".join(words)))
            words = list(ln.words)
        elif words[-1].endswith("-") and len(words[-1]) > 1:
            words[-1:] = [hyphens.join(words[-1], ln.words[0])] + ln.words[1:]
        elif words[-1].endswith(("—", "–", "/")):
            words[-1:] = [words[-1] + ln.words[0]] + ln.words[1:]
        else:
            words.extend(ln.words)
        prev = ln
    if words and prev is not None:
        out.append((prev.kind if prev.kind in _OWN else label, " ".join(words)))
    return out


_OWN = ("heading", "code", "formula")  # kinds of paragraph that are not body text


def _apart(prev: Line, ln: Line) -> bool:
    """Never one paragraph: a heading and anything, a line of code and anything, a display
    formula and anything but the rest of it."""
    kinds = {prev.kind, ln.kind}
    return "heading" in kinds or "code" in kinds or kinds == {"formula", "body"}


def _new_paragraph(prev: Line, ln: Line, lefts: dict[int, float]) -> bool:
    """Does `ln` start a paragraph?  Mostly only after a sentence end: a sentence broken by a
    column, a float or a footnote goes on."""
    height = ln.top - ln.bottom
    if abs(ln.size - prev.size) > 0.15 * max(ln.size, prev.size):
        return True
    if prev.bottom - ln.top > height and ln.text[:1].isupper() and not prev.text.endswith(("-", ",")):
        return True  # a block of its own after a wide gap ("Abstract." below the affiliations)
    if not TERMINAL.search(prev.text):
        return False
    if ln.col == prev.col and min(prev.top, ln.top) - max(prev.bottom, ln.bottom) > 0:
        return False  # the same row, split at a wide space
    indented = ln.x0 - lefts.get(ln.col, ln.x0) > 0.5 * height
    spaced = ln.col == prev.col and prev.bottom - ln.top > 0.5 * height
    short = prev.x1 < max(ln.x1, prev.x1) - 2 * height
    return indented or spaced or short or ln.col != prev.col


def join_across_pages(before: list[tuple[str, str]], after: list[tuple[str, str]], hyphens: Hyphens) -> None:
    """A word hyphenated across a page break goes whole to the next page ("con-" | "tractions")."""
    if not before or not after or before[-1][0] != "body" or after[0][0] != "body":
        return
    head, _, last = before[-1][1].rpartition(" ")
    first, _, rest = after[0][1].partition(" ")
    if last.endswith("-") and len(last) > 1 and first[:1].islower():
        before[-1:] = [("body", head)] if head else []
        after[0] = ("body", f"{hyphens.join(last, first)} {rest}".rstrip())
