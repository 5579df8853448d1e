"""Soak: 20 concurrent users for 2 minutes (bounded) against one web app, with a mix of
questions, searches and one upload in the middle.  No request may fail, the upload must
be answerable afterwards (and survive a restart), and the server's memory must settle
rather than grow with the number of requests."""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import DEV
from gradio_client import Client, handle_file
from ui_server import start_app

pytestmark = pytest.mark.server  # starts processes: left out of `make check`

USERS = 20
SECONDS = 120
UPLOAD = {
    "id": "soak-1",
    "title": "Photonic Tokenizers for Holographic Vision-Language Pretraining",
    "abstract": "We encode holographic interference patterns into photonic tokens for a vision-language model. "
    "The photonic tokenizer halves pretraining energy on HoloCOCO while keeping retrieval accuracy.",
}
UPLOAD_Q = "Which tokenizer encodes holographic interference patterns into photonic tokens?"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.slow
def test_twenty_users_for_two_minutes(built_index, model_cache, tmp_path):
    server = start_app(built_index, model_cache, tmp_path / "app")
    questions = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    stop = time.monotonic() + SECONDS
    errors: list[str] = []
    counts = {"ask": 0, "search": 0}
    rss: list[tuple[float, float]] = []
    uploaded = threading.Event()
    lock = threading.Lock()

    def user(i: int) -> None:
        client = Client(server.url, verbose=False)
        rnd = random.Random(i)
        while time.monotonic() < stop:
            q = rnd.choice(questions)
            try:
                if rnd.random() < 0.3:
                    hits = client.predict(q["question"], 5, api_name="/search")
                    assert hits and hits[0]["title"], hits
                    kind = "search"
                else:
                    md = client.predict(q["question"], q["history"] or None, api_name="/ask")
                    assert md.strip(), "empty answer"
                    kind = "ask"
                with lock:
                    counts[kind] += 1
            except Exception as e:  # noqa: BLE001 - every failure is reported
                errors.append(f"user {i}: {type(e).__name__}: {e}")

    def uploader() -> None:
        time.sleep(SECONDS / 3)
        f = tmp_path / "upload.jsonl"
        f.write_text(json.dumps(UPLOAD) + "\n")
        try:
            report, *_ = Client(server.url, verbose=False).predict([handle_file(str(f))], api_name="/add_papers")
            assert "1 added" in report, report
            uploaded.set()
        except Exception as e:  # noqa: BLE001
            errors.append(f"upload: {type(e).__name__}: {e}")

    def sample() -> None:
        t0 = time.monotonic()
        while time.monotonic() < stop:
            rss.append((time.monotonic() - t0, rss_mb(server.proc.pid)))
            time.sleep(5)

    try:
        with ThreadPoolExecutor(USERS + 2) as pool:
            futures = [pool.submit(user, i) for i in range(USERS)] + [pool.submit(uploader), pool.submit(sample)]
            for f in futures:
                f.result(timeout=SECONDS + 300)
        after = Client(server.url, verbose=False).predict(UPLOAD_Q, api_name="/ask")
    finally:
        server.stop()

    total = counts["ask"] + counts["search"]
    print(
        f"\n{USERS} users x {SECONDS} s: {counts['ask']} asks, {counts['search']} searches "
        f"({total / SECONDS:.1f}/s), RSS {rss[0][1]:.0f} -> {max(r for _, r in rss):.0f} -> {rss[-1][1]:.0f} MB"
    )
    assert errors == []
    assert uploaded.is_set() and UPLOAD["title"] in after  # the upload was not lost: answerable at once
    assert total >= USERS * 5
    # memory settles: the last third of the run is not above the middle third by more than a margin
    third = len(rss) // 3
    middle, last = max(r for _, r in rss[third : 2 * third]), max(r for _, r in rss[2 * third :])
    assert last <= middle * 1.15 + 50, rss

    restarted = start_app(server.index_dir, model_cache, tmp_path / "again")  # the upload is on disk too
    try:
        hits = Client(restarted.url, verbose=False).predict(UPLOAD_Q, 1, api_name="/search")
        assert hits[0]["id"] == UPLOAD["id"]
    finally:
        restarted.stop()
