"""`paper-assistant sync`, and commands from another terminal while `serve --watch` holds the
index (run through it), as a user runs them: subprocesses, real PDFs, a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from library_samples import paper_pdf
from servers import free_port, stop_process, wait_until_up

pytestmark = pytest.mark.server  # starts processes: left out of `make check`

ROOT = Path(__file__).parent.parent


@pytest.fixture
def env(model_cache, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_", "GRADIO_"))}
    return env | dict(
        ASSISTANT_INDEX_DIR=str(tmp_path / "index"),
        ASSISTANT_MODEL_CACHE=str(model_cache),
        GRADIO_ANALYTICS_ENABLED="0",
    )


def cli(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True, env=env, timeout=600, cwd=ROOT
    )


def test_sync_from_the_command_line(env, tmp_path):
    folder = tmp_path / "papers"
    folder.mkdir()
    paper_pdf(folder / "kelp.pdf", "Kelp Forest Recovery after Marine Heatwaves", "kelp forest recovery")
    assert json.loads(cli(env, "info").stdout)["papers"] == 0  # a new index starts empty
    preview = cli(env, "sync", str(folder), "--dry-run")
    assert preview.returncode == 0 and "1 would be added" in preview.stdout and "+ pdf:kelp" in preview.stdout
    assert json.loads(cli(env, "info").stdout)["papers"] == 0
    done = cli(env, "sync", str(folder))
    assert done.returncode == 0 and "1 added" in done.stdout, done.stderr
    (folder / "kelp.pdf").unlink()
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 cut short")
    again = cli(env, "sync", "--json")  # no source named: the ones the index remembers
    [report] = json.loads(again.stdout)
    assert again.returncode == 1 and report["removed"] == ["pdf:kelp"] and report["failures"][0][0] == "broken.pdf"
    info = json.loads(cli(env, "info").stdout)
    assert info["papers"] == 0 and info["sources"][0]["path"] == str(folder.resolve())
    nothing = cli(env.copy() | {"ASSISTANT_INDEX_DIR": str(tmp_path / "other")}, "sync")
    assert nothing.returncode == 2 and "no source to sync" in nothing.stderr


def wait_for(check, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_other_terminals_work_while_serve_watches_a_folder(env, tmp_path, small_papers):
    folder = tmp_path / "papers"
    folder.mkdir()
    paper_pdf(folder / "kelp.pdf", "Kelp Forest Recovery after Marine Heatwaves", "kelp forest recovery")
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--watch", str(folder)],
            cwd=ROOT,
            env=env | {"GRADIO_SERVER_NAME": "127.0.0.1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        output = lambda: log.read_text(errors="replace")  # noqa: E731
        wait_until_up(proc, f"http://127.0.0.1:{port}/config", 180, "serve", output, lambda: stop_process(proc))
        listed = lambda: cli(env, "papers").stdout  # noqa: E731 - run through the serving process
        wait_for(lambda: "pdf:kelp" in listed(), what="the watched folder's first sync")
        info = cli(env, "info")
        assert info.returncode == 0 and "run by the process holding the index" in info.stderr
        assert json.loads(info.stdout)["sources"][0]["papers"] == 1
        hits = cli(env, "search", "kelp forest recovery after heatwaves", "--json")
        assert hits.returncode == 0 and json.loads(hits.stdout)[0]["paper"]["id"] == "pdf:kelp"
        # a PDF dropped into the folder is synced by the server, and the other terminal sees it
        paper_pdf(folder / "owls.pdf", "Barn Owl Hunting at Dusk", "barn owl hunting")
        wait_for(lambda: "pdf:owls" in listed(), what="the dropped PDF")
        answer = cli(env, "ask", "How do barn owls hunt at dusk?")
        assert answer.returncode == 0 and "Barn Owl Hunting at Dusk" in answer.stdout
        # a write from this terminal is done by the server, safely
        papers = tmp_path / "mine.jsonl"
        papers.write_text("\n".join(json.dumps(p) for p in small_papers), encoding="utf-8")
        added = cli(env, "ingest", str(papers))
        assert added.returncode == 0 and "3 added" in added.stdout, added.stderr
        bib = tmp_path / "out.bib"
        exported = cli(env, "export", "pdf:owls", "-o", str(bib))
        assert exported.returncode == 0 and "Barn Owl Hunting at Dusk" in bib.read_text()
        assert "p1" in listed() and "pdf:owls" in listed()
    finally:
        stop_process(proc)
    assert "Traceback" not in output()


def test_an_ingest_in_a_terminal_shows_passages_done_and_time_left(env, tmp_path):
    import pty
    import re

    folder = tmp_path / "papers"
    folder.mkdir()
    for topic in ("kelp forest recovery", "barn owl hunting", "glacier melt"):
        paper_pdf(folder / f"{topic.split()[0]}.pdf", f"A Study of {topic.title()}", topic)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "ingest", str(folder)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env | {"COLUMNS": "120"},
        cwd=ROOT,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    assert proc.wait(timeout=600) == 0, shown.decode(errors="replace")
    text = shown.decode(errors="replace")
    # tqdm's bar: passages done of the total, elapsed<left, and the rate
    assert re.search(r"(\d+)/\1 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+ ?passages/s", text), text[-2000:]
    assert "3 added" in text


def test_two_processes_syncing_at_once_lose_and_duplicate_nothing(env, tmp_path, chroma_server):
    folder = tmp_path / "papers"
    folder.mkdir()
    topics = ["kelp forest recovery", "barn owl hunting", "glacier melt", "bumblebee foraging"]
    for i, topic in enumerate(topics):
        paper_pdf(folder / f"p{i}.pdf", f"A Study of {topic.title()}", topic)
    shared = env | {"ASSISTANT_CHROMA_URL": chroma_server.url}  # several processes may open a server's index
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "sync", str(folder), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=shared,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    added = sorted(pid for out, _ in outs for r in json.loads(out) for pid in r["added"])
    assert added == [f"pdf:p{i}" for i in range(4)]  # each added once, by one of them
    info = json.loads(cli(shared, "info").stdout)
    assert info["papers"] == 4 and info["sources"][0]["papers"] == 4
