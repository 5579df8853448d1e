"""The relevance gate on every question set in examples/: refusals against false refusals.

    python -m bench.gate                       # the four abstract sets, the bundled collection
    python -m bench.gate --index-dir /tmp/idx
    python -m bench.gate --index-dir /tmp/mixed --pdfs --out bench/results/gate_fulltext.json
                                               # + the test PDFs (fixtures/debian_pdfs.py) and the full-text set

For each question the relevance score of a retrieval (what `min_relevance` is compared
with) is computed for several gates: as shipped, where query terms weigh IDF x specificity
in everyday English (keyword.specificity), and with plain IDF weights (specificity off) --
the gate before that change; and, when the collection has full-text papers, the shipped
gate as it was before it was recalibrated on full text (a full-text paper's terms looked
for in its single best passage, no margin) and halfway (its best three passages, no
margin).  For each, it prints the ROC AUC (how often an answerable question scores above an
out-of-collection one) and, over a range of thresholds, the refusal rate on "none"
questions and the false-refusal rate on the rest, per set and pooled; then the threshold
that maximises refusal minus false refusal on the pooled sets, and the same choice made
without each set and applied to it.  Results go to bench/results/gate.json (--out).
"""

from __future__ import annotations

import statistics

import assistant.retrieval.gate as retrieve
from assistant.text import specificity
from bench.harness import write_result
from bench.question_sets import setup

THRESHOLDS = [round(0.70 + 0.01 * i, 2) for i in range(41)]
SHIPPED = {"specificity": specificity, "margin": retrieve.FULL_TEXT_MARGIN, "passages": retrieve.GATE_PASSAGES}
GATES = {  # name -> how it differs from the shipped gate
    "shipped (IDF x specificity)": {},
    "plain IDF": {"specificity": lambda text: {}},
}
FULL_TEXT_GATES = {
    "full text: best passage, no margin (before)": {"margin": 0.0, "passages": 1},
    "full text: best 3 passages, no margin": {"margin": 0.0},
}


def configure(changes: dict) -> None:
    """Set the gate's parts (the shipped ones, with `changes`); the module globals are read at each call."""
    parts = SHIPPED | changes
    retrieve.specificity = parts["specificity"]
    retrieve.FULL_TEXT_MARGIN = parts["margin"]
    retrieve.GATE_PASSAGES = parts["passages"]


def rates(rows: list[tuple[str, bool, float]], tau: float) -> tuple[float | None, float | None]:
    """(refusal rate on 'none', false-refusal rate on the rest) at threshold tau."""
    neg = [r for _, answerable, r in rows if not answerable]
    pos = [r for _, answerable, r in rows if answerable]
    refusal = statistics.mean(r < tau for r in neg) if neg else None
    false_refusal = statistics.mean(r < tau for r in pos) if pos else None
    return refusal, false_refusal


def auc(rows: list[tuple[str, bool, float]]) -> float:
    neg = [r for _, a, r in rows if not a]
    pos = [r for _, a, r in rows if a]
    return statistics.mean((p > n) + 0.5 * (p == n) for p in pos for n in neg)


def best_threshold(rows: list[tuple[str, bool, float]]) -> float:
    """Youden's J: the threshold with the largest refusal minus false refusal (ties: the lowest)."""

    def j(t: float) -> float:
        ref, fr = rates(rows, t)
        return (ref or 0.0) - (fr or 0.0)

    return max(THRESHOLDS, key=lambda t: (round(j(t), 9), -t))


def main() -> None:
    args, pa, sets = setup(__doc__, "gate.json", pdfs=True)
    shipped = pa.settings.min_relevance
    full_text = sum(p.full_text for p in pa.papers)
    out: dict = {
        "questions": {n: len(q) for n, q in sets.items()},
        "shipped_threshold": shipped,
        "papers": len(pa.papers),
        "full_text_papers": full_text,
        "gates": {},
    }
    gates = GATES | (FULL_TEXT_GATES if full_text else {})
    for gate, changes in gates.items():
        configure(changes)  # the only difference between the rows: the parts named in `changes`
        rows = [
            (name, q["type"] != "none", pa.retrieve(q["question"], history=q["history"] or None).relevance)
            for name, qs in sets.items()
            for q in qs
        ]
        configure({})
        names = list(sets) + ["all"]

        def subset(n: str, rows: list = rows) -> list:
            return rows if n == "all" else [r for r in rows if r[0] == n]

        table = {str(t): {n: rates(subset(n), t) for n in names} for t in THRESHOLDS}
        pooled_best = best_threshold(rows)
        held_out = {}
        for n in sets:
            t = best_threshold([r for r in rows if r[0] != n])
            held_out[n] = {"threshold": t, "refusal/false_refusal": rates(subset(n), t)}
        out["gates"][gate] = {
            "auc": {n: auc(subset(n)) for n in names if any(not a for _, a, _ in subset(n))},
            "rates": table,
            "best_threshold_pooled": pooled_best,
            "leave_one_set_out": held_out,
        }
        aucs = out["gates"][gate]["auc"]
        print(
            f"\n{gate}: AUC pooled {auc(rows):.3f} ("
            + ", ".join(f"{n} {v:.3f}" for n, v in aucs.items() if n != "all")
            + f"); best threshold on all sets {pooled_best:.2f}"
        )
        print(f"{'threshold':>9s}" + "".join(f"{n[:11]:>16s}" for n in names) + "      (refusal / false refusal)")
        for t in THRESHOLDS[::2] + ([shipped] if shipped not in THRESHOLDS[::2] else []):
            cells = "".join(f"{pct(table[str(t)][n][0]):>8s}{pct(table[str(t)][n][1]):>8s}" for n in names)
            print(f"{t:9.2f}{cells}" + ("   <- shipped" if t == shipped else ""))
        for n, v in held_out.items():
            ref, fr = v["refusal/false_refusal"]
            print(
                f"  threshold chosen without {n}: {v['threshold']:.2f} -> on {n}: refusal {pct(ref)}, "
                f"false refusal {pct(fr)}"
            )
    write_result(args.out, out)
    print(f"wrote {args.out}")


def pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


if __name__ == "__main__":
    main()
