"""Full-text answers on the evaluation corpus: the assistant beside BM25 over the same chunks and
the LlamaIndex starter for PDFs, on the dev split and the test split, in one run.

    python -m bench.fulltext_eval                       # both splits; results in bench/results/fulltext_eval.json
    python -m bench.fulltext_eval --split dev --no-compare --index-dir /tmp/ftidx

The corpus (examples/fulltext/corpus.json, fetched by `python -m bench.fulltext_corpus`) is one
collection: every PDF of both splits, as a researcher's folder would be.  The questions
(examples/fulltext/questions_{dev,test}.jsonl) are scored with `paper-assistant eval`'s
metrics: paper R@1, gold span in the first five passages given (evidence@5), first citation on
the gold page, gold span in the answer, false refusals and refusals of near-miss questions,
per split and per where (body, abstract, metadata).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from assistant import PaperAssistant, Settings, evaluate
from assistant.evaluation.questions import load_questions
from assistant.evaluation.report import EvalReport
from bench.harness import RESULTS, ROOT, write_result

CORPUS = ROOT / "examples" / "fulltext"
HEADLINE = {
    "r1": "paper R@1",
    "evidence5": "evidence@5",
    "page": "cited page",
    "span": "cited answering sentence",
    "false_refusal": "false refusals",
    "refusal": "near-miss refused",
}


def open_corpus(index_dir: Path, cache: Path) -> PaperAssistant:
    """An assistant over every corpus PDF (added once; unchanged files cost nothing after)."""
    from fixtures.debian_pdfs import fetch

    fetch(cache, CORPUS / "corpus.json")
    pa = PaperAssistant(Settings.load(index_dir=str(index_dir), collection=""))
    t = time.perf_counter()
    report = pa.add_papers(cache)
    print(f"corpus: {report.summary()} in {time.perf_counter() - t:.0f} s")
    return pa


def headline(report) -> dict[str, dict[str, float]]:
    """The issue's figures per system: single questions for R@1, page, span and evidence;
    answerable ones for false refusals; near misses for refusals."""
    out = {}
    for s in report.systems:
        summary = s.summary()
        single, none, overall = summary.get("single", {}), summary.get("none", {}), summary.get("overall", {})
        out[s.name] = {
            "r1": single.get("r1"),
            "evidence5": overall.get("evidence5"),
            "page": overall.get("page"),
            "span": overall.get("span"),
            "false_refusal": None if not s.answers else overall.get("false_refusal"),
            "refusal": None if not s.answers else none.get("refusal"),
            **{k: v.get("page") for k, v in summary.items() if k.startswith("where:") and "page" in v},
        }
    return out


def only(report: EvalReport, ids: set[str]) -> EvalReport:
    """The report's results for these questions only (one split of a run over both)."""
    systems = [replace(s, results=[r for r in s.results if r.id in ids]) for s in report.systems]
    counts = Counter(r.type for r in systems[0].results) if systems else Counter()
    return replace(report, systems=systems, counts=dict(counts))


def print_headline(split: str, figures: dict[str, dict[str, float]]) -> None:
    names = list(figures)
    print(f"\n{split}: " + " | ".join(f"{n:>14}" for n in names))
    for key, label in HEADLINE.items():
        cells = [figures[n].get(key) for n in names]
        print(f"  {label:28}" + "".join(f"{'—' if v is None else f'{v:.3f}':>17}" for v in cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["dev", "test", "both"], default="both")
    ap.add_argument("--index-dir", type=Path, default=Path("/tmp/paper-assistant-fulltext-eval"))
    ap.add_argument("--cache", type=Path, default=CORPUS / "cache")
    ap.add_argument("--no-compare", action="store_true", help="the assistant only (no BM25, no starter)")
    ap.add_argument("--out", type=Path, default=RESULTS / "fulltext_eval.json")
    ap.add_argument("--details", type=Path, help="also write every per-question result here")
    args = ap.parse_args()
    pa = open_corpus(args.index_dir, args.cache)
    splits = ["dev", "test"] if args.split == "both" else [args.split]
    questions = {split: load_questions(CORPUS / f"questions_{split}.jsonl") for split in splits}
    t = time.perf_counter()  # one run for both splits: the baselines index the corpus once
    report = evaluate(pa, [q for qs in questions.values() for q in qs], compare=not args.no_compare, grade=False)
    out: dict = {"papers": len(pa.papers), "seconds": time.perf_counter() - t, "splits": {}}
    details = {}
    for split, qs in questions.items():
        part = only(report, {q["id"] for q in qs})
        figures = headline(part)
        out["splits"][split] = {"questions": part.counts, "figures": figures}
        print_headline(split, figures)
        details[split] = part.to_dict()
    write_result(args.out, out)
    if args.details:
        write_result(args.details, details)
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
