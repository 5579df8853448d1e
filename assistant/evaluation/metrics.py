"""Evaluation metrics: pure functions of rankings and answer texts, and the answer-point grader."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

import numpy as np

from assistant.answering import prompts
from assistant.answering.prompts import (
    CLOSEST_PAPERS,
    EXTRACTIVE_INTRO,
    EXTRACTIVE_INTRO_FULL_TEXT,
    EXTRACTIVE_LIST_INTRO,
    EXTRACTIVE_LIST_WEAK_INTRO,
    NOT_COVERED,
)
from assistant.text import CITATION, ends_with_abbreviation, md_unescape, strip_markers, tokenize
from assistant.types import Answer

Complete = Callable[[str], str]  # an LLM as a plain function: prompt -> reply text
Grade = Callable[[str, list[str], str], "float | None"]  # (question, points, answer) -> share of points stated


# --- metrics: pure functions of rankings ------------------------------------------------------


def recall_at(ranking: list[str], relevant: Iterable[str], k: int) -> float:
    rel = set(relevant)
    if not rel:
        return 0.0
    return len(rel & set(ranking[:k])) / len(rel)


def reciprocal_rank(ranking: list[str], relevant: Iterable[str], k: int = 10) -> float:
    rel = set(relevant)
    for i, pid in enumerate(ranking[:k], 1):
        if pid in rel:
            return 1.0 / i
    return 0.0


def distinct(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def citation_precision(cited: list[str], relevant: Iterable[str]) -> float | None:
    cited = distinct(cited)
    if not cited:
        return None
    rel = set(relevant)
    return sum(c in rel for c in cited) / len(cited)


def claim_sentences(text: str) -> list[str]:
    """Sentences of an answer that state something (headings, intros and lists of titles don't)."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"^(?:[-*]\s+|\d+[.)]\s+)", "", line.strip())  # bullets and numbering, not **bold**
        if not line or line in _INTROS or line.startswith(CLOSEST_PAPERS):
            continue
        # A bold paper title (on its own line, or heading a list item) names a paper; it
        # states nothing, and a title's own "!" or "?" must not split the sentence after it.
        line = re.sub(r"\*\*[^*]+\*\*\s*(\[\d+\])?:?\s*", "", line)
        for s in _sentences(line):
            if len(re.findall(r"[A-Za-z]{3,}", s)) >= 4:
                out.append(s)
    return out


_INTROS = (EXTRACTIVE_INTRO, EXTRACTIVE_INTRO_FULL_TEXT, EXTRACTIVE_LIST_INTRO, EXTRACTIVE_LIST_WEAK_INTRO)


def _sentences(line: str) -> list[str]:
    """Split at sentence ends and at a citation marker followed by a capital, but not after
    an abbreviation: "etc. In" is not a boundary, as in the sentences answers are built from."""
    parts, start = [], 0
    for m in _CLAIM_BOUNDARY.finditer(line):
        if not ends_with_abbreviation(line[start : m.start()]):
            parts.append(line[start : m.start()])
            start = m.end()
    return parts + [line[start:]]


_CLAIM_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z])|(?<=\])\s+(?=[A-Z])")


def fully_cited(text: str, n_citations: int) -> bool:
    """Every claim sentence has at least one [n] marker and every marker is in 1..n."""
    sentences = claim_sentences(text)
    if not sentences:
        return False
    for s in sentences:
        nums = [int(m) for m in CITATION.findall(s)]
        if not nums or any(not 1 <= n <= n_citations for n in nums):
            return False
    return True


def point_recall(answer_text: str, point: str) -> float:
    """Lexical proxy for 'the answer states this point': share of the point's terms present."""
    pt = set(tokenize(point))
    if not pt:
        return 0.0
    return len(pt & set(tokenize(answer_text))) / len(pt)


def reader_text(text: str) -> str:
    """Text as a reader sees it: Markdown escapes undone, whitespace collapsed."""
    return " ".join(md_unescape(text).split())


def quoted_sentences(ans: Answer) -> list[str]:
    """The sentences an answer quotes from its papers, in the order the answer shows them."""
    text = reader_text(ans.text)
    found = []
    for c in ans.citations:
        source = c.context
        for s, e in c.spans:
            sentence = reader_text(source[s:e])
            at = text.find(sentence)
            found.append((at if at >= 0 else len(text), sentence))
    return [s for _, s in sorted(found, key=lambda x: x[0])]


def contains_gold(ans: Answer, gold: Iterable[str]) -> bool:
    """Does the answer quote one of the gold sentences in full?"""
    text = reader_text(ans.text)
    return any(reader_text(g) in text for g in gold)


def gold_first(ans: Answer, gold: Iterable[str]) -> bool:
    """Is the first sentence the answer quotes a gold sentence?"""
    quoted = quoted_sentences(ans)
    if not quoted:
        return False
    return any(reader_text(g) in quoted[0] or quoted[0] in reader_text(g) for g in gold)


# --- full text: the gold page and the gold span ----------------------------------------------

# Ligatures a PDF's fonts put in control-code slots (TeX's OT1 encoding in Type 3 fonts, as in
# R vignettes built with old bitmap fonts): no text has these characters for anything else.
_CONTROL_LIGATURES = str.maketrans({"\x1b": "ff", "\x1c": "fi", "\x1d": "fl", "\x1e": "ffi", "\x1f": "ffl"})
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "`": "'",
    }
)
# Every hyphen or dash with the spaces around it: "optimi- zation", "optimi-\nzation" and
# "optimization" read alike, as do "derivative-free" and "derivative- free".
_HYPHENS = re.compile(r"\s*[-\u00ad\u2010\u2011\u2012\u2013\u2014\u2212]\s*")


def span_text(text: str) -> str:
    """Text as a span is compared in: Markdown escapes undone, Unicode compatibility forms
    (ligatures, non-breaking spaces) and composed accents (NFKC), curly quotes straight,
    hyphens at line ends or not alike, case folded, and no whitespace at all -- PDF readers
    disagree on the spaces between words ("sup LM" / "supLM", "expen- ditures" /
    "expen ditures"), not on the words -- so a gold span copied from a page matches however a
    reader or an answer renders the same words."""
    text = unicodedata.normalize("NFKC", md_unescape(text).translate(_CONTROL_LIGATURES)).translate(_QUOTES)
    return "".join(_HYPHENS.sub("", text).split()).casefold()


def contains_span(texts: Iterable[str], span: str) -> bool:
    """Does one of the texts contain the span (compared as span_text reads them)?"""
    want = span_text(span)
    return bool(want) and any(want in span_text(t) for t in texts)


def answer_has_span(ans: Answer, span: str) -> bool:
    """Does the answer's text, or the quote of one of its citations, contain the gold span?"""
    return contains_span([ans.text, *(c.quote for c in ans.citations)], span)


def first_citation_on_page(ans: Answer, relevant: Iterable[str], pages: int | Iterable[int]) -> bool:
    """Is the answer's first citation a quote from the relevant paper, on a gold page?
    (A refusal, or a first citation of another paper or with no page, is not.)"""
    if not ans.citations:
        return False
    first = ans.citations[0]
    return first.paper.id in set(relevant) and first.page in ({pages} if isinstance(pages, int) else set(pages))


def evidence_has_span(texts: Iterable[str], span: str, n: int = 5) -> bool:
    """Is the gold span in one of the first `n` passages an answerer was given?"""
    return contains_span(list(texts)[:n], span)


def answer_words(ans: Answer) -> int:
    """Words of an answer, its markers left out."""
    return len(strip_markers(ans.text).split())


def refused(ans: Answer) -> bool:
    return not ans.covered or ans.text.startswith(NOT_COVERED)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks; nan for no values."""
    return float(np.percentile(values, q)) if values else float("nan")


# --- the answer-point grader -----------------------------------------------------------------

_VERDICT = re.compile(r"^\W*(\d+)[\s*_]*[:.)\-][\s*_]*(yes|no)\b(.*)$", re.I)  # "1: yes", "**2**: No"


def parse_verdicts(reply: str, n: int) -> list[bool] | None:
    """The grader's yes/no per point ("1: yes" lines), or None unless the reply gives exactly
    one clear verdict for each of the n points ("1: yes or no" is not a verdict)."""
    found: dict[int, bool] = {}
    for line in reply.splitlines():
        m = _VERDICT.match(line.strip())
        if not m:
            continue
        number, verdict = int(m.group(1)), m.group(2).lower() == "yes"
        if re.search(r"\b(yes|no)\b", m.group(3), re.I) or found.get(number, verdict) != verdict:
            return None
        found[number] = verdict
    if set(found) != set(range(1, n + 1)):
        return None
    return [found[i] for i in range(1, n + 1)]


def point_grader(complete: Complete) -> Grade:
    """Answer-point coverage judged by an LLM: one call per answer with prompts.GRADE_POINTS.
    Returns the share of points judged stated, or None when the reply is unreadable."""

    def grade(question: str, points: list[str], answer: str) -> float | None:
        prompt = prompts.GRADE_POINTS.format(
            question=question,
            answer=answer,
            n=len(points),
            points="\n".join(f"{i}. {p}" for i, p in enumerate(points, 1)),
        )
        verdicts = parse_verdicts(complete(prompt), len(points))
        return None if verdicts is None else sum(verdicts) / len(verdicts)

    return grade


def configured_llm(pa) -> Complete | None:
    """The assistant's own LLM as `complete(prompt) -> str`, or None (extractive backend).

    An LLM backend offers it as `pa.llm.complete`; this is the one place that knows."""
    if getattr(pa, "backend", "extractive") == "extractive":
        return None
    complete = getattr(getattr(pa, "llm", None), "complete", None)
    return complete if callable(complete) else None
