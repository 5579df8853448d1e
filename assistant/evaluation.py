"""Evaluation on a question set (the format of examples/dev_questions.jsonl, described in
examples/EVAL_FORMAT.md).  The entry point is `assistant.evaluate(pa, questions) -> EvalReport`
(assistant/eval_report.py), which `paper-assistant eval` runs.

Retrieval is scored at paper level (chunks collapsed to distinct papers, rank order
kept): recall@1, recall@5 and MRR@10 for `single` and `followup`, recall@10 for `multi`,
refusal rate on `none` and false-refusal rate on the rest.  Answers are scored for
citation precision (cited papers that are relevant), citation completeness (every
sentence that makes a claim carries a valid [n]) and, when a grader LLM is available,
answer-point coverage; without one a lexical proxy is reported and labelled as such.

This module holds the metrics and runs one system over the questions; eval_report.py
runs the comparison and renders the report.  (It is called `evaluation`, not `evaluate`,
so that `assistant.evaluate` is unambiguously the function.)
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from . import prompts
from .chunking import ends_with_abbreviation
from .keyword import tokenize
from .papers import read_jsonl
from .prompts import CLOSEST_PAPERS, EXTRACTIVE_INTRO, EXTRACTIVE_LIST_INTRO, NOT_COVERED
from .types import Answer

QUESTION_TYPES = ("single", "followup", "multi", "none")
_MARKER = re.compile(r"\[(\d+)\]")

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
        if not line or line in (EXTRACTIVE_INTRO, EXTRACTIVE_LIST_INTRO) or line.startswith(CLOSEST_PAPERS):
            continue
        # A bold paper title (on its own line, or heading a list item) names a paper; it
        # states nothing, and a title's own "!" or "?" must not split the sentence after it.
        line = re.sub(r"\*\*[^*]+\*\*\s*(\[\d+\])?:?\s*", "", line)
        for s in _sentences(line):
            if len(re.findall(r"[A-Za-z]{3,}", s)) >= 4:
                out.append(s)
    return out


def _sentences(line: str) -> list[str]:
    """Split at sentence ends and at a citation marker followed by a capital, but not after
    an abbreviation: "etc. In" is not a boundary, as in the sentences answers are built from."""
    parts, start = [], 0
    for m in _CLAIM_BOUNDARY.finditer(line):
        if not ends_with_abbreviation(line[start:m.start()]):
            parts.append(line[start:m.start()])
            start = m.end()
    return parts + [line[start:]]


_CLAIM_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z])|(?<=\])\s+(?=[A-Z])")


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


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    v = sorted(values)
    pos = (len(v) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


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
        prompt = prompts.GRADE_POINTS.format(question=question, answer=answer, n=len(points),
                                             points="\n".join(f"{i}. {p}" for i, p in enumerate(points, 1)))
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


# --- questions ---------------------------------------------------------------------------------

def load_questions(source: str | Path | list[dict]) -> list[dict[str, Any]]:
    """Questions from a JSONL file (or a list of dicts), checked and with defaults filled in."""
    records = list(read_jsonl(source)) if isinstance(source, (str, Path)) else list(source)
    if not records:
        raise ValueError(f"no questions in {source if isinstance(source, (str, Path)) else 'the list'}")
    qs, seen = [], set()
    for n, rec in enumerate(records, 1):
        where = f"question {n}"
        if not isinstance(rec, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(rec).__name__}")
        q = dict(rec)
        q.setdefault("id", f"q{n}")
        where = f"question {n} ({q['id']})"
        if not isinstance(q.get("question"), str) or not q["question"].strip():
            raise ValueError(f"{where}: 'question' must be a non-empty string")
        if q.get("type") not in QUESTION_TYPES:
            raise ValueError(f"{where}: 'type' must be one of {', '.join(QUESTION_TYPES)}, not {q.get('type')!r}")
        if q["id"] in seen:
            raise ValueError(f"{where}: duplicate id")
        seen.add(q["id"])
        for key in ("history", "relevant", "answer_points"):
            q[key] = q.get(key) or []
            if not isinstance(q[key], list):
                raise ValueError(f"{where}: {key!r} must be a list")
        qs.append(q)
    return qs


def title_index(papers) -> dict[str, str]:
    """Normalised title -> paper id, and id -> id: `relevant` may name papers either way."""
    index = {" ".join(p.title.lower().split()): p.id for p in papers}
    index.update({p.id: p.id for p in papers})
    return index


def relevant_ids(q: dict, titles: dict[str, str]) -> list[str]:
    out = []
    for t in q["relevant"]:
        key = t if t in titles else " ".join(str(t).lower().split())
        if key not in titles:
            raise ValueError(f"question {q['id']}: relevant paper {t!r} is not in the collection")
        out.append(titles[key])
    return out


# --- running -----------------------------------------------------------------------------------

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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds"] = round(self.seconds, 4)
        d["metrics"] = {k: round(v, 4) for k, v in self.metrics().items()}
        return d


def evaluate_system(questions: list[dict], titles: dict[str, str],
                    rank_fn: Callable[[dict], list[str]],
                    answer_fn: Callable[[dict], Answer] | None = None,
                    grade_fn: Grade | None = None,
                    progress: Callable[[int, int], None] | None = None) -> list[QuestionResult]:
    """Score a system given as functions: rank_fn(question) -> ranked paper ids,
    answer_fn(question) -> Answer (optional), grade_fn(question, points, answer) -> 0..1 (optional).

    A grader that raises is not called again (its error is kept on the result)."""
    results = []
    for i, q in enumerate(questions, 1):
        rel = relevant_ids(q, titles)
        t = time.perf_counter()
        ans = answer_fn(q) if answer_fn is not None else None
        ranking = distinct(rank_fn(q))[:10]
        res = QuestionResult(q["id"], q["type"], q["question"], ranking, rel, refused=False)
        res.seconds = time.perf_counter() - t
        if ans is not None:
            res.refused = refused(ans)
            res.cited = [c.paper.id for c in ans.citations]
            res.answer = ans.text
            res.fallback = ans.fallback
            if not res.refused:
                res.fully_cited = fully_cited(ans.text, len(ans.citations))
                if q["answer_points"]:
                    res.point_proxy = statistics.mean(point_recall(ans.text, p) for p in q["answer_points"])
                    if grade_fn is not None:
                        try:
                            res.point_llm = grade_fn(q["question"], q["answer_points"], ans.text)
                            res.grade_note = "" if res.point_llm is not None else "unreadable grader reply"
                        except Exception as e:  # noqa: BLE001 - an unreachable grader ends grading, not the run
                            res.grade_note = f"grader failed: {type(e).__name__}: {e}"
                            grade_fn = None
        results.append(res)
        if progress:
            progress(i, len(questions))
    return results


def summarize(results: list[QuestionResult]) -> dict[str, dict[str, float]]:
    """Mean of every metric per question type and overall."""
    table: dict[str, dict[str, list[float]]] = {}
    for r in results:
        for key in (r.type, "overall"):
            for name, v in r.metrics().items():
                table.setdefault(key, {}).setdefault(name, []).append(v)
    return {t: {n: statistics.mean(v) for n, v in ms.items()} for t, ms in table.items()}


def evaluate_assistant(pa, questions: list[dict], grade_fn: Grade | None = None, k: int = 10,
                       progress=None) -> list[QuestionResult]:
    """Score a PaperAssistant (one ask per question: its hits are the ranking)."""
    cache: dict[str, Answer] = {}

    def answer(q: dict) -> Answer:
        if q["id"] not in cache:
            cache[q["id"]] = pa.ask(q["question"], history=q["history"] or None, k=k)
        return cache[q["id"]]

    return evaluate_system(questions, title_index(pa.papers), lambda q: [h.paper.id for h in answer(q).hits],
                           answer, grade_fn, progress)

