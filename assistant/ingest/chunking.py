"""Sentences and passages.

An abstract is split into sentences (text.sentence_spans: character offsets, so a quote
can always be found in its abstract), and consecutive sentences are grouped into passages of about
`chunk_words` words.  Passages never split a sentence and never overlap: overlap would
only re-embed the same words.  What gets embedded is the passage with its paper's title
in front, so a passage keeps its context ("...we propose X" knows what X is about).

A PDF's body (`chunk_body`) is cut the same way, section by section: a passage never runs
over a section heading (the heading is left out of the text and kept as the passage's
`section`, which is embedded with the title); a sentence a page break interrupts stays one
sentence, the break inside it (Passage.page_at tells the page of any offset).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from typing import TYPE_CHECKING

from assistant.text import sentence_spans
from assistant.types import PAGE_BREAK, Paper, Passage

if TYPE_CHECKING:
    from assistant.formats.pdf import PdfDocument


def abstract_passages(paper: Paper, chunk_words: int) -> list[Passage]:
    """The passages derived from the paper record itself: its abstract's -- or, for a paper
    with neither abstract nor full text, one of its metadata.  (A full-text paper without
    an abstract has only body passages: its metadata is in every passage's embedded title.)"""
    if paper.full_text and not paper.abstract.strip():
        return []
    return chunk_paper(paper, chunk_words)


def chunk_paper(paper: Paper, chunk_words: int) -> list[Passage]:
    if not paper.abstract.strip():  # a record without an abstract: one passage of its metadata
        return [Passage(paper_id=paper.id, index=0, text=metadata_text(paper), start=0, end=0)]
    passages: list[Passage] = []
    group: list[tuple[int, int]] = []
    words = 0
    for s, e in sentence_spans(paper.abstract):
        n = len(paper.abstract[s:e].split())
        if group and words + n > chunk_words:
            passages.append(_passage(paper, len(passages), group))
            group, words = [], 0
        group.append((s, e))
        words += n
    if group:
        passages.append(_passage(paper, len(passages), group))
    return passages


def _passage(paper: Paper, index: int, group: list[tuple[int, int]]) -> Passage:
    start, end = group[0][0], group[-1][1]
    return Passage(paper_id=paper.id, index=index, text=paper.abstract[start:end], start=start, end=end)


def embed_text(title: str, passage_text: str, section: str | None = None) -> str:
    """The text that is embedded for a passage: title (and the section of a body passage) as
    context, then the passage."""
    return f"{title}\n{section}\n{passage_text}" if section else f"{title}\n{passage_text}"


def passage_embed_text(title: str, passage: Passage) -> str:
    return embed_text(title, passage.text, passage.section)


# --- the body of a PDF ---------------------------------------------------------------------------

_NOT_A_SECTION = re.compile(r"^abstract\b", re.IGNORECASE)  # text after the abstract (keywords) has no section


def chunk_body(paper_id: str, doc: PdfDocument, *, start: int, chunk_words: int, first_index: int) -> list[Passage]:
    """Passages of `doc.text[start:]` (a PDF's text: pages joined by a blank line, paragraphs
    by a line break), numbered from `first_index`, each within one section of `doc.sections`.
    A sentence longer than `chunk_words` (a flattened table, a run-on list) is cut into
    pieces of that many words."""
    text = doc.text
    passages: list[Passage] = []
    for seg_start, seg_end, section in _segments(doc, start):
        section = None if section is None or _NOT_A_SECTION.match(section) else section
        group: list[tuple[int, int]] = []
        words = 0
        for s, e in _pieces(text, seg_start, seg_end, chunk_words):
            n = len(text[s:e].split())
            if group and words + n > chunk_words:
                passages.append(_body_passage(paper_id, first_index + len(passages), doc, group, section))
                group, words = [], 0
            group.append((s, e))
            words += n
        if group:
            passages.append(_body_passage(paper_id, first_index + len(passages), doc, group, section))
    return passages


def _segments(doc: PdfDocument, start: int) -> list[tuple[int, int, str | None]]:
    """(start, end, section) of the text between headings from `start` on (the headings left out)."""
    sections = [(s.start, s.title) for s in doc.sections]
    segments: list[tuple[int, int, str | None]] = []
    before = [title for at, title in sections if at < start]
    current = before[-1] if before else None
    pos = start
    for at, title in sections:
        if at >= start:
            segments.append((pos, at, current))
            pos, current = at + len(title), title
    segments.append((pos, len(doc.text), current))
    return segments


def body_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of body text, none running over a paragraph break (a page break only
    inside a sentence it cuts): what an answer may quote from a body passage, verbatim."""
    return _pieces(text, 0, len(text), len(text) + 1)


def _pieces(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    """Sentence spans of text[start:end], each within one paragraph -- except a sentence that a
    page break interrupts, which goes on over it (the break stays in its text)."""
    out: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        stop = _paragraph_end(text, pos, end)
        for s, e in sentence_spans(text[pos:stop]):
            out.extend(_word_windows(text, pos + s, pos + e, max_words))
        pos = stop + 1
    return out


_UNFINISHED = re.compile(r"[^.!?:\s][\"'”’)\]]*\s*$")  # a paragraph that stops mid-sentence


def _paragraph_end(text: str, pos: int, end: int) -> int:
    """Where the paragraph at `pos` ends: its line break, or past a page break that cuts one of
    its sentences ("... is smaller" | "than about twenty ...")."""
    nl = text.find("\n", pos, end)
    while nl >= 0 and text.startswith(PAGE_BREAK, nl) and nl + 2 < end and text[nl + 2].islower():
        if not _UNFINISHED.search(text[pos:nl]):
            break
        nl = text.find("\n", nl + 2, end)
    return end if nl < 0 else nl


_WORD = re.compile(r"\S+")


def _word_windows(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    words = [(start + m.start(), start + m.end()) for m in _WORD.finditer(text, start, end)]
    if len(words) <= max_words:
        return [(start, end)]
    return [(words[i][0], words[min(i + max_words, len(words)) - 1][1]) for i in range(0, len(words), max_words)]


def _body_passage(
    paper_id: str, index: int, doc: PdfDocument, group: list[tuple[int, int]], section: str | None
) -> Passage:
    start, end = group[0][0], group[-1][1]
    return Passage(
        paper_id=paper_id,
        index=index,
        text=doc.text[start:end],
        start=start,
        end=end,
        page=_page_of(doc.page_starts, start),
        end_page=_page_of(doc.page_starts, end - 1),
        section=section,
    )


def _page_of(page_starts: Sequence[int], offset: int) -> int:
    return max(1, bisect_right(page_starts, offset))


def metadata_text(paper: Paper) -> str:
    """What to index for a paper without an abstract: title, venue, year and keywords.

    "Deep Residual Learning for Image Recognition. CVPR, 2016. Keywords: vision, resnet."
    (Authors are left out: names would dominate the embedding of so short a text.)"""
    where = ", ".join(str(x) for x in (paper.venue, paper.year) if x)
    parts = [paper.title.rstrip(".") + "."]
    if where:
        parts.append(where + ".")
    if paper.tags:
        parts.append("Keywords: " + ", ".join(paper.tags) + ".")
    return " ".join(parts)
