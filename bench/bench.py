"""Speed and memory of paper-assistant on the bundled collection, each figure next to a
reference measured in the same run (the LlamaIndex starter recipe, raw embedding time).

    .venv/bin/python -m bench.bench            # ~5 min on 2 cores; prints the figures and writes
                                               # bench/results/bench.json and bench/results/stages.png
    .venv/bin/python -m bench.bench --quick    # one repeat of everything, no torch-export cold start

Needs the bench extra (pip install -e '.[bench]').  What is measured:

* warm latency, in this process, over the dev questions x --rounds (query-embedding cache
  cleared before every call, so no query is answered from memory): search (`retrieve`),
  extractive answer (`ask`), the starter recipe's retrieval, its query embedding alone, BM25
  alone, and the assistant's per-stage times (the plot).  The systems take turns on each
  question in a random order, so machine load hits them alike; ratios also per round.
* ingest of the bundled collection into an empty index (model loaded, as for the starter),
  re-ingest of the unchanged file, raw embedding of the same passages, the starter's build.
* cold start: a new process to the first answer, (a) with an existing index, (b) with no
  index but the ONNX export cached, (c) with nothing cached (exports the model with torch);
  references: a new starter process loading its persisted index, and one building it.
* peak RSS (kernel's ru_maxrss of the child) of a process that opens the index and answers
  50 questions, and of a starter process that loads its index and retrieves for 50.

Timings on a shared machine are noisy: medians over repeats, load average recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant import PaperAssistant, Settings
from assistant.answering.answerer import Ask
from assistant.evaluation import baselines
from assistant.evaluation.questions import load_questions
from assistant.ingest.chunking import chunk_paper, embed_text
from assistant.settings import BUNDLED_COLLECTION
from bench.harness import RESULTS, ROOT, peak_rss_launcher, percentile, timed, write_result

try:
    from bench.plot import plot_stages  # needs matplotlib: fail now, not after minutes of work
except ImportError as e:
    sys.exit(f"bench needs {e.name}: pip install -e '.[bench]'")

DEV = ROOT / "examples" / "dev_questions.jsonl"
FIRST_QUESTION = "Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?"
STAGES = ("embed", "dense", "keyword", "fusion", "gate", "answer")


def median(xs: list[float]) -> float:
    return percentile(xs, 50)


def pcts(xs_seconds: list[float]) -> dict[str, float]:
    ms = [x * 1000 for x in xs_seconds]
    return {"p50": round(percentile(ms, 50), 3), "p95": round(percentile(ms, 95), 3), "n": len(ms)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.1f}] {msg}", file=sys.stderr, flush=True)


# --- new processes ---------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env.update(PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM="false")
    return env


def run_child(*args: str, measure_rss: bool = False) -> dict:
    """Run `python -m bench.child`: wall seconds from spawn to its first JSON line, its JSON
    lines, and (measure_rss) its peak RSS as a small launcher's RUSAGE_CHILDREN reports it
    (bench.harness.peak_rss_launcher: a child forked straight from this large process would
    report at least this process's size)."""
    cmd = [sys.executable, "-m", "bench.child", *args]
    if measure_rss:
        cmd = peak_rss_launcher(cmd)
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=child_env(), cwd=ROOT)
        first = p.stdout.readline()
        wall = time.perf_counter() - t0
        rest = p.stdout.read()
        p.wait()
        if p.returncode != 0 or not first:
            err.seek(0)
            raise RuntimeError(f"child {args[0]} failed ({p.returncode}): {err.read()[-2000:]}")
    events = [json.loads(x) for x in (first + rest).splitlines() if x.strip()]
    out = {"wall_s": wall, "events": events}
    for e in events:
        if e["event"] == "rusage":
            out["max_rss_mb"] = e["max_rss_kb"] / 1024  # KiB on Linux
    return out


# --- sections ----------------------------------------------------------------------------------


def cold_nothing_cached(work: Path, repeats: int, models: Path | None) -> tuple[list[dict], Path]:
    """New process, empty index and empty model cache: export with torch, build, answer.
    Returns the runs and a model cache holding the export (for everything after)."""
    runs = []
    for i in range(repeats):
        d = work / f"nothing-{i}"
        runs.append(
            run_child(
                "first-answer",
                "--index-dir",
                str(d / "index"),
                "--model-cache",
                str(d / "models"),
                "--question",
                FIRST_QUESTION,
            )
        )
        log(f"cold start, nothing cached: {runs[-1]['wall_s']:.2f} s")
    if models is not None:
        return runs, models
    if runs:
        return runs, work / "nothing-0" / "models"
    models = work / "models"  # export once, untimed
    PaperAssistant(
        Settings.load(env={}, index_dir=str(work / "export"), model_cache=str(models), collection="")
    ).embedder.embed(["export"])
    return runs, models


def ingest(work: Path, models: Path, hf, repeats: int) -> dict:
    """Ingest into an empty index, re-ingest unchanged, raw embedding, the starter's build."""
    out = {k: [] for k in ("ingest", "reingest", "reingest_calls", "raw_embed", "starter_build", "ratio_to_starter")}
    for i in range(repeats):
        pa = PaperAssistant(
            Settings.load(env={}, index_dir=str(work / f"ingest-{i}"), model_cache=str(models), collection="")
        )
        pa.embedder.embed(["load the model first"])  # the starter's model is loaded before its build too
        report = pa.add_papers(BUNDLED_COLLECTION)
        assert len(report.added) == len(pa.papers) > 0, report.summary()
        out["ingest"].append(report.seconds)
        out["passages"] = report.passages_embedded
        out["papers"] = len(report.added)
        calls = pa.embedder.calls
        again = pa.add_papers(BUNDLED_COLLECTION)
        out["reingest"].append(again.seconds)
        out["reingest_calls"].append(pa.embedder.calls - calls)
        texts = [embed_text(p.title, ps.text) for p in pa.papers for ps in chunk_paper(p, pa.settings.chunk_words)]
        t = time.perf_counter()
        pa.embedder.embed(texts)
        out["raw_embed"].append(time.perf_counter() - t)
        out["starter_build"].append(baselines.starter(pa.papers, hf, path=work / f"starter-{i}").build_seconds)
        out["ratio_to_starter"].append(round(report.seconds / out["starter_build"][-1], 3))  # paired, per repeat
        log(
            f"ingest {report.seconds:.2f} s, re-ingest {again.seconds:.3f} s, raw embedding "
            f"{out['raw_embed'][-1]:.2f} s, starter build {out['starter_build'][-1]:.2f} s"
        )
    return out


def latency(pa: PaperAssistant, starter, bm25, hf, questions: list[dict], rounds: int) -> dict:
    """Warm per-question latencies.  The systems take turns on each question, in a random
    order, so none always runs just after another's still-spinning thread pool (ONNX
    Runtime's and torch's worker threads busy-wait for a while after each call)."""
    clear = pa.embedder._query_cached.cache_clear  # a repeated question must not be answered from the cache
    stages: dict[str, list[float]] = {s: [] for s in STAGES}

    def search(q: dict) -> float:
        clear()
        t = time.perf_counter()
        r = pa.retrieve(q["question"], history=q["history"] or None, k=10)
        elapsed = time.perf_counter() - t
        pa._answerer().extractive(
            Ask(q["question"]), r
        )  # not part of the search time; adds the answer stage to r.timings
        for s in STAGES:
            stages[s].append(r.timings.get(s, 0.0))
        return elapsed

    def answer(q: dict) -> float:
        clear()
        return timed(pa.ask, q["question"], q["history"] or None, 10)

    calls = {
        "search": search,
        "answer": answer,
        "starter": lambda q: timed(starter.retrieve, baselines.history_query(q)),
        "starter_embed": lambda q: timed(hf.get_query_embedding, baselines.history_query(q)),
        "bm25": lambda q: timed(bm25.retrieve, baselines.history_query(q)),
    }
    times: dict[str, list[float]] = {k: [] for k in calls}
    rng = random.Random(0)
    per_round = []
    for i in range(rounds + 1):  # round 0 warms up and is not recorded
        this: dict[str, list[float]] = {k: [] for k in calls}
        for q in rng.sample(questions, len(questions)):
            for name in rng.sample(list(calls), len(calls)):
                this[name].append(calls[name](q))
        if i == 0:
            for v in stages.values():
                v.clear()
            continue
        for k, v in this.items():
            times[k] += v
        p50 = {k: median(v) for k, v in this.items()}
        per_round.append(
            {
                "search/starter": round(p50["search"] / p50["starter"], 3),
                "answer/starter": round(p50["answer"] / p50["starter"], 3),
                "load": round(os.getloadavg()[0], 2),
            }
        )
        log(
            f"latency round {i}/{rounds}: search p50 {p50['search'] * 1000:.1f} ms, answer "
            f"{p50['answer'] * 1000:.1f} ms, starter {p50['starter'] * 1000:.1f} ms, bm25 {p50['bm25'] * 1000:.2f} ms"
        )
    return {
        "ms": {k: pcts(v) for k, v in times.items()},
        "stages_ms": {
            s: {"p50": round(median(v) * 1000, 3), "mean": round(sum(v) / len(v) * 1000, 3)} for s, v in stages.items()
        },
        "per_round": per_round,
    }


def cold_starts(work: Path, models: Path, repeats: int) -> dict:
    """New processes to the first answer / retrieval, assistant and starter alternating."""
    index, starter_dir = work / "cold-index", work / "cold-starter"
    shutil.copytree(work / "ingest-0", index)
    shutil.copytree(work / "starter-0", starter_dir)
    out = {k: [] for k in ("existing", "starter_existing", "no_index", "starter_build")}
    for i in range(repeats):
        out["existing"].append(
            run_child(
                "first-answer", "--index-dir", str(index), "--model-cache", str(models), "--question", FIRST_QUESTION
            )
        )
        out["starter_existing"].append(
            run_child("starter-first", "--starter-dir", str(starter_dir), "--question", FIRST_QUESTION)
        )
        out["no_index"].append(
            run_child(
                "first-answer",
                "--index-dir",
                str(work / f"noindex-{i}"),
                "--model-cache",
                str(models),
                "--question",
                FIRST_QUESTION,
            )
        )
        out["starter_build"].append(
            run_child(
                "starter-build",
                "--starter-dir",
                str(work / f"starter-new-{i}"),
                "--papers",
                str(BUNDLED_COLLECTION),
                "--question",
                FIRST_QUESTION,
            )
        )
        log("cold start " + ", ".join(f"{k} {v[-1]['wall_s']:.2f} s" for k, v in out.items()))
    return out


def peak_rss(work: Path, models: Path, n: int) -> dict:
    return {
        "assistant": run_child(
            "answer-many",
            "--index-dir",
            str(work / "cold-index"),
            "--model-cache",
            str(models),
            "--questions",
            str(DEV),
            "--n",
            str(n),
            measure_rss=True,
        ),
        "starter": run_child(
            "starter-many",
            "--starter-dir",
            str(work / "cold-starter"),
            "--questions",
            str(DEV),
            "--n",
            str(n),
            measure_rss=True,
        ),
    }


# --- figures -------------------------------------------------------------------------------------


def figure(
    name: str,
    value: float,
    unit: str,
    reference: str,
    ref_value: float | None,
    target: str = "",
    met: bool | None = None,
) -> dict:
    ratio = value / ref_value if ref_value else None
    # Significant digits, not decimals: a 4 ms re-ingest keeps its precision (and its ratio adds up).
    return {
        "name": name,
        "value": float(f"{value:.4g}"),
        "unit": unit,
        "reference": reference,
        "reference_value": None if ref_value is None else float(f"{ref_value:.4g}"),
        "ratio": None if ratio is None else float(f"{ratio:.4g}"),
        "target": target,
        "met": met,
    }


def figures(lat: dict, ing: dict, cold: dict, nothing: list[dict], rss: dict) -> list[dict]:
    ms = lat["ms"]
    st50, st95 = ms["starter"]["p50"], ms["starter"]["p95"]
    wall = {k: median([r["wall_s"] for r in v]) for k, v in cold.items()}
    rss_a, rss_s = rss["assistant"]["max_rss_mb"], rss["starter"]["max_rss_mb"]
    ingest_s, starter_s, raw_s = median(ing["ingest"]), median(ing["starter_build"]), median(ing["raw_embed"])
    reingest_s, calls = median(ing["reingest"]), max(ing["reingest_calls"])
    out = [
        figure(
            "search latency p50 (warm)",
            ms["search"]["p50"],
            "ms",
            "starter retrieval p50",
            st50,
            "≤ 1.3 × starter",
            ms["search"]["p50"] <= 1.3 * st50,
        ),
        figure("search latency p95 (warm)", ms["search"]["p95"], "ms", "starter retrieval p95", st95),
        figure(
            "extractive answer latency p50",
            ms["answer"]["p50"],
            "ms",
            "starter retrieval p50",
            st50,
            "≤ 2 × starter",
            ms["answer"]["p50"] <= 2 * st50,
        ),
        figure("extractive answer latency p95", ms["answer"]["p95"], "ms", "starter retrieval p95", st95),
        figure("BM25-only retrieval p50 (reference)", ms["bm25"]["p50"], "ms", "starter retrieval p50", st50),
        figure(
            "starter query embedding p50 (reference)", ms["starter_embed"]["p50"], "ms", "starter retrieval p50", st50
        ),
        figure(
            "cold start to first answer, existing index",
            wall["existing"],
            "s",
            "starter: new process to first retrieval, persisted index",
            wall["starter_existing"],
            "≤ 6 s",
            wall["existing"] <= 6,
        ),
        figure(
            "cold start to first answer, no index (model export cached)",
            wall["no_index"],
            "s",
            "starter: new process, build index, first retrieval",
            wall["starter_build"],
        ),
    ]
    if nothing:
        v = median([r["wall_s"] for r in nothing])
        out.append(
            figure(
                "cold start to first answer, nothing cached (torch export)",
                v,
                "s",
                "starter: new process, build index, first retrieval",
                wall["starter_build"],
            )
        )
    out += [
        figure(
            f"ingest from scratch ({ing['papers']} papers, {ing['passages']} passages)",
            ingest_s,
            "s",
            "starter build, same papers",
            starter_s,
            "≤ 1.5 × starter",
            ingest_s <= 1.5 * starter_s,
        ),
        figure("ingest from scratch vs raw embedding", ingest_s, "s", "raw embedding of the same passages", raw_s),
        figure(
            f"re-ingest unchanged papers ({calls} texts embedded)",
            reingest_s,
            "s",
            "raw embedding of the same passages",
            raw_s,
            "≤ 1 s, 0 embedded",
            reingest_s <= 1 and calls == 0,
        ),
        figure("ingest throughput", ing["papers"] / ingest_s, "papers/s", "starter", ing["papers"] / starter_s),
        figure(
            "peak RSS, open index + answer 50 questions",
            rss_a / 1024,
            "GiB",
            "starter process: load index + 50 retrievals",
            rss_s / 1024,
            "≤ 1.2 GiB",
            rss_a / 1024 <= 1.2,
        ),
    ]
    return out


def print_figures(figs: list[dict]) -> None:
    print(f"{'figure':60s} {'value':>16s} {'reference':>16s} {'ratio':>7s}  target")
    for f in figs:
        value = f"{f['value']:.3g} {f['unit']}"
        ref = "" if f["reference_value"] is None else f"{f['reference_value']:.3g} {f['unit']}"
        ratio = "" if f["ratio"] is None else f"{f['ratio']:.2f}×"
        verdict = "" if f["met"] is None else ("met" if f["met"] else "MISSED")
        print(f"{f['name']:60s} {value:>16s} {ref:>16s} {ratio:>7s}  {f['target']} {verdict}")
        print(f"{'':60s}   reference: {f['reference']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(RESULTS), help="where bench.json and stages.png go")
    ap.add_argument("--rounds", type=int, default=3, help="latency rounds over the dev questions (after a warm-up)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of each ingest and cold-start measurement")
    ap.add_argument(
        "--nothing-cached", type=int, default=1, help="cold starts with nothing cached (each exports with torch)"
    )
    ap.add_argument("--rss-questions", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="1 round, 1 repeat, no nothing-cached start (a smoke run)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary indexes")
    ap.add_argument("--model-cache", help="reuse this ONNX export of the embedding model (default: export one)")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.repeats, args.nothing_cached = 1, 1, 0
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pa-bench-"))
    load_before = os.getloadavg()
    started = time.perf_counter()
    try:
        log(f"work dir {work}")
        nothing, models = cold_nothing_cached(work, args.nothing_cached, args.model_cache and Path(args.model_cache))
        hf, hf_name = baselines.starter_embedding()
        ing = ingest(work, models, hf, args.repeats)
        pa = PaperAssistant(
            Settings.load(env={}, index_dir=str(work / "ingest-0"), model_cache=str(models), collection="")
        )
        starter = baselines.open_starter(work / "starter-0", hf)
        bm25 = baselines.bm25(pa.papers)
        lat = latency(pa, starter, bm25, hf, load_questions(DEV), args.rounds)
        cold = cold_starts(work, models, args.repeats)
        rss = peak_rss(work, models, args.rss_questions)
        figs = figures(lat, ing, cold, nothing, rss)
        results = {
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "load_before": [round(x, 2) for x in load_before],
                "load_after": [round(x, 2) for x in os.getloadavg()],
            },
            "run": {
                "rounds": args.rounds,
                "repeats": args.repeats,
                "questions": len(load_questions(DEV)),
                "seconds": round(time.perf_counter() - started, 1),
                "starter_embedding": hf_name,
                "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
            "figures": figs,
            "latency": lat,
            "ingest": ing,
            "cold_start": {
                k: [{"wall_s": round(r["wall_s"], 3), **r["events"][0]} for r in v]
                for k, v in {**cold, "nothing_cached": nothing}.items()
            },
            "peak_rss_mb": {
                k: {"ru_maxrss": round(v["max_rss_mb"], 1), "VmHWM": v["events"][0]["vm_hwm_mb"]}
                for k, v in rss.items()
            },
        }
        write_result(out_dir / "bench.json", results)
        plot_stages(lat, out_dir / "stages.png")
        print_figures(figs)
        print(
            f"\nload average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
            f"{time.perf_counter() - started:.0f} s in all"
        )
        print(f"wrote {out_dir / 'bench.json'} and {out_dir / 'stages.png'}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
