"""What bench.bench runs in a new process (cold start, peak memory).  Prints one JSON line
when the first answer (or retrieval) is done, then, for the `many` modes, one at the end.

    python -m bench.child first-answer  --index-dir D --model-cache M --question Q
    python -m bench.child answer-many   --index-dir D --model-cache M --questions F --n 50
    python -m bench.child starter-first --starter-dir S --question Q
    python -m bench.child starter-many  --starter-dir S --questions F --n 50
    python -m bench.child starter-build --starter-dir EMPTY --papers FILE --question Q

The parent measures wall time from spawning the process to reading the first line (so
interpreter start-up counts) and peak RSS through a launcher's RUSAGE_CHILDREN; the
`many` modes print their own VmHWM as a cross-check.  Times printed here start when this
module starts running.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

T0 = time.perf_counter()
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def say(**fields) -> None:
    fields["t"] = round(time.perf_counter() - T0, 4)
    print(json.dumps(fields), flush=True)


def vm_hwm_mb() -> float:
    """This process's peak resident memory in MiB (a cross-check of the launcher's ru_maxrss);
    read once the measured work is done, so the harness is imported only then."""
    from bench.harness import peak_rss_mb

    return round(peak_rss_mb(), 1)


def questions(path: str, n: int) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        qs = [json.loads(line) for line in f if line.strip()]
    return (qs * (n // len(qs) + 1))[:n]


def load_assistant(args):
    """(assistant, seconds importing, seconds opening the index)."""
    t = time.perf_counter()
    from assistant import PaperAssistant, Settings
    from assistant.settings import DEMO_COLLECTION

    t1 = time.perf_counter()
    pa = PaperAssistant(
        Settings.load(env={}, index_dir=args.index_dir, model_cache=args.model_cache, collection=DEMO_COLLECTION)
    )
    return pa, t1 - t, time.perf_counter() - t1


def load_starter(args):
    """(starter retriever over the persisted index, seconds importing, seconds loading model + index)."""
    t = time.perf_counter()
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding  # noqa: F401  (torch, transformers)

    from assistant.evaluation.baselines import open_starter, starter_embedding

    t1 = time.perf_counter()
    embed_model, _ = starter_embedding()
    return open_starter(args.starter_dir, embed_model), t1 - t, time.perf_counter() - t1


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["first-answer", "answer-many", "starter-first", "starter-many", "starter-build"])
    p.add_argument("--index-dir")
    p.add_argument("--model-cache")
    p.add_argument("--starter-dir")
    p.add_argument("--question", default="Which work aligns a frozen GPT-2 with CLIP to caption videos?")
    p.add_argument("--questions")
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--papers", help="papers file the starter-build mode indexes")
    args = p.parse_args()
    if args.mode == "starter-build":  # the recipe's first run: embed every paper, then retrieve
        t = time.perf_counter()
        from assistant.evaluation.baselines import starter, starter_embedding
        from assistant.ingest.records import load_papers

        t1 = time.perf_counter()
        embed_model, _ = starter_embedding()
        system = starter(load_papers(args.papers).papers, embed_model, path=args.starter_dir)
        hits = system.retrieve(args.question)
        say(event="first", imported=t1 - t, opened=time.perf_counter() - t1, results=len(hits))
        return
    if args.mode.startswith("starter"):
        system, imported, opened = load_starter(args)
        if args.mode == "starter-first":
            hits = system.retrieve(args.question)
            say(event="first", imported=imported, opened=opened, results=len(hits))
            return
        from assistant.evaluation.baselines import history_query

        for q in questions(args.questions, args.n):
            system.retrieve(history_query(q))
        say(event="done", n=args.n, vm_hwm_mb=vm_hwm_mb())
        return
    pa, imported, opened = load_assistant(args)
    if args.mode == "first-answer":
        ans = pa.ask(args.question)
        say(
            event="first",
            imported=imported,
            opened=opened,
            covered=ans.covered,
            citations=len(ans.citations),
            papers=len(pa.papers),
        )
        return
    answered = 0
    for q in questions(args.questions, args.n):
        pa.ask(q["question"], history=q.get("history") or None)
        answered += 1
    say(event="done", n=answered, papers=len(pa.papers), vm_hwm_mb=vm_hwm_mb())


if __name__ == "__main__":
    sys.exit(main())
