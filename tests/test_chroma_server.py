"""Server mode against a real `chroma run` on 127.0.0.1: shared collections, lost servers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

import assistant.index.chroma as chroma_mod
from assistant import PaperAssistant, Settings, StoreUnavailable
from assistant.ingest.records import normalize_record
from fixtures.synthetic import synthetic_papers

pytestmark = pytest.mark.server  # starts processes: left out of `make check`

GPT2_CLIP = "Which work aligns a frozen GPT-2 with CLIP to caption videos?"


@pytest.fixture
def make(tmp_path, model_cache, bundled_vectors):
    """An assistant with its own index directory (like a separate process) on a Chroma server;
    the first on an empty server builds the bundled collection into it (collection=bundled)."""

    def make(name: str, url: str, **kw) -> PaperAssistant:
        kw = {"embed_cache": str(bundled_vectors), "collection": "bundled"} | kw
        return PaperAssistant(
            Settings.load(env={}, index_dir=str(tmp_path / name), model_cache=str(model_cache), chroma_url=url, **kw)
        )

    return make


def eventually(check, timeout: float = 15.0):
    """Poll `check` until it returns a true value (other processes' changes arrive within ~2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_two_assistants_share_the_server_collection(chroma_server, make, small_papers):
    a = make("a", chroma_server.url)  # builds the bundled collection into the server
    assert len(a.papers) == 80 and a.info()["chroma"] == chroma_server.url
    assert a.embedder.calls == 0  # its vectors came from the embedding cache the embedded index filled
    ans = a.ask(GPT2_CLIP)
    assert ans.covered and ans.citations[0].paper.title.startswith("Zero-Shot Dense Video Captioning")

    b = make("b", chroma_server.url)  # another process: reads the server's papers, embeds nothing
    assert b.embedder.calls == 0 and {p.id for p in b.papers} == {p.id for p in a.papers}
    assert b.search("pairwise temporal IoU loss for moment masks", k=1)[0].paper.title.startswith("Zero-Shot Dense")

    assert len(b.add_papers(small_papers).added) == 3
    hit = eventually(lambda: a.search("sparse mixture of adapters for accented speech", k=1)[0].paper.id == "p1")
    assert hit, "a paper added by b never reached a"
    assert "p1" in a.store.snapshot.keyword and a.paper("p1").authors == ("Ada Lovelace", "Alan Turing")

    # a replacement and a removal made by b reach a as well (dense, keyword and records)
    b.add_papers([small_papers[0] | {"abstract": "We choreograph flamingos with a quantum annealer. It works well."}])
    b.remove_papers(["p2"])
    assert eventually(lambda: "flamingo" in a.paper("p1").abstract and "p2" not in {p.id for p in a.papers})
    assert a.search("quantum annealer flamingo choreography", k=1)[0].paper.id == "p1"
    assert "p2" not in {h.paper.id for h in a.search("graph transformers molecular property prediction", k=10)}
    assert a.store.snapshot.keyword.df("molecular") == 0
    assert a.store.counts() == b.store.counts()

    # a restart of a starts from its local files and catches up with the server
    a2 = make("a", chroma_server.url)
    assert {p.id for p in a2.papers} == {p.id for p in b.papers} and a2.embedder.calls == 0


def test_concurrent_writers_lose_nothing(chroma_server, make):
    a, b = make("a", chroma_server.url), make("b", chroma_server.url)
    recs = list(synthetic_papers(48, seed=3))
    mine = {
        "a": [normalize_record(r, 20_000) for r in recs[:24]],
        "b": [normalize_record(r, 20_000) for r in recs[24:]],
    }
    errors = []

    def ingest(pa, papers):
        try:
            pa.store.upsert(papers, batch_papers=4)  # many small batches, interleaved with the other writer
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=ingest, args=(pa, mine[n])) for n, pa in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    everyone = {p.id for p in a.papers} | {p.id for p in b.papers}
    assert len(everyone) == 80 + 48
    for pa in (a, b):  # each writer's view holds the other's papers too, without waiting
        assert {p.id for p in pa.papers} == everyone and len(pa.store.snapshot.keyword) == 128
    assert a.store.counts()["papers"] == 128
    last = mine["b"][-1]
    assert a.search(last.title + " " + last.abstract[:200], k=3)[0].paper.title == last.title


def test_server_stopped_mid_session_fails_clearly_and_loses_nothing(chroma_server, make, tmp_path, small_papers):
    a = make("a", chroma_server.url)
    before = a.store.counts()
    chroma_server.stop()
    t = time.monotonic()
    with pytest.raises(StoreUnavailable, match="lost the Chroma server.*restart it"):
        a.search("pairwise temporal IoU loss")
    with pytest.raises(StoreUnavailable, match="lost the Chroma server"):
        a.add_papers(small_papers)
    with pytest.raises(StoreUnavailable, match="cannot reach the Chroma server"):
        make("c", chroma_server.url)
    assert time.monotonic() - t < 60  # errors, not hangs (each step has a 5-30 s timeout)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant.cli",
            "--index-dir",
            str(tmp_path / "cli"),
            "--chroma-url",
            chroma_server.url,
            "search",
            "anything",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert p.returncode == 2 and "cannot reach the Chroma server" in p.stderr and "Traceback" not in p.stderr

    chroma_server.start()  # same data directory and port
    assert a.store.counts() == before
    assert a.search("pairwise temporal IoU loss for moment masks", k=1)[0].paper.title.startswith("Zero-Shot Dense")
    assert len(a.add_papers(small_papers).added) == 3
    assert len(make("d", chroma_server.url).papers) == 83


def test_server_stopped_during_an_ingest_resumes_without_duplicates(chroma_server, make):
    a = make("a", chroma_server.url, collection="", embed_cache="off")
    papers = [normalize_record(r, 20_000) for r in synthetic_papers(40, seed=5)]
    expected_passages = sum(len(a.store.passages(p)) for p in papers)

    def stop_after_first_batch(done, total):
        if 0 < done < total:
            chroma_server.stop()

    with pytest.raises(StoreUnavailable):
        a.store.upsert(papers, batch_papers=16, progress=stop_after_first_batch)
    chroma_server.start()
    committed = set(a.store.snapshot.papers)
    assert len(committed) == 16
    calls = a.embedder.calls
    report = a.add_papers(papers)
    assert set(report.unchanged) == committed and len(report.added) == 24
    assert a.embedder.calls - calls == sum(len(a.store.passages(p)) for p in papers if p.id not in committed)
    assert a.store.counts() == {"papers": 40, "passages": expected_passages}


def test_a_hung_server_times_out_instead_of_hanging(chroma_server, make, monkeypatch):
    monkeypatch.setattr(chroma_mod, "HTTP_TIMEOUT", 2.0)
    monkeypatch.setattr(chroma_mod, "CONNECT_TIMEOUT", 2.0)
    a = make("a", chroma_server.url)
    chroma_server.pause()  # accepts connections, never answers
    try:
        t = time.monotonic()
        with pytest.raises(StoreUnavailable):
            a.search("pairwise temporal IoU loss")
        with pytest.raises(StoreUnavailable, match="cannot reach"):
            make("b", chroma_server.url)
        assert time.monotonic() - t < 60  # the 2 s timeouts, not a hang
    finally:
        chroma_server.resume()
    assert a.search("pairwise temporal IoU loss for moment masks", k=1)[0].paper.title.startswith("Zero-Shot Dense")
