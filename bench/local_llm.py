"""Local-backend benchmark: speed of the in-process GGUF model and how often its own
citations survive verification, before and after the small-model prompt and grammar.

    python -m bench.local_llm                 # 10 dev questions, all three variants
    python -m bench.local_llm --variants grammar --n 5 --gguf other.gguf

Variants (same retrieval, same model, run in one process):
  before   the hosted-model prompt (5 whole passages, instructions only), no grammar
  prompt   the small-model prompt (3 passages cut to 60 words, one worked example), no grammar
  grammar  the small-model prompt + the citation grammar (what the local backend ships)

Per question: time to first token (prompt processing), tokens per second after it,
end-to-end answer time (retrieval + generation + verification), prompt size, whether
the model's own text kept >= 1 valid citation, and whether the cited papers are the
ones the dev set names.  Prints a table and writes bench/results/local_llm.json.
The machine may be shared: the figures come with the load average measured around them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

from assistant import PaperAssistant, Settings
from assistant.answering.answerer import Ask
from assistant.answering.citations import says_not_covered, verify
from bench.harness import RESULTS, ROOT, write_result

DEV = ROOT / "examples" / "dev_questions.jsonl"
OUT = RESULTS / "local_llm.json"
VARIANTS = {
    "before": {
        "settings": {"llm_passages": 5, "passage_words": 10_000, "cite_grammar": "off", "compact_prompt": "off"}
    },
    "prompt": {"settings": {"cite_grammar": "off", "compact_prompt": "on"}},
    "grammar": {"settings": {"cite_grammar": "auto", "compact_prompt": "on"}},
}


def dev_questions(n: int) -> list[dict]:
    """A fixed mix: single-paper questions, then 2 multi-paper and 2 follow-ups."""
    rows = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    by_type = {t: [r for r in rows if r["type"] == t] for t in ("single", "multi", "followup")}
    extra = min(2, n // 5)
    return by_type["single"][: n - 2 * extra] + by_type["multi"][:extra] + by_type["followup"][:extra]


def prompt_tokens(llama, messages: list[dict]) -> int:
    """Prompt size in the model's tokens (ChatML framing, as SmolLM2's template; close for others)."""
    formatted = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return len(llama.tokenize(formatted.encode(), add_bos=False, special=True))


def run_one(view, model, q: dict) -> dict:
    history = q["history"] or None
    t0 = time.perf_counter()
    r = view.retrieve(q["question"], history=history)
    row = {"id": q["id"], "type": q["type"], "covered_by_gate": r.covered}
    if not r.covered:
        row.update(e2e_s=time.perf_counter() - t0, answered=False)
        return row
    answerer = view._answerer()
    gen = answerer.generation(answerer.context(Ask(q["question"], history), r))
    for _ in gen.pieces():
        pass
    ans = gen.answer
    e2e = time.perf_counter() - t0
    tokens = len(model.loaded().llama.tokenize(gen.raw.encode(), add_bos=False)) if gen.raw else 0
    own = verify(gen.raw, len(gen.sources))  # markers that point to a passage given
    backed = verify(gen.raw, len(gen.sources), gen.supports)  # ... and whose passage contains the claim
    first, total = r.timings.get("first_token"), r.timings.get("generate", 0.0)
    relevant = set(q["relevant"])
    cited_titles = [c.paper.title for c in ans.citations] if ans.backend == "local" else []
    row.update(
        answered=True,
        retrieval_s=round(
            r.timings.get("embed", 0)
            + r.timings.get("dense", 0)
            + r.timings.get("keyword", 0)
            + r.timings.get("fusion", 0),
            4,
        ),
        prompt_tokens=prompt_tokens(model.loaded().llama, gen.messages),
        passages=len(gen.sources),
        first_token_s=round(first, 3) if first is not None else None,
        tokens=tokens,
        tokens_per_s=round((tokens - 1) / (total - first), 1) if first and tokens > 1 and total > first else None,
        e2e_s=round(e2e, 3),
        own_valid_marker=own.cited,
        own_supported_citation=backed.cited,
        says_not_covered=not own.cited and says_not_covered(gen.raw),
        fallback=ans.fallback,
        cited_relevant=sum(t in relevant for t in cited_titles),
        cited=len(cited_titles),
        raw=gen.raw[:400],
    )
    return row


def _verdict(row: dict) -> str:
    if not row.get("answered"):
        return "refused"
    return "supported" if row["own_supported_citation"] else "marker" if row["own_valid_marker"] else "uncited"


def summarize(rows: list[dict]) -> dict:
    answered = [r for r in rows if r.get("answered")]

    def med(key):
        vals = [r[key] for r in answered if r.get(key) is not None]
        return round(statistics.median(vals), 3) if vals else None

    n = len(answered) or 1
    cited = sum(r["cited"] for r in answered)
    return {
        "questions": len(rows),
        "answered": len(answered),
        "first_token_s_median": med("first_token_s"),
        "first_token_s_max": max((r["first_token_s"] for r in answered if r.get("first_token_s")), default=None),
        "tokens_per_s_median": med("tokens_per_s"),
        "e2e_s_median": med("e2e_s"),
        "prompt_tokens_median": med("prompt_tokens"),
        "share_own_valid_marker": round(sum(r["own_valid_marker"] for r in answered) / n, 3),
        "share_own_supported_citation": round(sum(r["own_supported_citation"] for r in answered) / n, 3),
        "share_not_covered_replies": round(sum(r["says_not_covered"] for r in answered) / n, 3),
        "share_fallback": round(sum(bool(r["fallback"]) for r in answered) / n, 3),
        "citation_precision": round(sum(r["cited_relevant"] for r in answered) / cited, 3) if cited else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10, help="dev questions (default 10)")
    ap.add_argument("--variants", default="before,prompt,grammar")
    ap.add_argument("--gguf", default="", help="GGUF model (default: bundled SmolLM2-135M-Instruct)")
    ap.add_argument("--index-dir", default="", help="index directory (default: the settings' index_dir)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)

    overrides = {"backend": "local", "temperature": 0.0, "timeout": 300.0, "collection": "bundled"}
    if args.gguf:
        overrides["gguf"] = args.gguf
    if args.index_dir:
        overrides["index_dir"] = args.index_dir
    pa = PaperAssistant(Settings.load(**overrides))
    questions = dev_questions(args.n)
    load_before = os.getloadavg()

    t = time.perf_counter()
    model = pa._llm()
    model.loaded()
    load_s = time.perf_counter() - t
    warm = pa.ask(
        "Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?"
    )  # warm-up, not counted
    print(
        f"model {model.model}: loaded in {load_s:.2f} s; warm-up answer by {warm.backend}; "
        f"{os.cpu_count()} CPUs, threads={model.loaded().llama.n_threads}, load average {load_before[0]:.1f}"
    )

    results = {}
    for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
        spec = VARIANTS[name]
        view = pa.using(**spec["settings"])
        rows = [run_one(view, view._llm(), q) for q in questions]
        results[name] = {"summary": summarize(rows), "rows": rows}
        s = results[name]["summary"]
        print(
            f"\n[{name}] first token median {s['first_token_s_median']} s (max {s['first_token_s_max']}), "
            f"{s['tokens_per_s_median']} tokens/s, answer {s['e2e_s_median']} s end to end, "
            f"prompt {s['prompt_tokens_median']} tokens"
        )
        print(
            f"  answers whose own citations survive verification: {s['share_own_valid_marker']:.0%} point to a "
            f"passage given, {s['share_own_supported_citation']:.0%} also pass the support check; "
            f"'not covered' replies: {s['share_not_covered_replies']:.0%}; fallbacks: {s['share_fallback']:.0%}; "
            f"citation precision: {s['citation_precision']}"
        )
        for r in rows:
            print(
                f"  {r['id']:16s} ttft {r.get('first_token_s')!s:>6} s  {r.get('tokens_per_s')!s:>6} tok/s  "
                f"e2e {r['e2e_s']:6.2f} s  {_verdict(r):9s} {r.get('raw', '')[:70]!r}"
            )

    load_after = os.getloadavg()
    report = {
        "model": model.model,
        "gguf": str(model.settings.gguf or "bundled"),
        "load_s": round(load_s, 3),
        "machine": {
            "cpus": os.cpu_count(),
            "threads": model.loaded().llama.n_threads,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
        },
        "questions": [q["id"] for q in questions],
        "variants": results,
    }
    out = write_result(args.out, report)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
