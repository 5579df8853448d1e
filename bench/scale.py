"""Scale benchmark: ingest, search latency, cold start, disk and memory at N papers.

    python -m bench.scale                                  # N = 1000, embedded and server mode
    python -m bench.scale --n 1000 10000 --mode embedded server
    python -m bench.scale --n 50000 --work /data/scale     # ~1 h of embedding per cold mode
    python -m bench.scale --n 1000 10000 --queries-only    # start and searches again, on the kept indexes

For each N a synthetic collection (fixtures/synthetic.py; seed = N) is ingested from a JSONL
file by a fresh process, then a second fresh process opens the index and answers: that
is the cold start, followed by search latency over ~200 distinct questions.  Every
figure comes from separate processes, so peak RSS is that of the ingest or the query
process alone (and of the Chroma server, in server mode).

Ingest is compared with raw embedding of the same passages in the same process:
`MiniLMEmbedding.embed` on a random sample of them gives the raw rate.  The modes share
one embedding cache, so the first mode run for an N embeds everything (its ratio is the
real one) and the later ones reuse its vectors: for those the script also reports the
time outside embedding, and the ratio it implies for a cold run (raw + overhead) / raw.

Results are merged into bench/results/scale.json under "<mode>-<N>".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench import harness
from bench.harness import ROOT, Clock, peak_rss_mb, percentile, read_result, write_result

RESULTS = harness.RESULTS / "scale.json"


# --- workers (run as separate processes) ---------------------------------------------------


def worker_ingest(settings: dict, papers: str, sample: int) -> dict:
    from assistant import PaperAssistant, Settings, load_papers
    from assistant.ingest.chunking import chunk_paper, embed_text

    s = Settings.load(env={}, **settings)
    loaded = load_papers(papers, max_mb=s.max_file_mb, max_records=s.max_records).papers
    n_passages = sum(len(chunk_paper(p, s.chunk_words)) for p in loaded)
    pa = PaperAssistant(s)
    # raw reference: the same model on the passages of a random sample of the papers, in this
    # process, half before and half after the ingest (the machine's load drifts); wall and CPU time
    some = random.Random(0).sample(loaded, min(len(loaded), max(1, sample * len(loaded) // n_passages)))
    pick = [embed_text(p.title, ps.text) for p in some for ps in chunk_paper(p, s.chunk_words)]
    random.Random(1).shuffle(pick)
    del some
    pa.embedder.embed(pick[:64])  # load the model outside the timing
    raw = Clock()  # the two halves of the sample, added up
    with raw:
        pa.embedder.embed(pick[: len(pick) // 2])
    spent = {"embed_s": 0.0, "embedded": 0}
    embed = pa.embedder.embed

    def timed_embed(batch):
        t0 = time.perf_counter()
        try:
            return embed(batch)
        finally:
            spent["embed_s"] += time.perf_counter() - t0
            spent["embedded"] += len(batch)

    object.__setattr__(pa.embedder, "embed", timed_embed)
    with Clock() as ingest:
        report = pa.add_papers(papers, progress=_stderr_progress)
    ingest_s, ingest_cpu = ingest.wall, ingest.cpu
    object.__setattr__(pa.embedder, "embed", embed)
    with raw:
        pa.embedder.embed(pick[len(pick) // 2 :])
    raw_s = n_passages * raw.wall / len(pick)
    return {
        "papers": len(loaded),
        "added": len(report.added),
        "passages": n_passages,
        "raw_embed_rate": len(pick) / raw.wall,
        "raw_sample": len(pick),
        "raw_embed_s": raw_s,
        "raw_embed_cpu_s": n_passages * raw.cpu / len(pick),
        "ingest_s": ingest_s,
        "ingest_cpu_s": ingest_cpu,
        "ingest_papers_per_s": len(loaded) / ingest_s,
        "ingest_ratio": ingest_s / raw_s,
        "embedded_passages": spent["embedded"],
        "embed_s": spent["embed_s"],
        "outside_embedding_s": ingest_s - spent["embed_s"],
        "cold_ratio_implied": (raw_s + ingest_s - spent["embed_s"]) / raw_s,
        "keyword_segments": pa.store.snapshot.keyword.segments,
        "peak_rss_mb": peak_rss_mb(),
    }


def _stderr_progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\r  ingest {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def worker_query(settings: dict, queries: list[str]) -> None:
    t0 = time.perf_counter()
    from assistant import PaperAssistant, Settings

    t_import = time.perf_counter()
    pa = PaperAssistant(Settings.load(env={}, **settings))
    t_open = time.perf_counter()
    first = pa.ask(queries[0])
    t_first = time.perf_counter()
    print(json.dumps({"event": "first-answer", "covered": first.covered}), flush=True)
    lat, ask_lat, stages = [], [], {}
    for q in queries[1:]:
        t = time.perf_counter()
        r = pa.retrieve(q)
        lat.append(time.perf_counter() - t)
        for name, v in r.timings.items():
            stages.setdefault(name, []).append(v)
    for q in queries[1:41]:  # ask = search + the extractive answer (query vectors are cached by now)
        t = time.perf_counter()
        pa.ask(q)
        ask_lat.append(time.perf_counter() - t)
    print(
        json.dumps(
            {
                "event": "done",
                "import_s": t_import - t0,
                "open_s": t_open - t_import,
                "first_answer_s": t_first - t_open,
                "search_p50_ms": 1000 * percentile(lat, 50, "nearest"),
                "search_p95_ms": 1000 * percentile(lat, 95, "nearest"),
                "queries": len(lat),
                "ask_p50_ms": 1000 * percentile(ask_lat, 50, "nearest"),
                "ask_p95_ms": 1000 * percentile(ask_lat, 95, "nearest"),
                "stage_p50_ms": {k: 1000 * percentile(v, 50, "nearest") for k, v in stages.items()},
                "papers": len(pa.papers),
                "peak_rss_mb": peak_rss_mb(),
            }
        ),
        flush=True,
    )


# --- the driver -----------------------------------------------------------------------------


def questions(n: int = 200) -> list[str]:
    """The dev questions, then distinct sentence fragments of the bundled abstracts."""
    from assistant.ingest.records import load_papers
    from assistant.settings import BUNDLED_COLLECTION
    from assistant.text import sentence_spans

    qs = [json.loads(line)["question"] for line in (ROOT / "examples" / "dev_questions.jsonl").open()]
    rng = random.Random(1)
    sentences = [p.abstract[a:b] for p in load_papers(BUNDLED_COLLECTION).papers for a, b in sentence_spans(p.abstract)]
    while len(qs) < n:
        words = rng.choice(sentences).split()
        start = rng.randrange(max(1, len(words) - 8))
        qs.append(" ".join(words[start : start + rng.randint(5, 10)]))
    return list(dict.fromkeys(qs))[:n]


def du_mb(path: Path) -> float:
    files = list(path.rglob("*")) if path.is_dir() else list(path.parent.glob(path.name + "*"))  # with -wal/-shm
    return sum(f.stat().st_size for f in files if f.is_file()) / 1e6


def disk(case: Path) -> dict:
    """Index size: Chroma's files, and the local files the index uses (not superseded keyword
    segments that are only deleted a couple of minutes later)."""
    import sqlite3

    root = next((case / "index").glob("papers-*"))
    with sqlite3.connect(root / "local.sqlite") as db:
        state = json.loads(db.execute("SELECT value FROM meta WHERE key='keyword'").fetchone()[0])
    live = sum(du_mb(root / "keyword" / f"seg-{seg['name']}") for seg in state["segments"])
    return {
        "chroma": du_mb(case / "chroma-server") if (case / "chroma-server").exists() else du_mb(root / "chroma"),
        "local_files": du_mb(root / "local.sqlite") + live,
    }


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run_worker(args: list[str], timeout: float) -> tuple[list[dict], float, float]:
    """Run a worker; returns its JSON lines, the time to its first line and to its end."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.scale", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    lines, first = [], None
    for line in proc.stdout:
        if line.startswith("{"):
            lines.append(json.loads(line))
            first = first or time.perf_counter() - t0
    if proc.wait(timeout=timeout) != 0:
        raise RuntimeError(f"worker {args[:2]} failed with exit code {proc.returncode}")
    return lines, first or 0.0, time.perf_counter() - t0


class Server:
    def __init__(self, path: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.path, self.url = path, f"http://127.0.0.1:{self.port}"
        log = open(path.parent / "chroma-server.log", "ab")
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("chroma")),
                "run",
                "--path",
                str(path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        import httpx

        for _ in range(300):
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("chroma run did not start")

    def stop(self) -> float:
        rss = peak_rss_mb(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        return rss


def bench(n: int, mode: str, work: Path, sample: int, previous: dict | None = None) -> dict:
    """Ingest N papers, then measure a cold start and searches; with `previous` (the result of
    an earlier run on the index kept in `work`), measure only the start and the searches again."""
    from fixtures.synthetic import write_jsonl

    papers = work / f"synthetic-{n}.jsonl"
    case = work / f"{mode}-{n}"
    if previous is None:
        if not papers.exists():
            write_jsonl(papers, n, seed=n)
        shutil.rmtree(case, ignore_errors=True)
        case.mkdir(parents=True)
    elif not case.exists():
        raise SystemExit(f"{case} is gone: run without --queries-only first")
    server = Server(case / "chroma-server") if mode == "server" else None
    settings = {
        "index_dir": str(case / "index"),
        "collection": "",
        "model_cache": str(work / "models"),
        "embed_cache": str(work / "vectors.sqlite"),
        "chroma_url": server.url if server else "",
        "max_file_mb": 2000,
    }
    cache_before = du_mb(work / "vectors.sqlite")
    try:
        if previous is None:
            print(f"[{mode} {n}] ingest", file=sys.stderr, flush=True)
            server_cpu = cpu_s(server.proc.pid) if server else 0.0
            (ingest,), _, _ = run_worker(
                ["--worker", "ingest", json.dumps(settings), str(papers), str(sample)], 6 * 3600
            )
            # CPU seconds barely depend on what else the machine runs: the ratio a quiet machine would show
            ingest["server_cpu_s"] = cpu_s(server.proc.pid) - server_cpu if server else 0.0
            ingest["cpu_ratio"] = (ingest["ingest_cpu_s"] + ingest["server_cpu_s"]) / ingest["raw_embed_cpu_s"]
        print(f"[{mode} {n}] cold start and queries", file=sys.stderr, flush=True)
        qfile = work / "queries.json"
        qfile.write_text(json.dumps(questions()))
        lines, cold, _ = run_worker(["--worker", "query", json.dumps(settings), str(qfile)], 3600)
        query = lines[-1]
    finally:
        server_rss = server.stop() if server else 0.0
    result = {
        "mode": mode,
        "n": n,
        "cold_start_s": cold,
        "query": query,
        "disk_mb": disk(case),
        "machine": {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg()[0]},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if previous is None:
        result |= {"ingest": ingest, "server_peak_rss_mb": server_rss}
        result["disk_mb"]["embedding_cache_growth"] = du_mb(work / "vectors.sqlite") - cache_before
    else:
        result = previous | result | {"server_query_peak_rss_mb": server_rss}
        result["disk_mb"]["embedding_cache_growth"] = previous["disk_mb"].get("embedding_cache_growth", 0.0)
    return result


def summary(r: dict) -> str:
    i, q = r["ingest"], r["query"]
    ratio = f"{i['ingest_ratio']:.2f}x raw (cpu {i['cpu_ratio']:.2f}x)" + (
        "" if i["embedded_passages"] >= 0.9 * i["passages"] else f" cache; cold {i['cold_ratio_implied']:.2f}x"
    )
    return (
        f"{r['mode']:>8} {r['n']:>6}: ingest {i['ingest_papers_per_s']:6.1f} papers/s {ratio:44s} "
        f"search p50 {q['search_p50_ms']:6.1f} ms p95 {q['search_p95_ms']:6.1f} ms  cold start {r['cold_start_s']:5.1f} s  "
        f"disk {r['disk_mb']['chroma'] + r['disk_mb']['local_files']:7.1f} MB  "
        f"RSS ingest {i['peak_rss_mb']:6.0f} / query {q['peak_rss_mb']:6.0f} MB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[1000])
    ap.add_argument("--mode", nargs="+", choices=["embedded", "server"], default=["embedded", "server"])
    ap.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/paper-assistant-scale"),
        help="indexes, server data and the shared embedding cache (kept between runs)",
    )
    ap.add_argument("--sample", type=int, default=2000, help="passages embedded for the raw-rate reference")
    ap.add_argument(
        "--queries-only",
        action="store_true",
        help="measure cold start and searches again on the indexes an earlier run left in --work",
    )
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        kind, settings, *rest = a.worker
        if kind == "ingest":
            print(json.dumps(worker_ingest(json.loads(settings), rest[0], int(rest[1]))), flush=True)
        else:
            worker_query(json.loads(settings), json.loads(Path(rest[0]).read_text()))
        return
    a.work.mkdir(parents=True, exist_ok=True)
    # export the ONNX model once, outside every measured process
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from assistant.embedding import MiniLMEmbedding; MiniLMEmbedding(sys.argv[1]).embed(['warm'])",
            str(a.work / "models"),
        ],
        check=True,
        cwd=ROOT,
    )
    for n in a.n:
        for mode in a.mode:
            key = f"{mode}-{n}"
            earlier = read_result(RESULTS).get(key)
            if a.queries_only and earlier is None:
                raise SystemExit(f"no earlier result for {key} in {RESULTS}")
            r = bench(n, mode, a.work, a.sample, earlier if a.queries_only else None)
            results = read_result(RESULTS)  # other runs may have written
            results[key] = r
            write_result(RESULTS, results)
            print(summary(r), flush=True)


if __name__ == "__main__":
    main()
