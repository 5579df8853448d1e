"""Evaluation on a question set (the format of examples/dev_questions.jsonl).

Retrieval is scored at paper level (chunks collapsed to distinct papers, rank order
kept): recall@1, recall@5 and MRR@10 for `single` and `followup`, recall@10 for `multi`,
refusal rate on `none` and false-refusal rate on the rest.  Answers are scored for
citation precision (cited papers that are relevant), citation completeness (every
sentence that makes a claim carries a valid [n]) and, when a grader LLM is available,
answer-point coverage; without one a lexical proxy is reported and labelled as such.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .keyword import tokenize
from .papers import read_jsonl
from .prompts import CLOSEST_PAPERS, EXTRACTIVE_INTRO, EXTRACTIVE_LIST_INTRO, NOT_COVERED
from .types import Answer

QUESTION_TYPES = ("single", "followup", "multi", "none")
_MARKER = re.compile(r"\[(\d+)\]")


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
        line = line.strip().lstrip("-*0123456789. ").strip()
        if not line or line in (EXTRACTIVE_INTRO, EXTRACTIVE_LIST_INTRO) or line.startswith(CLOSEST_PAPERS):
            continue
        if re.fullmatch(r"\*\*.*\*\*\s*(\[\d+\])?:?", line):  # a bold title line
            continue
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])|(?<=\])\s+(?=[A-Z])", line):
            if len(re.findall(r"[A-Za-z]{3,}", s)) >= 4:
                out.append(s)
    return out


def fully_cited(text: str, n_citations: int) -> bool:
    """Every claim sentence has at least one [n] marker and every marker is in 1..n."""
    sentences = claim_sentences(text)
    if not sentences:
        return False
    for s in sentences:
        nums = [int(m) for m in _MARKER.findall(s)]
        if not nums or any(not 1 <= n <= n_citations for n in nums):
            return False
    return True


def point_recall(answer_text: str, point: str) -> float:
    """Lexical proxy for 'the answer states this point': share of the point's terms present."""
    pt = set(tokenize(point))
    if not pt:
        return 0.0
    return len(pt & set(tokenize(answer_text))) / len(pt)


def refused(ans: Answer) -> bool:
    return not ans.covered or ans.text.startswith(NOT_COVERED)


# --- running ---------------------------------------------------------------------------------

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
    seconds: float = 0.0
    answer: str = ""

    def metrics(self) -> dict[str, float]:
        m: dict[str, float] = {}
        if self.type in ("single", "followup"):
            m.update(r1=recall_at(self.ranking, self.relevant, 1), r5=recall_at(self.ranking, self.relevant, 5),
                     mrr10=reciprocal_rank(self.ranking, self.relevant, 10))
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
        return m


def load_questions(path: str | Path) -> list[dict[str, Any]]:
    qs = list(read_jsonl(path))
    for q in qs:
        q.setdefault("history", [])
        q.setdefault("relevant", [])
        q.setdefault("answer_points", [])
        if q.get("type") not in QUESTION_TYPES:
            raise ValueError(f"question {q.get('id')}: type must be one of {QUESTION_TYPES}")
    return qs


def title_index(papers) -> dict[str, str]:
    return {" ".join(p.title.lower().split()): p.id for p in papers}


def relevant_ids(q: dict, titles: dict[str, str]) -> list[str]:
    out = []
    for t in q["relevant"]:
        key = " ".join(t.lower().split())
        if key not in titles:
            raise ValueError(f"question {q['id']}: relevant paper {t!r} is not in the collection")
        out.append(titles[key])
    return out


def evaluate_system(questions: list[dict], titles: dict[str, str],
                    rank_fn: Callable[[dict], list[str]],
                    answer_fn: Callable[[dict], Answer] | None = None,
                    grade_fn: Callable[[str, list[str], str], float] | None = None) -> list[QuestionResult]:
    """Score a system given as functions: rank_fn(question) -> ranked paper ids,
    answer_fn(question) -> Answer (optional), grade_fn(question, points, answer) -> 0..1 (optional)."""
    results = []
    for q in questions:
        rel = relevant_ids(q, titles)
        t = time.perf_counter()
        ranking = distinct(rank_fn(q))[:10]
        res = QuestionResult(q["id"], q["type"], q["question"], ranking, rel, refused=False)
        if answer_fn is not None:
            ans = answer_fn(q)
            res.refused = refused(ans)
            res.cited = [c.paper.id for c in ans.citations]
            res.answer = ans.text
            if not res.refused:
                res.fully_cited = fully_cited(ans.text, len(ans.citations))
                if q["answer_points"]:
                    res.point_proxy = statistics.mean(point_recall(ans.text, p) for p in q["answer_points"])
                    if grade_fn is not None:
                        res.point_llm = grade_fn(q["question"], q["answer_points"], ans.text)
        res.seconds = time.perf_counter() - t
        results.append(res)
    return results


def summarize(results: list[QuestionResult]) -> dict[str, dict[str, float]]:
    """Mean of every metric per question type and overall."""
    table: dict[str, dict[str, list[float]]] = {}
    for r in results:
        for key in (r.type, "overall"):
            for name, v in r.metrics().items():
                table.setdefault(key, {}).setdefault(name, []).append(v)
    return {t: {n: statistics.mean(v) for n, v in ms.items()} for t, ms in table.items()}


def evaluate_assistant(pa, questions: list[dict], grade_fn=None) -> list[QuestionResult]:
    """Score a PaperAssistant (one ask per question: its hits are the ranking)."""
    cache: dict[str, Answer] = {}

    def answer(q: dict) -> Answer:
        if q["id"] not in cache:
            cache[q["id"]] = pa.ask(q["question"], history=q["history"] or None, k=10)
        return cache[q["id"]]

    return evaluate_system(questions, title_index(pa.papers), lambda q: [h.paper.id for h in answer(q).hits],
                           answer, grade_fn)
