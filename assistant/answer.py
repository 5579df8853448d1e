"""Answers without an LLM: the best-matching sentences of the best papers, each cited.

Every sentence in an extractive answer is a verbatim sentence of the cited paper's
abstract followed by its [n] marker, so the answer cannot say anything the papers do
not.  Sentences are chosen by how much of the question's (IDF-weighted) vocabulary they
contain, with a nudge towards the passage the dense retriever matched and towards the
sentence that states the paper's contribution ("we propose ...").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from . import prompts
from .text import md_quote, md_title, sentence_spans, tokenize
from .types import Citation, Hit

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
                   favoured: tuple[int, int] | None, n: int, context_tokens: list[str] = ()) -> list[tuple[int, int]]:
    """The `n` best sentence spans of an abstract for a query, in abstract order.

    `context_tokens` (a follow-up's conversation) count a third as much as the question's
    own terms: the conversation picks the paper, the question picks the sentences.
    """
    spans = sentence_spans(abstract)
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
               context_tokens: list[str] = ()) -> tuple[str, list[Citation]]:
    """Answer text with [n] markers and the matching citations."""
    citations: list[Citation] = []
    blocks: list[str] = []
    many = len(plan.hits) > 1
    for number, hit in enumerate(plan.hits, 1):
        abstract = hit.paper.abstract
        if not abstract.strip():  # known by its title and metadata only: nothing to quote
            citations.append(Citation(number=number, paper=hit.paper, quote="", spans=[]))
            sentences = [f"{prompts.NO_ABSTRACT} [{number}]"]
        else:
            n = 3 if number == 1 and not plan.list_question else (1 if many else 3)
            spans = pick_sentences(abstract, query_tokens, idf, passage_span(hit), n, context_tokens)
            quote = abstract[spans[0][0]:spans[-1][1]]
            citations.append(Citation(number=number, paper=hit.paper, quote=quote, spans=spans))
            sentences = [f"{md_quote(abstract[s:e].strip())} [{number}]" for s, e in spans]
        if plan.list_question:
            blocks.append(f"{number}. **{md_title(hit.paper.title)}** [{number}]: " + " ".join(sentences))
        else:
            blocks.append(f"**{md_title(hit.paper.title)}** [{number}]\n" + "\n".join(f"- {x}" for x in sentences))
    intro = prompts.EXTRACTIVE_LIST_INTRO if plan.list_question else prompts.EXTRACTIVE_INTRO
    return intro + "\n\n" + "\n\n".join(blocks), citations


def not_covered(closest: list[Hit], detail: str = prompts.NOT_COVERED_DETAIL) -> str:
    text = f"{prompts.NOT_COVERED} {detail}"
    if closest:
        text += "\n\n" + prompts.CLOSEST_PAPERS + " " + "; ".join(f"*{md_title(h.paper.title)}*" for h in closest[:3])
    return text
