"""Full-text answers on the evaluation corpus: the assistant beside BM25 over the same chunks and
the LlamaIndex starter for PDFs, on the dev split and the test split, in one run; or, once, on
the independent check.

    python -m bench.fulltext_eval                       # both splits; results in bench/results/fulltext_eval.json
    python -m bench.fulltext_eval --split dev --no-compare --index-dir /tmp/ftidx
    python -m bench.fulltext_eval --split check         # results in bench/results/fulltext_check.json

The corpus (examples/fulltext/corpus.json, fetched by `python -m bench.fulltext_corpus`) is one
collection: every PDF of both splits, as a researcher's folder would be; for the check, the same
collection plus the check's PDFs (examples/fulltext/check/corpus.json).  The questions
(examples/fulltext/questions_{dev,test,check}.jsonl) are scored with `paper-assistant eval`'s
metrics: paper R@1, gold span in the first five passages given (evidence@5), first citation on
the gold page, gold span in the answer, false refusals and refusals of near-miss questions,
per split and per where (body, abstract, metadata).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from assistant import PaperAssistant, Settings, evaluate
from assistant.answering import plan
from assistant.evaluation.questions import load_questions
from assistant.evaluation.report import EvalReport
from bench.harness import RESULTS, ROOT, write_result

CORPUS = ROOT / "examples" / "fulltext"
CHECK = CORPUS / "check" / "corpus.json"  # issue #24's independent check: its PDFs join the corpus
HEADLINE = {
    "r1": "paper R@1",
    "evidence5": "evidence@5",
    "page": "cited page",
    "span": "cited answering sentence",
    "false_refusal": "false refusals",
    "refusal": "near-miss refused",
}


def collection(splits: list[str], cache: Path) -> list[Path]:
    """The PDFs of the run's one collection: the whole corpus, and for the check its PDFs too
    (fetched into `cache` when missing)."""
    from fixtures.debian_pdfs import fetch

    manifests = [CORPUS / "corpus.json"] + ([CHECK] if "check" in splits else [])
    return [path for manifest in manifests for path in fetch(cache, manifest).values()]


def open_corpus(index_dir: Path, pdfs: list[Path]) -> PaperAssistant:
    """An assistant over these PDFs (each added once; unchanged files cost nothing after).  An
    index that holds other papers too is refused: a run sees exactly its collection."""
    pa = PaperAssistant(Settings.load(index_dir=str(index_dir), collection=""))
    t = time.perf_counter()
    reports = [pa.add_papers(pdf) for pdf in pdfs]
    ids = {i for r in reports for i in r.added + r.updated + r.unchanged}
    count = Counter(
        {k: sum(len(getattr(r, k)) for r in reports) for k in ("added", "updated", "unchanged", "rejected")}
    )
    print(
        f"corpus: {len(pdfs)} PDFs, "
        + ", ".join(f"{n} {k}" for k, n in count.items())
        + f" in {time.perf_counter() - t:.0f} s"
    )
    extra = sorted(p.id for p in pa.papers if p.id not in ids)
    if extra:
        raise SystemExit(
            f"fulltext_eval: {index_dir} also holds {len(extra)} other papers ({', '.join(extra[:3])}): use another --index-dir"
        )
    return pa


def seen_before() -> set[str]:
    """The check's PDFs the assistant had been given before the check (its `seen_before` mark)."""
    return {e["file"] for e in json.loads(CHECK.read_text())["pdfs"] if e.get("seen_before")}


def pdfs_of(q: dict) -> set[str]:
    """The PDF files a question is about: its `pdf`, its `gold` entries' PDFs, or the one it nearly matches."""
    return {f for f in [q.get("pdf"), q.get("near"), *(g.get("pdf") for g in q.get("gold") or [])] if f}


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


def parts(split: str, qs: list[dict]) -> dict[str, set[str]]:
    """The question ids reported for a split; for the check also those whose papers were never
    given to the assistant before it ("unseen_papers")."""
    out = {split: {q["id"] for q in qs}}
    if split == "check":
        seen = seen_before()
        out["unseen_papers"] = {q["id"] for q in qs if not pdfs_of(q) & seen}
    return out


def split_figures(report: EvalReport, split: str, qs: list[dict]) -> tuple[dict, dict]:
    """A split's entry of the result file (questions and figures, the check's unseen part nested)
    and its per-question results."""
    entry: dict = {}
    for name, ids in parts(split, qs).items():
        part = only(report, ids)
        figures = headline(part)
        print_headline(split if name == split else f"{split}, {name}", figures)
        block = {"questions": part.counts, "figures": figures}
        if name == split:
            entry.update(block)
        else:
            entry[name] = block
    return entry, only(report, {q["id"] for q in qs}).to_dict()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["dev", "test", "both", "check"], default="both")
    ap.add_argument("--index-dir", type=Path, help="default /tmp/paper-assistant-fulltext-eval (-check for the check)")
    ap.add_argument("--cache", type=Path, default=CORPUS / "cache")
    ap.add_argument("--no-compare", action="store_true", help="the assistant only (no BM25, no starter)")
    ap.add_argument(
        "--out", type=Path, help="default bench/results/fulltext_eval.json (fulltext_check.json for the check)"
    )
    ap.add_argument("--details", type=Path, help="also write every per-question result here")
    ap.add_argument(
        "--stay", type=float, help="answering.plan.STAY for this run (the rule measured beside its default)"
    )
    args = ap.parse_args()
    if args.stay is not None:
        plan.STAY = args.stay
    splits = ["dev", "test"] if args.split == "both" else [args.split]
    name = "check" if args.split == "check" else "eval"
    index_dir = args.index_dir or Path(f"/tmp/paper-assistant-fulltext-{name}")
    out_path = args.out or RESULTS / f"fulltext_{name}.json"
    pa = open_corpus(index_dir, collection(splits, args.cache))
    questions = {split: load_questions(CORPUS / f"questions_{split}.jsonl") for split in splits}
    t = time.perf_counter()  # one run for both splits: the baselines index the corpus once
    report = evaluate(pa, [q for qs in questions.values() for q in qs], compare=not args.no_compare, grade=False)
    out: dict = {"papers": len(pa.papers), "seconds": time.perf_counter() - t, "stay": plan.STAY, "splits": {}}
    details = {}
    for split, qs in questions.items():
        out["splits"][split], details[split] = split_figures(report, split, qs)
    write_result(out_path, out)
    if args.details:
        write_result(args.details, details)
    print(f"\nwritten: {out_path}")


if __name__ == "__main__":
    main()
