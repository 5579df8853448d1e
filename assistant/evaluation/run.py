"""Evaluation on a question set (the format of examples/dev_questions.jsonl, described in
examples/EVAL_FORMAT.md).  The entry point is `assistant.evaluate(pa, questions) -> EvalReport`
(assistant/evaluation/report.py), which `paper-assistant eval` runs.

Retrieval is scored at paper level (chunks collapsed to distinct papers, rank order
kept): recall@1, recall@5 and MRR@10 for `single` and `followup`, recall@10 for `multi`,
refusal rate on `none` and false-refusal rate on the rest.  A full-text question
(`gold_page`, `gold_span`) is also scored for the page of the first citation and for the
gold span in the answer or its quotes.  Answers are scored for
citation precision (cited papers that are relevant), citation completeness (every
sentence that makes a claim carries a valid [n]) and, when a grader LLM is available,
answer-point coverage; without one a lexical proxy is reported and labelled as such.

This module runs one system over the questions (metrics.py scores each answer);
report.py runs the comparison and renders the report.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.answering.fidelity import check_answer
from assistant.evaluation.metrics import (
    Grade,
    answer_has_span,
    answer_words,
    citation_precision,
    contains_gold,
    contains_span,
    distinct,
    evidence_has_span,
    first_citation_on_page,
    fully_cited,
    gold_first,
    point_recall,
    quoted_sentences,
    recall_at,
    reciprocal_rank,
    refused,
)
from assistant.evaluation.questions import gold_pages, relevant_ids, title_index
from assistant.types import Answer

# --- running -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """What a ranking-only system (a baseline) returns first: the chunk it ranks highest, with
    its paper, the 1-based PDF page it is on (None: not from a PDF) and its text."""

    paper_id: str
    page: int | None
    text: str


@dataclass
class QuestionResult:
    id: str
    type: str
    question: str
    ranking: list[str]
    relevant: list[str]
    refused: bool
    cited: list[str] = field(default_factory=list)
    fully_cited: bool | None = None
    point_proxy: float | None = None
    point_llm: float | None = None
    grade_note: str = ""  # why an answer that should have been graded was not
    fallback: str = ""  # the answer came from the extractive fallback, and why
    seconds: float = 0.0  # retrieval (+ answer) time, grading excluded
    answer: str = ""
    gold: bool | None = None  # the answer quotes one of the question's gold sentences (when it has some)
    gold_first: bool | None = None  # ... and quotes it first
    words: int | None = None  # length of an answer that was not a refusal (a baseline: of its top chunk)
    quoted: int | None = None  # sentences it quotes
    llm_shown: bool | None = None  # an LLM wrote the answer, and it was shown (not the extractive fallback)
    shown_sentences: int = 0  # sentences of a shown LLM answer ...
    unsupported: int = 0  # ... that carry a number or name their cited passages lack
    first_page: int | None = None  # the page of the first citation (a baseline: of its top chunk); None: no page
    page: bool | None = None  # full text: the first citation (a baseline: its top chunk) is on the gold page
    span: bool | None = None  # ... the answer or its quotes (a baseline: its top chunk) contain the gold span
    evidence: bool | None = (
        None  # ... the first 5 passages the answer was written from (a baseline: its top 5 chunks) do
    )
    where: str = ""  # where the answer is: "body", "abstract", "metadata" ("" when the set does not say)

    def metrics(self) -> dict[str, float]:
        m: dict[str, float] = {}
        if self.type in ("single", "followup"):
            m.update(
                r1=recall_at(self.ranking, self.relevant, 1),
                r5=recall_at(self.ranking, self.relevant, 5),
                mrr10=reciprocal_rank(self.ranking, self.relevant, 10),
            )
        elif self.type == "multi":
            m.update(r10=recall_at(self.ranking, self.relevant, 10))
        if self.type == "none":
            m["refusal"] = float(self.refused)
        else:
            m["false_refusal"] = float(self.refused)
            cp = citation_precision(self.cited, self.relevant)
            if cp is not None:
                m["citation_precision"] = cp
            if self.fully_cited is not None and not self.refused:
                m["fully_cited"] = float(self.fully_cited)
            if self.point_proxy is not None and not self.refused:
                m["points_proxy"] = self.point_proxy
            if self.point_llm is not None:
                m["points"] = self.point_llm
            if self.gold is not None:
                m["gold"], m["gold_first"] = float(self.gold), float(bool(self.gold_first))
            if self.page is not None:
                m["page"] = float(self.page)
            if self.span is not None:
                m["span"] = float(self.span)
            if self.evidence is not None:
                m["evidence5"] = float(self.evidence)
            if self.words is not None and not self.refused:
                m["words"] = float(self.words)
                if self.quoted is not None:
                    m["quoted"] = float(self.quoted)
            if self.llm_shown is not None:
                m["llm_shown"] = float(self.llm_shown)
                if self.shown_sentences:
                    m["unsupported_details"] = self.unsupported / self.shown_sentences
        return m

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds"] = round(self.seconds, 4)
        d["metrics"] = {k: round(v, 4) for k, v in self.metrics().items()}
        return d


def evaluate_system(
    questions: list[dict],
    titles: dict[str, str],
    rank_fn: Callable[[dict], list[str]],
    answer_fn: Callable[[dict], Answer] | None = None,
    *,
    grade_fn: Grade | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunks_fn: Callable[[dict], list[Chunk]] | None = None,
) -> list[QuestionResult]:
    """Score a system given as functions: rank_fn(question) -> ranked paper ids,
    answer_fn(question) -> Answer (optional), grade_fn(question, points, answer) -> 0..1 (optional),
    chunks_fn(question) -> the ranked chunks of a system that writes no answers (optional): its
    top chunk's page and text stand for the first citation's page and the answer, its top 5
    for the passages an answer is written from, on full-text questions.

    A grader that raises is not called again (its error is kept on the result)."""
    results = []
    for i, q in enumerate(questions, 1):
        rel = relevant_ids(q, titles)
        t = time.perf_counter()
        ans = answer_fn(q) if answer_fn is not None else None
        ranking = distinct(rank_fn(q))[:10]
        res = QuestionResult(q["id"], q["type"], q["question"], ranking, rel, refused=False, where=q.get("where", ""))
        ranks_chunks = ans is None and chunks_fn is not None
        chunks = chunks_fn(q) if ranks_chunks else []
        res.seconds = time.perf_counter() - t
        if ans is not None:
            grade_fn = _score_answer(res, q, ans, grade_fn)
        elif ranks_chunks:
            _score_top_chunks(res, q, chunks)
        results.append(res)
        if progress:
            progress(i, len(questions))
    return results


def _score_top_chunks(res: QuestionResult, q: dict, chunks: list[Chunk]) -> None:
    """What a system that only ranks shows for a full-text question: its top chunk's page and
    text, and its top 5 chunks as the passages an answer would be written from."""
    top = chunks[0] if chunks else None
    pages = gold_pages(q)
    res.first_page = top.page if top is not None else None
    if q["type"] != "none" and pages and q.get("where") != "metadata":
        res.page = top is not None and top.paper_id in res.relevant and top.page in pages
    if top is not None and pages:
        res.words = len(top.text.split())
    if q["type"] != "none" and q.get("gold_span"):
        res.span = top is not None and contains_span([top.text], q["gold_span"])
        res.evidence = evidence_has_span([c.text for c in chunks], q["gold_span"])


def _score_answer(res: QuestionResult, q: dict, ans: Answer, grade_fn: Grade | None) -> Grade | None:
    """Score an answer into `res`; returns the grader for the next questions (None once it failed)."""
    res.first_page = ans.citations[0].page if ans.citations else None
    if q["type"] != "none" and gold_pages(q) and q.get("where") != "metadata":
        res.page = first_citation_on_page(ans, res.relevant, gold_pages(q))
    if q["type"] != "none" and q.get("gold_span"):
        res.span = answer_has_span(ans, q["gold_span"])
        res.evidence = evidence_has_span([p.text for p in ans.evidence], q["gold_span"])
    res.refused = refused(ans)
    res.cited = [c.paper.id for c in ans.citations]
    res.answer = ans.text
    res.fallback = ans.fallback
    if ans.verification is not None or ans.fallback:  # an LLM was asked: shown? every detail in its sources?
        res.llm_shown = not ans.fallback
        if res.llm_shown:
            checks = check_answer(ans.text, {c.number: [c.quote, c.paper.title] for c in ans.citations})
            res.shown_sentences, res.unsupported = len(checks), sum(bool(c.missing) for c in checks)
    if q.get("gold_sentences"):
        res.gold = contains_gold(ans, q["gold_sentences"])
        res.gold_first = gold_first(ans, q["gold_sentences"])
    if res.refused:
        return grade_fn
    res.words, res.quoted = answer_words(ans), len(quoted_sentences(ans))
    res.fully_cited = fully_cited(ans.text, len(ans.citations))
    if not q["answer_points"]:
        return grade_fn
    res.point_proxy = statistics.mean(point_recall(ans.text, p) for p in q["answer_points"])
    return _grade(res, q, ans.text, grade_fn) if grade_fn is not None else None


def _grade(res: QuestionResult, q: dict, answer: str, grade_fn: Grade) -> Grade | None:
    """The grader's figure for an answer into `res`; returns the grader, or None when it failed."""
    try:
        res.point_llm = grade_fn(q["question"], q["answer_points"], answer)
        res.grade_note = "" if res.point_llm is not None else "unreadable grader reply"
    except Exception as e:  # noqa: BLE001 - an unreachable grader ends grading, not the run
        res.grade_note = f"grader failed: {type(e).__name__}: {e}"
        return None
    return grade_fn


def summarize(results: list[QuestionResult]) -> dict[str, dict[str, float]]:
    """Mean of every metric per question type and overall."""
    table: dict[str, dict[str, list[float]]] = {}
    for r in results:
        for key in (r.type, "overall", *([f"where:{r.where}"] if r.where else [])):
            for name, v in r.metrics().items():
                table.setdefault(key, {}).setdefault(name, []).append(v)
    return {t: {n: statistics.mean(v) for n, v in ms.items()} for t, ms in table.items()}


def evaluate_assistant(
    pa, questions: list[dict], grade_fn: Grade | None = None, k: int = 10, progress=None
) -> list[QuestionResult]:
    """Score a PaperAssistant (one ask per question: its hits are the ranking)."""
    cache: dict[str, Answer] = {}

    def answer(q: dict) -> Answer:
        if q["id"] not in cache:
            cache[q["id"]] = pa.ask(q["question"], history=q["history"] or None, k=k)
        return cache[q["id"]]

    return evaluate_system(
        questions,
        title_index(pa.papers),
        lambda q: [h.paper.id for h in answer(q).hits],
        answer,
        grade_fn=grade_fn,
        progress=progress,
    )
