"""Sentences and passages.

An abstract is split into sentences (with character offsets, so a quote can always be
found in its abstract), and consecutive sentences are grouped into passages of about
`chunk_words` words.  Passages never split a sentence and never overlap: overlap would
only re-embed the same words.  What gets embedded is the passage with its paper's title
in front, so a passage keeps its context ("...we propose X" knows what X is about).
"""

from __future__ import annotations

import re

from .types import Paper, Passage

_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Figs|Eq|Eqs|Sec|No|approx|resp|Dr|Mr|Ms|Prof|St|Inc|Ltd|viz|al)\.|\b[A-Z]\.)$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text`."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.start() + len(m.group(0).rstrip())  # keep a closing quote/bracket with its sentence
        piece = text[start:end]
        if ends_with_abbreviation(piece) or len(piece.split()) < 3:
            continue  # "e.g. CLIP", "et al. show", "Findings." -- not a real boundary
        spans.append((start, end))
        start = m.end()
    if start < len(text) and text[start:].strip():
        spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def ends_with_abbreviation(text: str) -> bool:
    """'... e.g.', '... et al.', '... etc.': a full stop that does not end a sentence."""
    return bool(_ABBREV.search(text.rstrip("\"')]")))


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def chunk_paper(paper: Paper, chunk_words: int) -> list[Passage]:
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


def embed_text(title: str, passage_text: str) -> str:
    """The text that is embedded for a passage: title as context, then the passage."""
    return f"{title}\n{passage_text}"
