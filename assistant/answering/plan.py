"""Answers without an LLM: the sentences of the best papers that answer the question, each cited.

Every sentence in an extractive answer is a verbatim sentence of the cited paper's
abstract followed by its [n] marker, so the answer cannot say anything the papers do
not.  Which sentences, in which order, focus.py decides (scored against the question
itself); this module decides which papers an answer cites and writes it.  A paper is
cited only when one of its sentences backs the question (`supported`): in a "which
papers" answer a paper that only shares vocabulary with the question is left out, and
each paper is quoted with a sentence that backs it.  An LLM is given the same papers.

A full-text paper whose best passage is in its body is quoted from the body instead
(`quotable`): from that passage, the one before or after it in its section, a runner-up or
the abstract, whichever holds the best sentence, and only sentences on the page of the best
one, so the quote is verbatim from one page (Citation.page).  The best sentence of another of
those passages is quoted too, cited to its own page, when it scores KEEP of the best (`_also`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from assistant.answering.context import AnswerContext, Plan
from assistant.answering.sentences import KEEP, Question, choose, score_sentences, sentence_scores
from assistant.ingest.chunking import body_sentences
from assistant.retrieval.gate import term_coverage
from assistant.retrieval.query import dense_query, is_list_question
from assistant.text import abbreviation_terms, sentence_spans, specificity, tokenize
from assistant.types import Hit, Passage

SUPPORT = 0.4  # a paper is cited only if a sentence has this share of the question's specific terms
STAY = 0.1  # a neighbour or runner-up is quoted instead of the best passage only when its sentence beats by this

# --- which papers an answer cites -----------------------------------------------------------


def plan_citations(hits: list[Hit], list_question: bool, max_papers: int) -> Plan:
    """Which retrieved papers an answer may draw on.

    The top paper always; for "which papers..." questions, every paper scoring at least
    60% of the top fused score (up to max_papers); otherwise only near ties (85%), since
    citing a second-best paper for a one-paper question only adds noise.  `supported`
    then keeps those whose sentences back the question.
    """
    if not hits:
        return Plan([], list_question)
    top = hits[0].score
    ratio = 0.6 if list_question else 0.85
    chosen = [hits[0]]
    for h in hits[1:max_papers]:
        if top > 0 and h.score >= ratio * top:
            chosen.append(h)
    return Plan(chosen, list_question)


def support(sentences: Sequence[str], question: str, idf: Callable[[str], float], title: str = "") -> list[float]:
    """How well each sentence, read under its paper's title, backs a question: the share of
    the question's terms it contains, each weighted by IDF times its specificity in
    everyday English (retrieve.term_coverage, as the relevance gate weighs them), so
    "multilingual" or "hallucination" count and "model" or "images" hardly do."""
    asked = dense_query(question)
    terms, spec, named = tokenize(asked), specificity(asked), set(tokenize(title))
    return [term_coverage(terms, set(tokenize(s)) | named | abbreviation_terms(asked, s), idf, spec) for s in sentences]


class Quotable(NamedTuple):
    """What an answer quotes a hit from."""

    text: str  # the body passage's text, or the abstract
    spans: list[tuple[int, int]]  # its sentences
    favoured: tuple[int, int] | None  # the abstract span retrieval matched
    passage: Passage | None  # the body passage `text` is (None: the abstract)
    # the best sentence of another passage it weighed (a body passage or the abstract's), when
    # it scores KEEP of the best: quoted too, cited to its own page
    also: tuple[Passage, tuple[int, int]] | None = None


def quotable(hit: Hit, ctx: AnswerContext) -> Quotable:
    """What an answer quotes a hit from: (text, its sentence spans, the span retrieval matched,
    the body passage the text is -- None for the abstract).  The hit's best body passage, a
    neighbour, a runner-up or the abstract (`ctx.quotes.nearby`), whichever holds the
    best-scoring sentence, the best one favoured by STAY; body sentences never run over a page."""
    best, also = hit.passage, None
    if best is None or not best.in_body:
        abstract = hit.paper.abstract
        return Quotable(abstract, sentence_spans(abstract) or [(0, len(abstract))], ctx.quotes.span(hit), None)
    around = ctx.quotes.nearby(hit)
    if len(around) > 1:
        items = [(p, sp) for p in around for sp in (body_sentences(p.text) if p.in_body else sentence_spans(p.text))]
        texts = [p.text[a:b] for p, (a, b) in items]
        inside = [p.index == best.index for p, _ in items]
        scores = score_sentences(
            texts,
            ctx.read,
            ctx.idf,
            ctx.vectors(texts) if ctx.vectors is not None else None,
            in_passage=inside,
            title=hit.paper.title,
            body=True,
        )
        scores += STAY * np.array(inside, dtype=float)[:, None]
        ctx.weighed[hit.paper.id] = _best_first([p for p, _ in items], scores.max(axis=1))
        lead = choose(scores, 1, ctx.read.asks, ctx.read.details)
        best = items[lead[0]][0] if lead else best
        also = _also(items, scores.max(axis=1), best)
        if not best.in_body:  # the abstract answers best: quoted as an abstract is
            abstract = hit.paper.abstract
            return Quotable(
                abstract, sentence_spans(abstract) or [(0, len(abstract))], (best.start, best.end), None, also
            )
    return Quotable(best.text, body_sentences(best.text) or [(0, len(best.text))], None, best, also)


def _also(
    items: list[tuple[Passage, tuple[int, int]]], scores: np.ndarray, lead: Passage
) -> tuple[Passage, tuple[int, int]] | None:
    """The best sentence of a passage other than the lead's, when it scores KEEP of the best (the
    bar of a runner-up sentence anywhere)."""
    others = [i for i, (p, _) in enumerate(items) if p.index != lead.index]
    if not others or scores.max() <= 0:
        return None
    i = max(others, key=lambda i: scores[i])
    return items[i] if scores[i] >= KEEP * scores.max() else None


def _best_first(passages: list[Passage], sentence_scores: np.ndarray) -> list[Passage]:
    """The passages of these sentences, by their best sentence's score, best first."""
    best: dict[int, tuple[float, Passage]] = {}
    for p, score in zip(passages, sentence_scores):
        if p.index not in best or score > best[p.index][0]:
            best[p.index] = (float(score), p)
    return [p for _, p in sorted(best.values(), key=lambda x: -x[0])]


def _one_page(passage: Passage, spans: list[tuple[int, int]], s: np.ndarray, n: int, q: Question) -> list[int]:
    """`choose` among the sentences on the page of the best one only."""
    lead = choose(s, 1, q.asks, q.details)
    if not lead:
        return []
    page = passage.page_at(spans[lead[0]][0])
    on_page = np.array([passage.page_at(a) == page for a, _ in spans])
    return [i for i in choose(np.where(on_page[:, None], s, s - 100.0), n, q.asks, q.details) if on_page[i]]


# A body sentence that points back to the one before it ("This is why ...", "Such notes ...").
_REFERS_BACK = re.compile(
    r"^\W*(this|these|that|those|such|it|its|they|their|here|there|thus|hence|therefore|"
    r"however|consequently|accordingly|otherwise|instead|then|the (former|latter))\b",
    re.I,
)


def with_context(text: str, spans: list[tuple[int, int]], chosen: list[int]) -> list[int]:
    """The chosen sentences of a body passage and the context of the first (the best): the
    sentence after it, and the one before it when it points back ("This is ...") -- both only
    in its paragraph.  An abstract's sentences are written to stand alone; a body's lean on
    their neighbours: the default is stated in the sentence after the one that names the
    argument, the reason in the sentence before "This is the primary reason ...".  The best
    sentence and its context come first, in the order of the passage; then the others."""
    lead = chosen[0]

    def same_paragraph(i: int, j: int) -> bool:
        return 0 <= min(i, j) and max(i, j) < len(spans) and "\n" not in text[spans[min(i, j)][1] : spans[max(i, j)][0]]

    block = [lead, lead + 1] if same_paragraph(lead, lead + 1) else [lead]
    if _REFERS_BACK.match(text[spans[lead][0] : spans[lead][1]]) and same_paragraph(lead - 1, lead):
        block.insert(0, lead - 1)
    return block + [i for i in chosen[1:] if i not in block]


def supported(plan: Plan, ctx: AnswerContext) -> Plan:
    """The plan with each paper's sentences chosen, citing only papers that back the question.

    A paper other than the top one is cited only when one of its sentences contains at
    least SUPPORT of the question's specific terms (`support`): a paper that merely shares
    vocabulary with the question is left out.  For a "which papers" question the top paper
    must pass too (when none passes, the paper that comes closest is cited); for any other
    question the relevance gate has already vouched for the top paper.  The top paper of a one-paper answer quotes up to 3 sentences;
    in a list each paper quotes its best sentence among those that back the question."""
    q, idf = ctx.read, ctx.idf
    papers = []
    for hit in plan.hits:
        text, spans, favoured, passage, also = quotable(hit, ctx)
        backs = support([text[s:e] for s, e in spans], ctx.question, idf, hit.paper.title)
        papers.append((hit, text, spans, favoured, passage, also, backs))
    if not papers:
        return plan
    kept = [p for k, p in enumerate(papers) if max(p[-1]) >= SUPPORT or (k == 0 and not plan.list_question)]
    weak = not kept
    if weak:  # a list question no paper backs well: the one that backs it best, said to be the closest
        kept = [max(papers, key=lambda p: max(p[-1]))]
    out = Plan([], plan.list_question, weak=weak)
    many = len(kept) > 1
    for k, (hit, text, spans, favoured, passage, also, backs) in enumerate(kept):
        s = sentence_scores(
            text, spans, q, idf, favoured=favoured, vectors=ctx.vectors, title=hit.paper.title, body=passage is not None
        )
        if many and (plan.list_question or k > 0):
            ok = np.array([b >= SUPPORT for b in backs])
            s = np.where(ok[:, None], s, s - 10.0) if ok.any() else s  # quote a sentence that backs the question
            n = 1
        else:
            n = 3
        chosen = _one_page(passage, spans, s, n, q) if passage is not None else choose(s, n, q.asks, q.details)
        if passage is not None and chosen:
            chosen = with_context(passage.text, spans, chosen)
        out.hits.append(hit)
        out.spans.append([spans[i] for i in chosen])
        out.passages.append(passage)
        out.also.append(also if n > 1 and chosen else None)
    return out


def answer_plan(ctx: AnswerContext, max_papers: int) -> Plan:
    """The papers an answer cites, with their sentences chosen (`supported`): the extractive
    answer writes the plan out; an LLM is given the plan's papers."""
    plan = plan_citations(ctx.retrieval.hits, is_list_question(ctx.question), max_papers)
    plan.hits = [ctx.quotes(h) for h in plan.hits]
    return supported(plan, ctx)
