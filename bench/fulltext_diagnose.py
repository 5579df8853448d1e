"""Why full-text answers miss, on one split of the evaluation corpus (dev: the split rules are tuned on).

    python -m bench.fulltext_diagnose --index-dir DIR [--split dev]

Per single body/abstract question: does the search's best passage of the right paper hold the
gold span, and does the answer; then the relevance gate's refusals of near misses and of
answerable questions at a range of bars.  Prints only (the figures quoted in docs/quality.md,
"Full text on papers nobody tuned for").  Open the corpus first with bench.fulltext_eval.
"""

from __future__ import annotations

import argparse
import json

from assistant import PaperAssistant, Settings
from assistant.evaluation.metrics import answer_has_span, contains_span
from assistant.evaluation.questions import gold_pages, relevant_ids, title_index
from bench.fulltext_eval import CORPUS

BARS = (0.82, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4)


def passages_vs_answers(pa: PaperAssistant, qs: list[dict], titles: dict) -> None:
    n = search_has = answer_has = only_search = only_answer = page = 0
    for q in qs:
        if q["type"] != "single" or q.get("where") not in ("body", "abstract"):
            continue
        rel = relevant_ids(q, titles)
        top = next((h for h in pa.retrieve(q["question"]).hits if h.paper.id in rel), None)
        ans = pa.ask(q["question"])
        s = bool(top) and contains_span([top.text], q["gold_span"])
        a = answer_has_span(ans, q["gold_span"])
        c = ans.citations[0] if ans.citations else None
        n, search_has, answer_has = n + 1, search_has + s, answer_has + a
        only_search, only_answer = only_search + (s and not a), only_answer + (a and not s)
        page += bool(c) and c.paper.id in rel and c.page in gold_pages(q)
    print(f"{n} single body/abstract questions: the search's best passage of the right paper holds the gold span")
    print(f"  {search_has / n:.3f}, the answer {answer_has / n:.3f} (only the search {only_search}, only the answer")
    print(f"  {only_answer}); cited page {page / n:.3f}")


def gate_bars(pa: PaperAssistant, qs: list[dict]) -> None:
    rel = [(q["type"], pa.retrieve(q["question"]).relevance) for q in qs if not q.get("history")]
    near = [r for t, r in rel if t == "none"]
    answerable = [r for t, r in rel if t != "none"]
    print(f"gate: {len(near)} near misses, {len(answerable)} answerable")
    for bar in BARS:
        refused = sum(r < bar for r in near) / len(near)
        false = sum(r < bar for r in answerable) / len(answerable)
        print(f"  bar {bar:.2f}: near misses refused {refused:.3f}, false refusals {false:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", required=True)
    ap.add_argument("--split", choices=["dev", "test"], default="dev")
    args = ap.parse_args()
    pa = PaperAssistant(Settings.load(index_dir=args.index_dir, collection=""))
    qs = [json.loads(line) for line in (CORPUS / f"questions_{args.split}.jsonl").open()]
    titles = title_index(pa.papers)
    passages_vs_answers(pa, qs, titles)
    gate_bars(pa, qs)


if __name__ == "__main__":
    main()
