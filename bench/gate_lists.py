"""The relevance gate on "which papers" questions: should their bar be lower?

    python -m bench.gate_lists                       # the bundled collection
    python -m bench.gate_lists --index-dir /tmp/idx

A "which papers ..." question describes a property several papers share, in words of its
own rather than one abstract's, so its relevance score (best passage cosine + coverage of
its terms by one paper) runs lower than a question about one paper, and such questions are
falsely refused more often.  This script takes the relevance score of every question
(`Retrieval.relevance`, which the bar does not change), splits list questions
(retrieve.is_list_question) from the others, and for bars lowered by 0 .. 0.10 below
min_relevance prints, for list questions per set, the refusal rate on "none" questions and
the false-refusal rate on the rest.  A lowering is chosen on the calibration sets (the four
sets bench.gate uses) by refusal minus false refusal on their list questions (ties: the
smallest), and shown on the held-out sets, written blind afterwards:
examples/multi_questions.jsonl (16 answerable list questions) and
examples/list_none_questions.jsonl (20 list questions the collection does not answer).

Measured on the bundled collection: the calibration sets choose 0.03 lower, which on the
held-out sets cuts false refusals of list questions from 0.23 to 0.15 but refuses fewer of
the "none" list questions (0.61 -> 0.56).  So every question keeps the same bar.
Results go to bench/results/gate_lists.json (--out).
"""

from __future__ import annotations

from pathlib import Path

from assistant.evaluation.questions import load_questions
from assistant.retrieval.query import is_list_question
from bench.gate import pct, rates
from bench.harness import ROOT, write_result
from bench.question_sets import SETS, setup

HELD_OUT = ["examples/multi_questions.jsonl", "examples/list_none_questions.jsonl"]
MARGINS = [round(0.01 * i, 2) for i in range(11)]


def main() -> None:
    args, pa, sets = setup(__doc__, "gate_lists.json")
    if not args.sets:
        sets |= {Path(s).stem.replace("_questions", ""): load_questions(ROOT / s) for s in HELD_OUT}
    calibration = [Path(s).stem.replace("_questions", "") for s in SETS]
    bar = pa.settings.min_relevance
    rows: dict[str, dict[bool, list[tuple[str, bool, float]]]] = {}
    for name, qs in sets.items():
        rows[name] = {True: [], False: []}
        for q in qs:
            rel = pa.retrieve(q["question"], history=q["history"] or None).relevance
            rows[name][is_list_question(q["question"])].append((name, q["type"] != "none", rel))
    lists = {n: r[True] for n, r in rows.items()}
    calib = [x for n in calibration if n in lists for x in lists[n]]

    def j(m: float) -> float:
        ref, fr = rates(calib, bar - m)
        return (ref or 0.0) - (fr or 0.0)

    chosen = max(MARGINS, key=lambda m: (round(j(m), 9), -m))
    print(
        "list questions (answerable / none): "
        + ", ".join(f"{n} {sum(a for _, a, _ in v)}/{sum(not a for _, a, _ in v)}" for n, v in lists.items())
    )
    print(f"{'bar':>9s}" + "".join(f"{n[:11]:>16s}" for n in lists) + "      (refusal / false refusal, list questions)")
    for m in MARGINS:
        cells = "".join(f"{pct(rates(v, bar - m)[0]):>8s}{pct(rates(v, bar - m)[1]):>8s}" for v in lists.values())
        flags = ("   <- chosen on the calibration sets" if m == chosen else "") + ("   <- shipped" if m == 0 else "")
        print(f"{bar - m:9.2f}{cells}{flags}")
    others = [x for r in rows.values() for x in r[False]]
    ref, fr = rates(others, bar)
    print(f"other questions at {bar:.2f} (unchanged): refusal {pct(ref)}, false refusal {pct(fr)} over {len(others)}")
    out = {
        "min_relevance": bar,
        "chosen_on_calibration_sets": chosen,
        "list_rates": {str(m): {n: rates(v, bar - m) for n, v in lists.items()} for m in MARGINS},
        "list_questions": {n: len(v) for n, v in lists.items()},
    }
    write_result(args.out, out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
