"""Sentences and passages.

An abstract is split into sentences (text.sentence_spans: character offsets, so a quote
can always be found in its abstract), and consecutive sentences are grouped into passages of about
`chunk_words` words.  Passages never split a sentence and never overlap: overlap would
only re-embed the same words.  What gets embedded is the passage with its paper's title
in front, so a passage keeps its context ("...we propose X" knows what X is about).
"""

from __future__ import annotations

from .text import sentence_spans
from .types import Paper, Passage


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


def embed_text(title: str, passage_text: str) -> str:
    """The text that is embedded for a passage: title as context, then the passage."""
    return f"{title}\n{passage_text}"


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
