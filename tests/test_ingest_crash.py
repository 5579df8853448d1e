"""Batch ingest: killed with SIGKILL partway, then resumed; the CLI's progress bar and remove.

The killed ingest runs in a subprocess.  Afterwards a new assistant on the same index must
find only complete papers (no half-written one, no stray passages), and a rerun of the
same file must embed only the papers that were not committed, leave no duplicates, and
answer searches over the whole collection.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import assistant.index.sync as store_mod
from assistant import PaperAssistant, Settings, load_papers
from fixtures.synthetic import write_jsonl

pytestmark = pytest.mark.server  # starts processes: left out of `make check`

N, BATCH = 40, 16  # two full batches and a partial one
ROOT = Path(__file__).parent.parent


@pytest.fixture
def papers_file(tmp_path) -> Path:
    return write_jsonl(tmp_path / "synthetic.jsonl", N, seed=11)


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    e["PYTHONPATH"] = str(ROOT)
    return e


def local_papers(index_dir: Path) -> int:
    dbs = list(index_dir.glob("papers-*/local.sqlite"))
    if not dbs:
        return 0
    try:
        with sqlite3.connect(dbs[0], timeout=1) as db:
            return db.execute("SELECT count(*) FROM papers").fetchone()[0]
    except sqlite3.Error:
        return 0


def check_resumed(settings: Settings, papers_file: Path, *, cache: bool) -> PaperAssistant:
    papers = load_papers(papers_file).papers
    pa = PaperAssistant(settings)
    committed = set(pa.store.snapshot.papers)
    assert BATCH <= len(committed) < N and len(committed) % BATCH == 0  # whole batches only

    # nothing half-written survives the restart: every passage belongs to a complete paper
    owners = {m["paper_id"] for m in pa.store.chroma.passages.get(include=["metadatas"])["metadatas"]}
    assert owners == committed
    assert pa.store.chroma.writes.count() == 0  # the dead writer's batch note is gone

    calls = pa.embedder.calls
    report = pa.add_papers(papers_file)
    assert set(report.unchanged) == committed and set(report.added) == {p.id for p in papers} - committed
    todo = [p for p in papers if p.id not in committed]
    fresh = sum(len(pa.store.passages(p)) for p in todo)
    if cache:  # the batch cut off mid-write had embedded its vectors already: only later papers are embedded
        assert 0 < pa.embedder.calls - calls < fresh
    else:
        assert pa.embedder.calls - calls == fresh  # finished papers are not embedded again

    expected = {(p.id, ps.index) for p in papers for ps in pa.store.passages(p)}
    got = pa.store.chroma.passages.get(include=["metadatas"])["metadatas"]
    assert len(got) == len(expected) and {(m["paper_id"], m["index"]) for m in got} == expected  # no duplicates
    assert pa.store.counts() == {"papers": N, "passages": len(expected)}
    assert len(pa.store.snapshot.keyword) == N

    last = todo[-1]  # a paper only the resumed run added: found by its own words
    top = pa.search(f"{last.title}. {last.abstract[:300]}", k=3)
    assert top[0].paper.id == last.id or top[0].paper.abstract == last.abstract

    again = PaperAssistant(settings)  # and it all survives another restart
    assert len(again.papers) == N and again.embedder.calls == 0
    return pa


def test_sigkill_during_a_cli_ingest_then_rerun_completes_it(tmp_path, papers_file, model_cache):
    index = tmp_path / "index"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant.cli",
            "--index-dir",
            str(index),
            "--collection",
            "",
            "--set",
            f"model_cache={model_cache}",
            "--set",
            "embed_cache=off",
            "--set",
            f"ingest_batch={BATCH}",
            "ingest",
            str(papers_file),
        ],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while local_papers(index) < BATCH:  # the first batch is committed
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the first batch never committed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    settings = Settings.load(
        env={}, index_dir=str(index), collection="", model_cache=str(model_cache), embed_cache="off", ingest_batch=BATCH
    )
    check_resumed(settings, papers_file, cache=False)


KILL_MID_BATCH = textwrap.dedent("""
    import os, signal, sys
    from llama_index.vector_stores.chroma import ChromaVectorStore
    from assistant import PaperAssistant, Settings

    added = ChromaVectorStore.add
    def add(self, nodes, **kw):
        out = added(self, nodes, **kw)
        if self is pa.store.chroma.passage_store and pa.store.snapshot.papers:
            os.kill(os.getpid(), signal.SIGKILL)  # the second batch's passages are in, its papers' records not
        return out
    ChromaVectorStore.add = add
    pa = PaperAssistant(Settings.load(**dict(a.split("=", 1) for a in sys.argv[2:])))
    pa.add_papers(sys.argv[1])
""")


@pytest.mark.parametrize("mode", ["embedded", "server"])
def test_sigkill_between_passages_and_records_leaves_no_half_paper(
    tmp_path, papers_file, model_cache, mode, request, monkeypatch
):
    url = request.getfixturevalue("chroma_server").url if mode == "server" else ""
    cache = "off" if mode == "embedded" else str(tmp_path / "vectors.sqlite")
    args = {
        "index_dir": str(tmp_path / "index"),
        "collection": "",
        "model_cache": str(model_cache),
        "embed_cache": cache,
        "chroma_url": url,
        "ingest_batch": str(BATCH),
    }
    p = subprocess.run(
        [sys.executable, "-c", KILL_MID_BATCH, str(papers_file), *(f"{k}={v}" for k, v in args.items())],
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == -signal.SIGKILL, p.stderr
    # On a server another live process may own a batch note, so only old ones are treated as dead.
    if mode == "server":
        monkeypatch.setattr(store_mod, "STALE_WRITE", 0.0)
    check_resumed(Settings.load(env={}, **args), papers_file, cache=mode == "server")


def test_cli_ingest_shows_a_progress_bar_on_a_terminal_and_remove_works(
    tmp_path, papers_file, model_cache, small_papers
):
    e = env() | {"ASSISTANT_INDEX_DIR": str(tmp_path / "index"), "ASSISTANT_MODEL_CACHE": str(model_cache)}
    f = tmp_path / "small.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in small_papers))
    master, slave = pty.openpty()
    p = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "--collection", "", "ingest", str(f)],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=e,
        timeout=300,
    )
    os.close(slave)
    bar = b""
    while True:  # everything the terminal received (a pty read returns a piece at a time)
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the writer has gone
            break
        if not chunk:
            break
        bar += chunk
    bar = bar.decode()
    os.close(master)
    assert p.returncode == 0 and "3 added" in p.stdout.decode()
    # tqdm's bar: passages embedded, their rate and the time left; papers written beside it
    assert "\r" in bar and "0/3" in bar and "100%" in bar and "3/3" in bar and "passages/s" in bar
    assert re.search(r"3/3 \[\d\d:\d\d<\d\d:\d\d", bar) and "3/3 written" in bar

    piped = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "--collection", "", "ingest", str(f)],
        capture_output=True,
        text=True,
        env=e,
        timeout=300,
    )
    assert piped.returncode == 0 and "papers" not in piped.stderr  # not a terminal: no bar in logs

    out = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "--collection", "", "remove", "p1", "nope"],
        capture_output=True,
        text=True,
        env=e,
        timeout=300,
    )
    assert out.returncode == 0 and "removed 1 paper(s): p1" in out.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "--collection", "", "papers", "--json"],
        capture_output=True,
        text=True,
        env=e,
        timeout=300,
    )
    ids = {p["id"] for p in json.loads(listed.stdout)}
    assert len(ids) == 2 and "p2" in ids and "p1" not in ids
