"""Focus of answers: do they quote the sentence that answers the question, and first?

    python -m bench.focus                      # dev + focus sets, multi-paper sets, default index
    python -m bench.focus --index-dir /tmp/idx --json bench/results/focus.json

For the `single` and `followup` questions of the dev set (gold sentences in
examples/dev_gold_sentences.jsonl) and of the held-out focus set
(examples/focus_questions.jsonl, gold sentences inline), per type:

* gold     -- share of answers that contain one of the question's gold sentences in full
              (whitespace and the Markdown escapes of answers normalised);
* first    -- share whose FIRST quoted sentence is a gold sentence;
* words    -- mean answer length in words (the whole text, as the user sees it);
* quoted   -- mean number of quoted abstract sentences (Citation.spans).

For the "which papers" (`multi`) questions of the dev, paraphrased, vague and multi sets: citation
precision (share of cited papers that are relevant), cited recall (share of the relevant
papers the answer cites) and recall@10 of the answer's hits (retrieval).

What an LLM would be given, for the same single/follow-up questions, per backend ("local":
the small model's 3 papers cut to 80 words; "openai": the top 5 papers): the share of
prompts whose passages contain a gold sentence, whose passage [1] does, and whose passage
[1] starts with it.  The model is a recorder that only keeps the prompt (it replies "not
covered"): this measures what the model sees, not what it writes.

Only the public API is used: `PaperAssistant().ask(q, history=...)`, `Answer.text`,
`Answer.citations`, `Answer.hits`; the recorder replaces `assistant.llm.create`, as the
tests' scripted LLM does.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics

from assistant import PaperAssistant, Settings
from assistant import llm as llm_module
from assistant.answering.prompts import NOT_COVERED
from assistant.evaluation.metrics import (
    contains_gold,
    gold_first,
    reader_text,
    recall_at,
)
from assistant.evaluation.questions import load_questions, relevant_ids, title_index
from bench.harness import ROOT, write_result

EXAMPLES = ROOT / "examples"
MULTI_SETS = ("dev", "paraphrased", "vague", "multi")


def focus_scores(
    pa: PaperAssistant, questions: list[dict], gold: dict[str, list[str]], misses: list[str] | None = None
) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, list[float]]] = {}
    for q in questions:
        if q["type"] not in ("single", "followup") or not gold.get(q["id"]):
            continue
        ans = pa.ask(q["question"], history=q["history"] or None)
        g = gold[q["id"]]
        m = rows.setdefault(q["type"], {"gold": [], "first": [], "words": [], "quoted": []})
        hit = contains_gold(ans, g)
        m["gold"].append(float(hit))
        m["first"].append(float(gold_first(ans, g)))
        m["words"].append(float(len(ans.text.split())))
        m["quoted"].append(float(sum(len(c.spans) for c in ans.citations)))
        if misses is not None and not hit:
            misses.append(q["id"])
    out = {t: {k: statistics.mean(v) for k, v in m.items()} | {"n": len(m["gold"])} for t, m in rows.items()}
    return out


class Recorder:
    """An LLM that keeps the prompts it is sent and answers "not covered"."""

    model = "recorder"

    def __init__(self, name: str):
        self.name = name
        self.prompts: list[list[dict]] = []

    def stream(self, messages, *, max_tokens, timeout, grammar=None):
        self.prompts.append(messages)
        yield NOT_COVERED


def passages_of(messages: list[dict]) -> list[str]:
    """The passage texts of an answer prompt, by number."""
    user = messages[-1]["content"]
    return [
        reader_text(m.group(2))
        for m in re.finditer(r"^\[(\d+)\] [^\n]*\n(.*?)(?=\n\n\[\d+\] |\n\nQuestion:)", user, re.M | re.S)
    ]


def llm_scores(pa: PaperAssistant, questions: list[dict], gold: dict[str, list[str]], backend: str) -> dict[str, float]:
    recorder = Recorder(backend)
    original = llm_module.create
    llm_module.create = lambda s: recorder if llm_module.select(s) != "extractive" else None
    try:
        view = pa.using(backend=backend, condense="rules", **({"api_key": "recorder"} if backend == "openai" else {}))
        rows: dict[str, list[float]] = {"in_prompt": [], "in_first": [], "starts_first": [], "words": []}
        for q in questions:
            g = [reader_text(x) for x in gold.get(q["id"]) or []]
            if q["type"] not in ("single", "followup") or not g:
                continue
            recorder.prompts.clear()
            view.ask(q["question"], history=q["history"] or None)
            passages = passages_of(recorder.prompts[-1]) if recorder.prompts else []
            rows["in_prompt"].append(float(any(x in p for p in passages for x in g)))
            rows["in_first"].append(float(bool(passages) and any(x in passages[0] for x in g)))
            rows["starts_first"].append(float(bool(passages) and any(passages[0].startswith(x) for x in g)))
            rows["words"].append(float(sum(len(p.split()) for p in passages)))
    finally:
        llm_module.create = original
    return {k: statistics.mean(v) for k, v in rows.items()} | {"n": len(rows["in_prompt"])}


def multi_scores(pa: PaperAssistant, questions: list[dict]) -> dict[str, float]:
    titles = title_index(pa.papers)
    prec, rec, cited_rec = [], [], []
    for q in questions:
        if q["type"] != "multi":
            continue
        rel = relevant_ids(q, titles)
        ans = pa.ask(q["question"], history=q["history"] or None, k=10)
        cited = list(dict.fromkeys(c.paper.id for c in ans.citations))
        if cited:
            prec.append(sum(c in rel for c in cited) / len(cited))
        cited_rec.append(sum(c in rel for c in cited) / len(rel))
        rec.append(recall_at(list(dict.fromkeys(h.paper.id for h in ans.hits)), rel, 10))
    return {
        "precision": statistics.mean(prec) if prec else float("nan"),
        "cited_recall": statistics.mean(cited_rec),
        "r10": statistics.mean(rec),
        "n": len(rec),
        "_prec": prec,
        "_rec": rec,
        "_cited": cited_rec,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index-dir", default=None)
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    ap.add_argument("--misses", action="store_true", help="list the ids of answers without a gold sentence")
    args = ap.parse_args()
    pa = PaperAssistant(
        Settings.load(collection="bundled", **({"index_dir": args.index_dir} if args.index_dir else {}))
    )

    dev = load_questions(EXAMPLES / "dev_questions.jsonl")
    dev_gold = {r["id"]: r["gold_sentences"] for r in map(json.loads, (EXAMPLES / "dev_gold_sentences.jsonl").open())}
    focus = load_questions(EXAMPLES / "focus_questions.jsonl")
    focus_gold = {q["id"]: q.get("gold_sentences") or [] for q in focus}

    result: dict = {"focus": {}, "multi": {}}
    misses: dict[str, list[str]] = {}
    print(f"{'set':<7}{'type':<10}{'n':>3}{'gold':>7}{'first':>7}{'words':>7}{'quoted':>7}")
    for name, qs, gold in (("dev", dev, dev_gold), ("focus", focus, focus_gold)):
        miss: list[str] = []
        table = focus_scores(pa, qs, gold, miss)
        misses[name] = miss
        result["focus"][name] = table
        for t, m in table.items():
            print(
                f"{name:<7}{t:<10}{m['n']:>3}{m['gold']:>7.3f}{m['first']:>7.3f}{m['words']:>7.1f}{m['quoted']:>7.2f}"
            )

    print(f"\n{'multi':<13}{'n':>3}{'cit.prec':>10}{'cit.rec':>9}{'r@10':>7}")
    pooled_p, pooled_r, pooled_c = [], [], []
    for name in MULTI_SETS:
        m = multi_scores(pa, load_questions(EXAMPLES / f"{name}_questions.jsonl"))
        pooled_p += m.pop("_prec")
        pooled_r += m.pop("_rec")
        pooled_c += m.pop("_cited")
        result["multi"][name] = m
        print(f"{name:<13}{m['n']:>3}{m['precision']:>10.3f}{m['cited_recall']:>9.3f}{m['r10']:>7.3f}")
    pooled = {
        "precision": statistics.mean(pooled_p),
        "cited_recall": statistics.mean(pooled_c),
        "r10": statistics.mean(pooled_r),
        "n": len(pooled_r),
    }
    result["multi"]["pooled"] = pooled
    print(
        f"{'pooled':<13}{pooled['n']:>3}{pooled['precision']:>10.3f}{pooled['cited_recall']:>9.3f}{pooled['r10']:>7.3f}"
    )

    result["llm"] = {}
    print(f"\n{'llm prompt':<17}{'n':>3}{'in any':>8}{'in [1]':>8}{'[1] starts':>11}{'words':>7}")
    for backend in ("local", "openai"):
        for name, qs, gold in (("dev", dev, dev_gold), ("focus", focus, focus_gold)):
            m = llm_scores(pa, qs, gold, backend)
            result["llm"][f"{backend}/{name}"] = m
            print(
                f"{backend + '/' + name:<17}{m['n']:>3}{m['in_prompt']:>8.3f}{m['in_first']:>8.3f}"
                f"{m['starts_first']:>11.3f}{m['words']:>7.0f}"
            )
    if args.misses:
        for name, ids in misses.items():
            print(f"{name} misses: {' '.join(ids)}")
    if args.json:
        write_result(args.json, result)


if __name__ == "__main__":
    main()
