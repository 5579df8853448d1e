"""Fusion weights and query framing, compared on every question set in examples/.

    python -m bench.fusion_weights                      # the grid below, all four sets
    python -m bench.fusion_weights --sets examples/dev_questions.jsonl --index-dir /tmp/idx

Retrieval only (no answers): for each setting, paper-level recall@1 and MRR@10 (single and
follow-up questions) and recall@10 ("which papers" questions), per set and pooled.  A
setting is (weight of the best-passage view, of the paper view, of BM25), plus whether the
dense query keeps its request framing ("Which papers ...") -- the shipped retrieval drops it
(retrieve.dense_query).  The shipped weights are marked.  One process, one index, the same
embedding of each question for every setting (the query embedding is cached), so the rows
differ only in fusion.  Results go to bench/results/fusion_weights.json.
"""

from __future__ import annotations

import itertools
import statistics

import assistant.retrieval.search as search
from assistant import PaperAssistant
from assistant.evaluation.metrics import recall_at, reciprocal_rank
from assistant.evaluation.questions import relevant_ids, title_index
from assistant.retrieval.fusion import WEIGHTS
from assistant.retrieval.query import condense, dense_query
from bench.harness import write_result
from bench.question_sets import setup

GRID = {"passage": [1.0], "paper": [0.5, 1.0, 1.5], "keyword": [1.0, 1.5, 2.0, 3.0]}


def score(pa: PaperAssistant, sets: dict[str, list[dict]], weights: dict[str, float]) -> dict[str, dict[str, float]]:
    titles = title_index(pa.papers)
    per: dict[str, dict[str, list[float]]] = {}
    for name, questions in list(sets.items()) + [("all", [q for qs in sets.values() for q in qs])]:
        m: dict[str, list[float]] = {"r1": [], "mrr10": [], "multi_r10": []}
        for q in questions:
            if q["type"] == "none":
                continue
            rel = relevant_ids(q, titles)
            query = condense(q["question"], q["history"] or None)
            ranking = [
                h.paper.id
                for h in search.Searcher(pa.store, pa.embedder, pa.settings.candidates, pa.settings.min_relevance)
                .run(q["question"], query, 10, weights=weights)
                .hits
            ]
            if q["type"] == "multi":
                m["multi_r10"].append(recall_at(ranking, rel, 10))
            else:
                m["r1"].append(recall_at(ranking, rel, 1))
                m["mrr10"].append(reciprocal_rank(ranking, rel, 10))
        per[name] = {k: round(statistics.mean(v), 3) for k, v in m.items() if v}
    return per


def main() -> None:
    args, pa, sets = setup(__doc__, "fusion_weights.json")
    rows = []
    for framing in (False, True):
        # The framing ablation swaps the query-text function the assistant calls; nothing else.
        search.dense_query = (lambda q: q) if framing else dense_query
        for p, g, k in itertools.product(GRID["passage"], GRID["paper"], GRID["keyword"]):
            w = {"passage": p, "paper": g, "keyword": k}
            rows.append(
                {
                    "weights": w,
                    "framing_kept": framing,
                    "shipped": w == WEIGHTS and not framing,
                    "scores": score(pa, sets, w),
                }
            )
    search.dense_query = dense_query
    names = list(sets) + ["all"]
    head = f"{'passage/paper/keyword':22s}{'framing':9s}" + "".join(f"{n[:10]:>24s}" for n in names)
    print(head + "\n" + " " * 31 + "".join(f"{'R@1  MRR  multiR@10':>24s}" for _ in names))
    for r in rows:
        w = r["weights"]
        cells = "".join(
            f"{_fmt(r['scores'][n].get('r1'))} {_fmt(r['scores'][n].get('mrr10'))} "
            f"{_fmt(r['scores'][n].get('multi_r10')):>9s}".rjust(24)
            for n in names
        )
        mark = " <- shipped" if r["shipped"] else ""
        print(
            f"{w['passage']:g} / {w['paper']:g} / {w['keyword']:g}".ljust(22)
            + ("kept" if r["framing_kept"] else "dropped").ljust(9)
            + cells
            + mark
        )
    counts = {n: len(qs) for n, qs in sets.items()}
    write_result(args.out, {"questions": counts, "rows": rows})
    print(f"wrote {args.out}")


def _fmt(v: float | None) -> str:
    return "  -  " if v is None else f"{v:.3f}"


if __name__ == "__main__":
    main()
