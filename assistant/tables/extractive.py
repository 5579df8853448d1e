"""Cells without an LLM: each paper asked each aspect with the answer-focus machinery (the
aspect read as a question once, the paper's best passage found, its sentences scored and
chosen as a one-paper answer's are, a sentence introducing the paper's own work preferred),
and a cell is the verbatim sentence(s) chosen, or "not stated" when the best sentence scores
below STATED and holds less than SUPPORT of the aspect's specific terms (all chosen on the dev
tables: docs/quality.md, "Comparison tables")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.answering import cues
from assistant.answering.context import AnswerContext, Plan
from assistant.answering.extractive import extractive
from assistant.answering.passages import Focus
from assistant.answering.plan import _one_page, support, with_context
from assistant.answering.sentences import choose, read_question, sentence_scores
from assistant.ingest.chunking import body_sentences
from assistant.tables.export import NOT_STATED
from assistant.tables.types import Cell
from assistant.text import sentence_spans
from assistant.types import Hit, Paper, Passage

STATED = 0.55  # a cell is stated when its best sentence scores this much (chosen on the dev tables: docs/quality.md)
SUPPORT = 0.3  # ... or when it holds this share of the aspect's specific terms (plan.support)
ABSTRACT = 0.1  # added to an abstract sentence's score when a full text's passages compete with it
INTRODUCES = 0.2  # added, to choose a cell's sentence, to one introducing the paper's work (cues.INTRODUCES)
CELL_SENTENCES = 2  # most sentences an abstract cell quotes (a body cell: its best one and its context)


@dataclass
class Aspect:
    """One column, read once for every paper: the aspect as sentence choice reads a question,
    and where its quotes come from."""

    text: str
    ctx: AnswerContext


def read_aspect(aspect: str, reading: Any) -> Aspect:
    """An aspect read once (`reading`: answerer.Reading -- the index, the embedding model and caches)."""
    emb = reading.embedder
    ctx = AnswerContext(
        question=aspect,
        read=read_question(aspect, None, emb.embed_query, (), emb.embed),
        idf=reading.store.term_stats.idf,
        vectors=reading.sentence_vectors,
        quotes=Focus(reading.store, emb, aspect, reading.passage_terms),
    )
    return Aspect(aspect, ctx)


@dataclass
class Source:
    """Text a cell may quote: a paper's abstract (`passage` None) or one of its body passages."""

    text: str
    spans: list[tuple[int, int]]
    passage: Passage | None = None
    favoured: tuple[int, int] | None = None


def sources(paper: Paper, ctx: AnswerContext) -> tuple[Hit, list[Source]]:
    """Where a cell may quote a paper from: its abstract and, for a full text, the passages that
    best answer the aspect (`Focus`: the best one, its neighbours in its section, the runners-up)."""
    hit = ctx.quotes(Hit(paper=paper, text="", score=1.0, passage_index=-1))
    out = []
    if paper.abstract.strip():
        out.append(Source(paper.abstract, sentence_spans(paper.abstract) or [(0, len(paper.abstract))]))
    body = [p for p in ([hit.passage] if hit.passage is not None else []) + ctx.quotes.nearby(hit) if p.in_body]
    for p in {p.index: p for p in body}.values():
        spans = body_sentences(p.text)
        if spans:
            out.append(Source(p.text, spans, p))
    return hit, out


def _scored(src: Source, paper: Paper, ctx: AnswerContext) -> np.ndarray:
    return sentence_scores(
        src.text,
        src.spans,
        ctx.read,
        ctx.idf,
        favoured=src.favoured,
        vectors=ctx.vectors,
        title=paper.title,
        body=src.passage is not None,
    )


def _choosing(src: Source, s: np.ndarray) -> np.ndarray:
    """The scores a cell's sentence is chosen by: a sentence introducing the paper's own
    contribution raised by INTRODUCES (the "stated" decision reads the scores without it)."""
    own = np.array([bool(cues.INTRODUCES.search(src.text[a:b])) for a, b in src.spans], dtype=float)
    return s + INTRODUCES * own[:, None]


def _best(src: Source, s: np.ndarray) -> float:
    """How well a source answers: its best sentence's score (an abstract's raised by ABSTRACT)."""
    return (float(s.max()) if s.size else -1e9) + (ABSTRACT if src.passage is None else 0.0)


def fill(paper: Paper, aspect: Aspect, stated_at: float | None = None) -> Cell:
    """One cell: the paper's sentence(s) that best answer the aspect, cited, or "not stated"
    (its closest sentence kept as `nearest`) when the best scores below `stated_at` and holds
    less than SUPPORT of the aspect's specific terms."""
    ctx, q = aspect.ctx, aspect.ctx.read
    stated_at = STATED if stated_at is None else stated_at
    hit, found = sources(paper, ctx)
    if not found:  # known by its title and metadata only: nothing to quote
        return Cell(aspect.text, NOT_STATED, False, note="the paper has no abstract or full text")
    scored = [(src, s, _choosing(src, s)) for src in found for s in [_scored(src, paper, ctx)]]
    src, s, by = max(scored, key=lambda x: _best(x[0], x[2]))
    passage, spans = src.passage, src.spans
    chosen = (
        _one_page(passage, spans, by, 1, q) if passage is not None else choose(by, CELL_SENTENCES, q.asks, q.details)
    )
    if not chosen:
        return Cell(aspect.text, NOT_STATED, False)
    score = float(np.max(s[chosen[0]]))
    lead = src.text[spans[chosen[0]][0] : spans[chosen[0]][1]]
    backs = support([lead], aspect.text, ctx.idf, paper.title)[0]
    if passage is not None:
        chosen = with_context(passage.text, spans, chosen)
    plan = Plan([hit], False, spans=[[spans[i] for i in chosen]], passages=[passage])
    _, citations = extractive(plan)
    if score < stated_at and backs < SUPPORT:
        return Cell(
            aspect.text, NOT_STATED, False, score=score, support=backs, nearest=citations[0] if citations else None
        )
    cited = [src.text[spans[i][0] : spans[i][1]].strip() for i in chosen]
    return Cell(aspect.text, " ".join(cited), True, citations, score=score, support=backs)
