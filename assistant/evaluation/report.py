"""`evaluate(pa, questions)`: run the assistant (and, with compare=True, the LlamaIndex
starter recipe and BM25 alone) over a question set and return an EvalReport, which renders
as a per-type table (`report.table()`) and as JSON (`report.to_dict()`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.evaluation import baselines
from assistant.evaluation.metrics import Complete, configured_llm, percentile, point_grader
from assistant.evaluation.questions import QUESTION_TYPES, add_gold, load_questions, relevant_ids, title_index
from assistant.evaluation.run import QuestionResult, evaluate_assistant, evaluate_system, summarize

ASSISTANT = "paper-assistant"

# Table rows, in order: metric key -> label.
METRICS = {
    "r1": "recall@1",
    "r5": "recall@5",
    "mrr10": "MRR@10",
    "r10": "recall@10",
    "refusal": "refusal rate",
    "false_refusal": "false-refusal rate",
    "citation_precision": "citation precision",
    "points": "answer points (LLM-graded)",
    "points_proxy": "answer points (lexical proxy)",
    "fully_cited": "every claim cited",
    "gold": "gold sentence in the answer",
    "gold_first": "gold sentence quoted first",
    "page": "first citation on the gold page",
    "span": "gold span in the answer",
    "evidence5": "gold span in the top 5 passages given",
    "words": "answer length (words)",
    "quoted": "sentences quoted",
    "llm_shown": "LLM answers shown (not fallen back)",
    "unsupported_details": "shown sentences with a detail not in their sources",
}
COUNTS = ("words", "quoted")  # means of counts, not shares: shown with one decimal
WARM_UP = "warm-up query, not timed"
NO_GRADER = (
    "answer-point coverage skipped: no LLM configured (backend: {backend}). The lexical proxy "
    "(share of each point's words found in the answer) is shown instead; it is not a judgement."
)


@dataclass
class SystemEval:
    """One system's per-question results."""

    name: str
    description: str
    results: list[QuestionResult]
    answers: bool  # the system answers (and so can refuse and cite); baselines only rank
    build_seconds: float | None = None

    def summary(self) -> dict[str, dict[str, float]]:
        return summarize(self.results)

    def latency_ms(self) -> dict[str, float]:
        secs = [r.seconds * 1000 for r in self.results]
        return {"p50": percentile(secs, 50), "p95": percentile(secs, 95)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "answers": self.answers,
            "build_seconds": None if self.build_seconds is None else round(self.build_seconds, 3),
            "latency_ms": {k: round(v, 2) for k, v in self.latency_ms().items()},
            "summary": {t: {k: round(v, 4) for k, v in m.items()} for t, m in self.summary().items()},
            "results": [r.to_dict() for r in self.results],
        }


@dataclass
class EvalReport:
    source: str
    counts: dict[str, int]  # questions per type
    systems: list[SystemEval]
    grader: str = ""  # what graded answer points; "" = nothing did
    notes: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)  # paper id -> title, for the JSON

    @property
    def summary(self) -> dict[str, dict[str, float]]:
        """The assistant's figures per type (what a regression test checks)."""
        return self.systems[0].summary()

    def system(self, name: str) -> SystemEval:
        return next(s for s in self.systems if s.name == name)

    def table(self) -> str:
        """The figures per question type, one column per system."""
        summaries = [s.summary() for s in self.systems]
        width = max(12, *(len(s.name) for s in self.systems))
        label_w = 34
        counts = ", ".join(f"{t} {n}" for t, n in self.counts.items())
        lines = [
            f"{self.source}: {sum(self.counts.values())} questions ({counts})",
            "",
            " " * label_w + "".join(f"{s.name:>{width + 2}}" for s in self.systems),
        ]
        wheres = sorted({k for s in summaries for k in s if k.startswith("where:")})
        for qtype in (*QUESTION_TYPES, *wheres, "overall"):
            keys = [k for k in METRICS if any(k in s.get(qtype, {}) for s in summaries)]
            if not keys:
                continue
            n = sum(self.counts.values()) if qtype == "overall" else self.counts.get(qtype, self._where_count(qtype))
            lines.append(f"{qtype} ({n})")
            for k in keys:
                cells = []
                for sys_, summ in zip(self.systems, summaries):
                    v = summ.get(qtype, {}).get(k)
                    cells.append(
                        "—"
                        if v is None or (not sys_.answers and k in ("refusal", "false_refusal"))
                        else f"{v:.1f}"
                        if k in COUNTS
                        else f"{v:.3f}"
                    )
                lines.append(f"  {METRICS[k]:{label_w - 2}}" + "".join(f"{c:>{width + 2}}" for c in cells))
        lines.append("time per question (ms)")
        for q in ("p50", "p95"):
            lines.append(f"  {q:{label_w - 2}}" + "".join(f"{s.latency_ms()[q]:>{width + 2}.1f}" for s in self.systems))
        if self.notes:
            lines += [""] + [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    __str__ = table

    def _where_count(self, key: str) -> int:
        return sum(r.where == key.removeprefix("where:") for r in self.systems[0].results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "counts": self.counts,
            "grader": self.grader,
            "notes": self.notes,
            "metrics": METRICS,
            "systems": [s.to_dict() for s in self.systems],
            "papers": self.titles,
        }


def _grader(pa, grade) -> tuple[Callable | None, str, str]:
    """(grade_fn, description, note) for grade = None (the assistant's LLM, if any), False, or complete()."""
    if grade is False:
        return None, "", "answer-point coverage skipped: grading turned off; the lexical proxy is shown instead."
    complete: Complete | None = grade if callable(grade) else configured_llm(pa)
    if complete is None:
        return None, "", NO_GRADER.format(backend=getattr(pa, "backend", "extractive"))
    name = getattr(complete, "__qualname__", type(complete).__name__)
    return point_grader(complete), name, ""


def evaluate(
    pa,
    questions: str | Path | list[dict],
    *,
    compare: bool | str = False,
    grade=None,
    k: int = 10,
    progress: Callable[[str, int, int], None] | None = None,
    gold: str | Path | None = None,
    papers: str | Path | list[str | Path] | None = None,
) -> EvalReport:
    """Evaluate `pa` on a question set (a JSONL path or a list of dicts, format in
    examples/EVAL_FORMAT.md) and return an EvalReport.

    compare: True or "baseline" also runs the LlamaIndex starter recipe and BM25 alone over
             the same papers, in this process, on the same embedding weights.
    grade:   None = grade answer points with the assistant's LLM when one is configured;
             False = don't; or a function complete(prompt) -> str to grade with.
    k:       papers retrieved per question (the metrics look at the top 10).
    gold:    a JSONL file of {"id", "gold_sentences"} for the questions (examples/EVAL_FORMAT.md);
             questions may carry `gold_sentences` themselves.
    papers:  files or folders (PDFs, bibliographies) to add to the collection first, as
             `pa.add_papers` does (unchanged files cost nothing): a full-text question set
             needs the PDFs it names (`pdf`).  The baselines read the indexed PDFs too.
    """
    if compare not in (False, True, "baseline"):
        raise ValueError(f"compare must be 'baseline' (or True/False), not {compare!r}")
    if k < 1:
        raise ValueError("k must be at least 1")
    qs = load_questions(questions)
    if gold is not None:
        add_gold(qs, gold)
    added = _add_papers(pa, papers)
    papers = pa.papers
    titles = title_index(papers)
    for q in qs:  # every relevant paper must exist before anything runs
        relevant_ids(q, titles)
    if compare:
        baselines.check_installed()
    grade_fn, grader, note = _grader(pa, grade)
    notes = [f"added first: {r.summary()}" for r in added] + ([note] if note else [])
    if k < 10:
        notes.append(f"k={k}: recall@10 and MRR@10 only see the top {k} papers.")

    def step(name: str):
        return (lambda i, n: progress(name, i, n)) if progress else None

    pa.search(WARM_UP, k=k)  # first-call costs (ONNX session, Chroma caches) are not a question's time
    results = evaluate_assistant(pa, qs, grade_fn, k, step(ASSISTANT))
    systems = [SystemEval(ASSISTANT, f"{pa.backend} answers" + (f" ({pa.model})" if pa.model else ""), results, True)]
    notes += _answer_notes(results, grader)
    if compare:
        systems += _baselines(pa, _Run(papers, qs, titles, k, step), notes)
    source = Path(questions).name if isinstance(questions, (str, Path)) else "questions"
    counts = {t: sum(q["type"] == t for q in qs) for t in QUESTION_TYPES if any(q["type"] == t for q in qs)}
    seen = {pid for s in systems for r in s.results for pid in (*r.ranking, *r.relevant)}
    return EvalReport(source, counts, systems, grader, notes, {p.id: p.title for p in papers if p.id in seen})


def _add_papers(pa, papers: str | Path | list[str | Path] | None) -> list:
    """`pa.add_papers` of each file or folder given; its reports."""
    return [
        pa.add_papers(src)
        for src in ([] if papers is None else [papers] if isinstance(papers, (str, Path)) else papers)
    ]


def _answer_notes(results: list[QuestionResult], grader: str) -> list[str]:
    notes = []
    fallbacks = [r for r in results if r.fallback]
    if fallbacks:
        notes.append(f"{len(fallbacks)} answer(s) fell back to extractive: {fallbacks[0].fallback}")
    failed = [r for r in results if r.grade_note]
    graded = [r for r in results if r.point_llm is not None]
    if grader and failed:
        notes.append(
            f"{len(failed)} answer(s) not graded ({failed[0].grade_note}); "
            + (
                f"LLM-graded answer points average the {len(graded)} graded ones."
                if graded
                else "no answer-point figure from the grader."
            )
        )
    return notes


@dataclass(frozen=True)
class _Run:
    """What every system of one evaluation shares: the papers, the questions (with the titles
    their relevant papers are found by), k, and step(name) -> that system's progress callback."""

    papers: list
    questions: list[dict]
    titles: dict[str, str]
    k: int
    step: Callable[[str], Callable[[int, int], None] | None]


def _baselines(pa, run: _Run, notes: list[str]) -> list[SystemEval]:
    """The starter recipe and BM25 scored on `run`; what they are is appended to `notes`."""
    from assistant.evaluation.baselines import bm25, history_query, pdf_files, starter, starter_embedding

    papers, k = run.papers, run.k
    embed_model, embed_desc = starter_embedding()
    pdfs = pdf_files(pa, papers)
    passages = {pid: pa.store.passages(pa.paper(pid)) for pid in pdfs}
    systems = []
    for b, desc in (
        (
            starter(papers, embed_model, top_k=k, pdfs=pdfs),
            f"VectorStoreIndex over Chroma, default retriever, {embed_desc}"
            + (", SimpleDirectoryReader over the PDFs" if pdfs else ""),
        ),
        (
            bm25(papers, top_k=k, passages=passages),
            "LlamaIndex BM25Retriever, one node per paper" + (" (per passage for PDFs)" if pdfs else ""),
        ),
    ):
        name = "starter" if b.name.startswith("starter") else "BM25"
        b.search(WARM_UP)
        seen: dict[str, list] = {}

        def chunks(q: dict, b=b, seen=seen) -> list:
            if q["id"] not in seen:
                seen[q["id"]] = b.search(history_query(q))
            return seen[q["id"]]

        results = evaluate_system(
            run.questions,
            run.titles,
            lambda q: [c.paper_id for c in chunks(q)],
            progress=run.step(name),
            chunks_fn=chunks,
        )
        systems.append(SystemEval(name, desc, results, False, b.build_seconds))
    notes.append(
        "starter = the plain LlamaIndex recipe (one Document per paper, VectorStoreIndex over Chroma, "
        "default retriever) on the same all-MiniLM-L6-v2 weights; BM25 = LlamaIndex's BM25Retriever. "
        "Both only rank papers: they never refuse and write no answers (—). Follow-ups reach them as "
        "the conversation and the question joined into one query."
    )
    if pdfs:
        notes.append(
            f"{len(pdfs)} papers are indexed from their PDF: the starter reads those PDFs with "
            "SimpleDirectoryReader (a Document per page, split by its default SentenceSplitter), BM25 "
            "indexes the assistant's own passages of them. A baseline's papers are the papers of its "
            "top chunks in order; on full-text questions its page is its top chunk's page and its "
            "'answer' is its top chunk's text (its length is the answer length shown)."
        )
    return systems
