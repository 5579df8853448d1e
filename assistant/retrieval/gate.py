"""The relevance gate: does the collection answer a question, or should the answer say it does not."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Protocol

from assistant.text import abbreviation_terms, specificity, term, tokenize
from assistant.types import Hit


def term_coverage(
    query_tokens: list[str],
    doc_tokens: set[str],
    idf: Callable[[str], float],
    specificity: dict[str, float] | None = None,
) -> float:
    """Weighted share of the query's terms that occur in the document (0..1).

    A term weighs its IDF in the collection times its specificity in everyday English
    (keyword.specificity; 1 when not given).  A term no paper contains has the highest IDF,
    so a question about something the collection never mentions ("watermarking", "R2R")
    scores low even when its generic words ("image", "model") match everywhere; but a
    missing *common* word ("messy", "plain", "responds") is how people paraphrase, not a
    sign the topic is missing, and weighs little.
    """
    spec = specificity or {}
    weight = {t: idf(t) * spec.get(t, 1.0) for t in set(query_tokens)}
    total = sum(weight.values())
    if total <= 0:
        return 0.0
    return sum(w for t, w in weight.items() if t in doc_tokens) / total


NAMED_MATCH_BONUS = 0.3

_WORD = re.compile(r"[A-Za-z0-9]+")


def named_terms(question: str) -> list[str]:
    """Words that look like names of methods, models or datasets as typed: ZeroTA, VLAP,
    MMVP, DenseFusion-1M (inner capitals, several capitals, or letters with digits)."""
    out = []
    for w in _WORD.findall(question):
        caps = sum(c.isupper() for c in w)
        has_digit = any(c.isdigit() for c in w) and any(c.isalpha() for c in w)
        if len(w) >= 3 and (caps >= 2 or (caps and not w[0].isupper()) or has_digit):
            out.append(w)
    return out


def relevance(best_passage_cosine: float, coverage: float, named_match: bool = False) -> float:
    """Evidence that the collection answers the question: semantic closeness of the best
    passage plus lexical coverage of the question's terms by the best papers, plus a bonus
    when the question names something (ZeroTA, MMVP) that only a few papers mention and a
    top paper does: the strongest sign there is that the question is about those papers,
    and one a short question with a few unfamiliar words would otherwise lose."""
    return best_passage_cosine + coverage + (NAMED_MATCH_BONUS if named_match else 0.0)


class TermStats(Protocol):
    """What the gate needs to know of the collection's vocabulary (the keyword index has it)."""

    def __len__(self) -> int: ...
    def df(self, token: str) -> int: ...
    def idf(self, token: str) -> float: ...
    def terms(self, paper_id: str) -> list[str]: ...


# A full-text paper's coverage is measured over more text than an abstract's (its title,
# abstract and up to three passages), so it must cover more: its coverage counts this much
# less (docs/quality.md, "Why the constants are what they are").
FULL_TEXT_MARGIN = 0.2


def gate(
    question: str,
    query: str,
    query_tokens: list[str],
    best_passage_cosine: float,
    top_papers: list[set[str]],
    stats: TermStats,
    *,
    full_text: list[bool] | None = None,
) -> float:
    """The relevance score of a retrieval: the best passage's cosine, the coverage of the
    query's specific terms by the best of the top papers (`top_papers`: their terms; a
    full-text paper's less FULL_TEXT_MARGIN, `full_text` saying which are), and the
    named-match bonus for a name (as typed in the question) that a few papers mention and
    a top paper contains.  The question is covered when this reaches min_relevance."""
    spec = specificity(query)
    full_text = full_text or [False] * len(top_papers)
    coverage = max(
        (
            term_coverage(query_tokens, t, stats.idf, spec) - (FULL_TEXT_MARGIN if ft else 0.0)
            for t, ft in zip(top_papers, full_text)
        ),
        default=0.0,
    )
    rare = max(3, len(stats) // 50)  # a name a few papers mention, not a field-wide acronym
    named = {t for w in named_terms(question) for t in tokenize(w) if stats.df(t) <= rare}
    return relevance(best_passage_cosine, coverage, any(named & t for t in top_papers))


GATE_PASSAGES = 3  # passages of a full-text paper the gate looks for the question's terms in


def gate_text(hit: Hit, dense: list) -> str:
    """The text whose terms the gate looks for the question's in: title and abstract -- and for
    a full-text paper its best passages (up to GATE_PASSAGES of the dense candidates, else the
    hit's passage), not its whole body: a 50-page paper contains nearly any word, which would
    let almost every question through.  A question about a body detail often spreads its terms
    over neighbouring passages; the gate then asks a full-text paper to cover more
    (FULL_TEXT_MARGIN)."""
    text = hit.paper.title + " " + hit.paper.abstract
    if not hit.paper.full_text:
        return text
    best = [d for d in dense if d.paper_id == hit.paper.id][:GATE_PASSAGES]  # looked up only these
    own = [hit.passage if d.passage_index == hit.passage_index else d.passage for d in best]
    own = [p for p in own if p is not None] or ([hit.passage] if hit.passage is not None else [])
    return " ".join([text, *(p.text for p in own)])


# A word rarer than this in everyday English (zipf) is a name or an identifier -- Vuong, rlen,
# R0, proto3 -- not a paraphrase; "worsen" or "downside" are paraphrases (docs/quality.md).
UNFAMILIAR_ZIPF = 2.5


def unfamiliar_words(question: str) -> list[str]:
    """The question's words, as typed, that are not everyday English: names and identifiers."""
    from wordfreq import zipf_frequency

    words = dict.fromkeys(w for w in _WORD.findall(question) if len(w) >= 2 and not w.isdigit() and term(w))
    return [w for w in words if zipf_frequency(w.lower(), "en") < UNFAMILIAR_ZIPF]


def unmentioned(question: str, paper_terms: Collection[str], text: Callable[[], str]) -> list[str]:
    """The question's unfamiliar words a paper never mentions: none of its terms is the word or
    contains it ("2e" is in "latex2e"), and its `text` does not spell it out (SVM)."""
    terms = set(paper_terms)
    missing = [w for w in unfamiliar_words(question) if term(w) not in terms]
    missing = [w for w in missing if not any(term(w) in t for t in terms)]
    if missing:
        spelled = abbreviation_terms(question, text())
        missing = [w for w in missing if term(w) not in spelled]
    return missing
