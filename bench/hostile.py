"""Hostile input against a public deployment (issue #29): the figures behind docs/reliability.md.

Starts the real app (`python app.py`, ASSISTANT_PUBLIC=1, the bundled collection, an owner LLM
that is down) on 127.0.0.1, then runs each attack once: the bombs of fixtures/bombs.py uploaded
by one visitor while another visitor searches, a 10 MB history, a 500 KB history, a flood of 300
POSTs from one address.  For each: what the attacker was told, how long the request took, the
growth of the server's resident memory while it ran (sampled from /proc every 20 ms), the other
visitor's search time, and whether the server still answers after.

    python -m bench.hostile [--out bench/results/hostile.json]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.harness import RESULTS, ROOT, write_result
from fixtures import bombs

ATTACKS = {
    "gzip bomb: one 2 GB JSON line": lambda d: bombs.gzip_bomb(d),
    "bzip2 bomb: one 64 MB JSON line": lambda d: bombs.bz2_bomb(d),
    "xz bomb: one 256 MB JSON line": lambda d: bombs.xz_bomb(d),
    "zip bomb: one 512 MB JSON line": lambda d: bombs.zip_bomb(d),
    "890,000 BibTeX entries, gzipped": lambda d: bombs.many_entries_bib(d),
    "PDF: a 600 MB content stream of path operators": lambda d: bombs.pdf_bomb(d),
    "a Zotero database (recursive view) named library.bib": lambda d: bombs.recursive_view_db(d),
}


ATTACKS["embedding cost: 30 papers of 2,800-word abstracts"] = lambda d: bombs.papers_file(d)
ATTACKS["an ordinary upload: 200 papers of 90-word abstracts"] = lambda d: bombs.papers_file(d, 200, 90, "ok.jsonl")
QUESTION = "Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sampler:
    """Peak VmRSS of a process over a block, sampled every 20 ms."""

    def __init__(self, pid: int):
        self.pid, self._stop = pid, threading.Event()

    def rss(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith("VmRSS:")) * 1024

    def __enter__(self) -> Sampler:
        self.base = self.peak = self.rss()

        def run():
            while not self._stop.wait(0.02):
                try:
                    self.peak = max(self.peak, self.rss())
                except OSError:
                    return

        self._t = threading.Thread(target=run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def start(work: Path) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_", "GRADIO_"))}
    if os.environ.get("ASSISTANT_MODEL_CACHE"):  # where the embedding model is kept stays as the caller has it
        env["ASSISTANT_MODEL_CACHE"] = os.environ["ASSISTANT_MODEL_CACHE"]
    env.update(
        ASSISTANT_INDEX_DIR=str(work / "index"),
        ASSISTANT_PUBLIC="1",
        ASSISTANT_TRUSTED_PROXIES="1",
        OPENAI_API_KEY="sk-bench-owner-0123456789",
        OPENAI_BASE_URL=f"http://127.0.0.1:{free_port()}/v1",  # down: every LLM answer falls back
        ASSISTANT_MODEL="stub-model",
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        GRADIO_TEMP_DIR=str(work / "uploads"),
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
    )
    log = work / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/config", timeout=2):
                return proc, url, log
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("app.py did not start")


def search_seconds(url: str, address: str = "198.51.100.200") -> float:
    from gradio_client import Client

    t = time.perf_counter()
    hits = Client(url, verbose=False, headers={"X-Forwarded-For": address}).predict(
        QUESTION, 3, api_name="/search_papers"
    )["papers"]
    assert hits, "the other visitor got no answer"
    return round(time.perf_counter() - t, 2)


def upload_attack(url: str, pid: int, path: Path) -> dict:
    from gradio_client import Client, handle_file

    out: dict = {}

    def attack():
        t = time.perf_counter()
        c = Client(url, verbose=False, headers={"X-Forwarded-For": "203.0.113.66"})
        out["report"] = c.predict([handle_file(str(path))], api_name="/add_papers")[0]
        out["seconds"] = round(time.perf_counter() - t, 2)

    with Sampler(pid) as rss:
        t = threading.Thread(target=attack)
        t.start()
        other = search_seconds(url)
        t.join()
    told = html.unescape(re.sub(r"<[^>]+>", "", out["report"])).replace("⚠️", "").strip()
    return {
        "file_bytes": path.stat().st_size,
        "refused": "Nothing was added" in told or "nothing was added" in told,
        "told": told[:240],
        "seconds": out["seconds"],
        "server_rss_growth_mb": round((rss.peak - rss.base) / 1e6, 1),
        "other_visitor_search_s": other,
    }


def post(url: str, api: str, data: list, address: str) -> tuple[int, str]:
    req = urllib.request.Request(
        f"{url}/gradio_api/call/{api}",
        data=json.dumps({"data": data}).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": address},
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def request_attacks(url: str, pid: int) -> dict:
    from gradio_client import Client

    results = {}
    with Sampler(pid) as rss:
        t = time.perf_counter()
        code, body = post(
            url, "ask_papers", [QUESTION, [{"role": "user", "content": "x" * 10_000_000}]], "203.0.113.70"
        )
        seconds = time.perf_counter() - t
    results["a 10 MB history message (HTTP API)"] = {
        "status": code,
        "told": body[:200],
        "seconds": round(seconds, 2),
        "server_rss_growth_mb": round((rss.peak - rss.base) / 1e6, 1),
    }
    with Sampler(pid) as rss:
        t = time.perf_counter()
        try:
            Client(url, verbose=False, headers={"X-Forwarded-For": "203.0.113.71"}).predict(
                QUESTION, [{"role": "user", "content": "y" * 500_000}], api_name="/ask"
            )
            told = "answered"
        except Exception as e:  # noqa: BLE001 - the refusal
            told = str(e)
        seconds = time.perf_counter() - t
    results["a 500 KB history message (gradio_client)"] = {
        "told": told[:200],
        "seconds": round(seconds, 2),
        "server_rss_growth_mb": round((rss.peak - rss.base) / 1e6, 1),
    }
    with Sampler(pid) as rss, ThreadPoolExecutor(32) as pool:
        t = time.perf_counter()
        codes = list(pool.map(lambda _: post(url, "search_papers", ["clip", 5], "203.0.113.90")[0], range(300)))
        seconds = time.perf_counter() - t
    results["300 POSTs from one address, 32 at once"] = {
        "status_counts": {str(c): codes.count(c) for c in sorted(set(codes))},
        "seconds": round(seconds, 2),
        "other_visitor_search_s": search_seconds(url, "203.0.113.91"),
        "server_rss_growth_mb": round((rss.peak - rss.base) / 1e6, 1),
    }
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(RESULTS / "hostile.json"))
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="pa-hostile-"))
    proc, url, log = start(work)
    try:
        pid = proc.pid
        baseline = {"server_rss_mb": round(Sampler(pid).rss() / 1e6, 1), "search_s": search_seconds(url)}
        print(f"server up: {baseline}")
        uploads = {}
        for name, make in ATTACKS.items():
            folder = work / "bombs"
            folder.mkdir(exist_ok=True)
            path = make(folder)
            uploads[name] = upload_attack(url, pid, path)
            path.unlink()
            print(f"{name}: {uploads[name]}")
        requests = request_attacks(url, pid)
        for name, r in requests.items():
            print(f"{name}: {r}")
        after = {"server_rss_mb": round(Sampler(pid).rss() / 1e6, 1), "search_s": search_seconds(url)}
        print(f"after: {after}")
        write_result(
            args.out,
            {
                "what": "hostile input against a public deployment (python -m bench.hostile)",
                "load_average": os.getloadavg(),
                "budgets": {
                    "session_mb": 5.0,
                    "max_records (a visitor: session_papers)": 200,
                    "max_line_mb": 16.0,
                    "pdf_memory_mb": 2048.0,
                    "pdf_seconds": 120.0,
                    "max_history_messages": 20,
                    "max_history_chars": 40000,
                    "request body (bytes)": 1 << 20,
                    "client_requests": 8,
                    "session_passages": 400,
                },
                "baseline": baseline,
                "uploads": uploads,
                "requests": requests,
                "after": after,
            },
        )
        print(f"wrote {args.out}")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
