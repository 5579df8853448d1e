"""Answers without an LLM: the best-matching sentences of the best papers, each cited.

Every sentence in an extractive answer is a verbatim sentence of the cited paper's
abstract followed by its [n] marker, so the answer cannot say anything the papers do
not.  Sentences are chosen by how much of the question's (IDF-weighted) vocabulary they
contain, with a nudge towards the passage the dense retriever matched and towards the
sentence that states the paper's contribution ("we propose ...").
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from . import prompts
from .chunking import body_sentences
from .text import md_quote, md_title, sentence_spans, tokenize
from .types import Citation, Hit, Passage

_CONTRIBUTION = re.compile(r"\b(we (propose|introduce|present|develop|design|release|find|show)|this paper|in this (paper|work))\b", re.I)


@dataclass
class Plan:
    """What an answer will cite: hits in citation order (number = position + 1)."""

    hits: list[Hit]
    list_question: bool


def plan_citations(hits: list[Hit], list_question: bool, max_papers: int) -> Plan:
    """Which retrieved papers an answer should draw on.

    The top paper always; for "which papers..." questions, every paper scoring at least
    60% of the top fused score (up to max_papers); otherwise only near ties (85%), since
    citing a second-best paper for a one-paper question only adds noise.
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


def pick_sentences(abstract: str, query_tokens: list[str], idf: Callable[[str], float],
                   favoured: tuple[int, int] | None, n: int, context_tokens: list[str] = (),
                   spans: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """The `n` best sentence spans of an abstract for a query, in abstract order.

    `context_tokens` (a follow-up's conversation) count a third as much as the question's
    own terms: the conversation picks the paper, the question picks the sentences.
    `spans`: the sentences to choose from (default: the abstract's; a body passage's never
    run over a page break -- chunking.body_sentences).
    """
    spans = sentence_spans(abstract) if spans is None else spans
    if not spans:
        return [(0, len(abstract))]
    weights = {t: idf(t) / 3 for t in set(context_tokens)}
    weights.update({t: idf(t) for t in set(query_tokens)})
    total = sum(weights.values()) or 1.0
    scored = []
    for i, (s, e) in enumerate(spans):
        toks = set(tokenize(abstract[s:e]))
        score = sum(w for t, w in weights.items() if t in toks) / total
        if favoured and s >= favoured[0] and e <= favoured[1]:
            score += 0.15
        if _CONTRIBUTION.search(abstract[s:e]):
            score += 0.1
        scored.append((score, -i, (s, e)))
    scored.sort(reverse=True)
    best = [span for score, _, span in scored[:n] if score > 0] or [scored[0][2]]
    return sorted(best)


def extractive(plan: Plan, query_tokens: list[str], idf: Callable[[str], float],
               passage_span: Callable[[Hit], tuple[int, int] | None],
               context_tokens: list[str] = (),
               nearby: Callable[[Hit], list[Passage]] | None = None) -> tuple[str, list[Citation]]:
    """Answer text with [n] markers and the matching citations.  `nearby(hit)`: the body
    passages around a full-text hit's best one (in order, itself included) that may be quoted
    instead of it."""
    citations: list[Citation] = []
    blocks: list[str] = []
    many = len(plan.hits) > 1
    for number, hit in enumerate(plan.hits, 1):
        abstract = hit.paper.abstract
        n = 3 if number == 1 and not plan.list_question else (1 if many else 3)
        if hit.passage is not None and hit.passage.in_body:  # full text: quote the body passage, on one page
            around = nearby(hit) if nearby is not None else [hit.passage]
            citation = body_citation(number, hit, query_tokens, idf, n, context_tokens, around)
            citations.append(citation)
            sentences = [f"{md_quote(s.strip())} [{number}]" for s in citation.sentences]
        elif not abstract.strip():  # known by its title and metadata only: nothing to quote
            citations.append(Citation(number=number, paper=hit.paper, quote="", spans=[]))
            sentences = [f"{prompts.NO_ABSTRACT} [{number}]"]
        else:
            spans = pick_sentences(abstract, query_tokens, idf, passage_span(hit), n, context_tokens)
            quote = abstract[spans[0][0]:spans[-1][1]]
            citations.append(Citation(number=number, paper=hit.paper, quote=quote, spans=spans))
            sentences = [f"{md_quote(abstract[s:e].strip())} [{number}]" for s, e in spans]
        if plan.list_question:
            blocks.append(f"{number}. **{md_title(hit.paper.title)}** [{number}]: " + " ".join(sentences))
        else:
            blocks.append(f"**{md_title(hit.paper.title)}** [{number}]\n" + "\n".join(f"- {x}" for x in sentences))
    intro = (prompts.EXTRACTIVE_LIST_INTRO if plan.list_question else
             prompts.EXTRACTIVE_INTRO_FULL_TEXT if any(c.passage is not None for c in citations) else
             prompts.EXTRACTIVE_INTRO)
    return intro + "\n\n" + "\n\n".join(blocks), citations


def body_citation(number: int, hit: Hit, query_tokens: list[str], idf: Callable[[str], float], n: int,
                  context_tokens: list[str] = (), around: list[Passage] = ()) -> Citation:
    """A citation of the best sentences of a hit's body passage -- or of the passage `around` it
    holding the best sentence (the hit's own is favoured, as the matched passage of an
    abstract is) -- all on the page of the best one, so the quote is verbatim from that page."""
    passage = hit.passage
    if len(around) > 1 and passage in around:
        joined = "\n".join(p.text for p in around)  # a line break: no sentence runs from one into the next
        starts = list(itertools.accumulate([0] + [len(p.text) + 1 for p in around[:-1]]))
        own = starts[around.index(passage)]
        top = pick_sentences(joined, query_tokens, idf, (own, own + len(passage.text)), 1, context_tokens,
                             spans=body_sentences(joined))[0]
        passage = around[bisect.bisect_right(starts, top[0]) - 1]
    sentences = body_sentences(passage.text)
    best = pick_sentences(passage.text, query_tokens, idf, None, 1, context_tokens, spans=sentences)[0]
    page = passage.page_at(best[0])
    spans = [sp for sp in pick_sentences(passage.text, query_tokens, idf, None, n, context_tokens, spans=sentences)
             if passage.page_at(sp[0]) == page]
    if best not in spans:
        spans = sorted(spans[:n - 1] + [best])
    quote = passage.text[spans[0][0]:spans[-1][1]]
    return Citation(number=number, paper=hit.paper, quote=quote, spans=spans, page=page, section=passage.section,
                    passage=passage)


def not_covered(closest: list[Hit], detail: str = prompts.NOT_COVERED_DETAIL) -> str:
    text = f"{prompts.NOT_COVERED} {detail}"
    if closest:
        text += "\n\n" + prompts.CLOSEST_PAPERS + " " + "; ".join(f"*{md_title(h.paper.title)}*" for h in closest[:3])
    return text
