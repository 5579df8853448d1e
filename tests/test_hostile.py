"""Hostile input against a public deployment (issue #29): every attack of the issue, with the
bombs made at test time (fixtures/bombs.py), against the real app (`python app.py`,
ASSISTANT_PUBLIC=1) through gradio_client, plain HTTP, MCP and a real Chromium.

Each attack must be refused or served within its budget, the server's memory must grow by
less than MEMORY_BOUND_MB while it runs (sampled from /proc), another visitor must still be
served meanwhile, and the server must still answer afterwards.  The owner's LLM is a port on
127.0.0.1 where nothing listens, so every LLM answer fails: what a visitor is told of that
failure is the error test.

The first tests are the same limits met without a server (the readers, the PDF worker, the
Zotero reader, the request checks, the client gate), as the owner's CLI meets them too.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from attacks import ask, jsonl, launch_browser, mcp_call, open_page, upload
from gradio_client import Client, handle_file
from servers import free_port
from ui_server import start_app

from assistant import CollectionError, QuestionError
from assistant.formats import zotero
from assistant.formats.pdf import PdfError
from assistant.formats.pdf_worker import Budget, read_within
from assistant.formats.sources import ReadLimits
from assistant.ingest.records import iter_papers
from assistant.retrieval.query import TAIL_CHARS, condense
from fixtures import bombs
from fixtures.zotero import build_zotero_db
from ui import render
from ui.traffic import CLIENT_HEADER, ClientGate, stamp, stamped_address

MEMORY_BOUND_MB = 300  # growth of the server's resident memory while one attack runs
SESSION = ReadLimits(max_records=200, max_bytes=5e6, bytes_setting="session_mb")  # a visitor's room
GPT2 = "Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?"
LIMIT_NOTE = "the limit of LLM answers was reached"


# -- the limits, without a server -----------------------------------------------------------------


@pytest.fixture(scope="module")
def bomb_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bombs")


@pytest.mark.parametrize(
    "make", [bombs.gzip_bomb, bombs.bz2_bomb, bombs.xz_bomb, bombs.zip_bomb], ids=["gzip", "bz2", "xz", "zip"]
)
def test_a_compressed_file_is_refused_the_moment_it_passes_its_decompressed_limit(make, bomb_dir):
    path = make(bomb_dir)
    with pytest.raises(CollectionError, match=r"over 5 MB once decompressed, the limit \(setting session_mb\)"):
        list(iter_papers(path, limits=SESSION))


def test_a_line_over_the_limit_is_one_rejected_record_never_held_whole(tmp_path):
    f = tmp_path / "papers.jsonl"
    f.write_bytes(b'{"title": "Fine", "abstract": "A fine record."}\n' + b'{"title": "' + b"x" * 3_000_000 + b'"}\n')
    items = list(iter_papers(f, limits=ReadLimits(max_line=1_000_000)))
    assert [type(i).__name__ for i in items] == ["Paper", "Rejection"]
    assert "a line longer than 1 MB (setting max_line_mb)" in items[1].reason and items[1].record == "line 2"


def test_a_bibliography_of_too_many_entries_is_refused_before_it_is_parsed(bomb_dir, monkeypatch):
    from assistant.formats import bibtex

    path = bombs.many_entries_bib(bomb_dir, n=20_000, name="few.bib.gz")

    def parse(*a, **k):
        raise AssertionError("the parser ran")

    monkeypatch.setattr(bibtex, "read_bibtex", parse)
    with pytest.raises(CollectionError, match="20000 records is over the limit of 200"):
        iter_papers(path, max_records=200)


def test_a_pdf_bomb_is_stopped_at_its_memory_budget_in_a_worker(bomb_dir):
    path = bombs.pdf_bomb(bomb_dir)
    with pytest.raises(PdfError, match=r"budget of 256 MB of memory \(setting pdf_memory_mb\)"):
        read_within(path, 300, Budget(memory_mb=256, seconds=60))
    pages, doc = read_within(Path(__file__).parent / "data" / "pdfs" / "latex" / "layout.pdf", 300)
    assert pages == 1 and "white space" in doc.text  # the worker reads a real PDF as before


def test_a_pdf_over_its_cpu_budget_is_stopped(bomb_dir):
    path = bombs.pdf_bomb(bomb_dir, mb=100, name="slow.pdf")
    with pytest.raises(PdfError, match=r"budget of 1 CPU seconds \(setting pdf_seconds\)"):
        read_within(path, 300, Budget(memory_mb=3000, seconds=1))


@pytest.mark.server
def test_the_owners_cli_gets_the_same_pdf_budget_with_a_clear_message(bomb_dir, built_index, model_cache, tmp_path):
    import os
    import shutil

    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env.update(ASSISTANT_INDEX_DIR=str(index), ASSISTANT_MODEL_CACHE=str(model_cache), ASSISTANT_PDF_MEMORY_MB="256")
    p = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ingest", str(bombs.pdf_bomb(bomb_dir, name="cli.pdf"))],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    out = p.stdout + p.stderr
    assert p.returncode != 0 and "budget of 256 MB of memory (setting pdf_memory_mb)" in out, out
    assert "Traceback" not in out


def test_a_zotero_database_with_a_view_for_a_table_is_refused(bomb_dir):
    path = bombs.recursive_view_db(bomb_dir, name="zotero.sqlite")
    with pytest.raises(CollectionError, match=r"itemTypes should be tables, not views"):
        list(zotero.read_zotero(path, path.name))


def test_every_zotero_query_is_under_a_time_limit(tmp_path, monkeypatch):
    db = build_zotero_db(tmp_path)
    assert list(zotero.read_zotero(db, db.name))  # the real database reads
    monkeypatch.setattr(zotero, "QUERY_SECONDS", 0.0)
    monkeypatch.setattr(zotero, "PROGRESS_STEPS", 1)  # the test database is small: look at every step
    with pytest.raises(CollectionError, match="reading the database took over 0 s"):
        list(zotero.read_zotero(db, db.name))
    # read-only: the copy is opened with mode=ro, so even the reader cannot write to it
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        con.execute("DELETE FROM items")
    con.close()


def test_a_visitors_file_is_never_read_as_a_database_whatever_its_name(bomb_dir):
    path = bombs.recursive_view_db(bomb_dir, name="renamed.bib")
    with pytest.raises(CollectionError, match="databases are not read here"):
        iter_papers(path, limits=ReadLimits(databases=False))


def test_history_is_bounded_and_a_follow_up_takes_only_the_tail_of_the_last_message(pa):
    huge = "word " * 2_000_000
    assert len(condense("what loss does it add?", [{"role": "user", "content": huge}])) < TAIL_CHARS + 100
    with pytest.raises(QuestionError, match=r"the history has 10000000 characters; the limit is 40000"):
        pa.ask("what loss does it add?", history=[{"role": "user", "content": huge}])
    with pytest.raises(QuestionError, match=r"the history has 21 messages; the limit is 20"):
        pa.ask("what loss does it add?", history=[{"role": "user", "content": "hi"}] * 21)
    with pytest.raises(QuestionError, match="history must be a list"):
        pa.search("clip", history=[{"role": "system", "content": "x"}])


def test_paper_text_in_markdown_makes_no_links_or_images():
    title = "[Sign in](https://attacker.example/login) ![px](https://attacker.example/pixel.png) www.attacker.example a@b.org"
    md = render.md_text(title)
    assert "](" not in md.replace("\\](", "") and "https://" not in md and "www." not in md and "a@b" not in md
    answer = render.answer_markdown("See https://attacker.example/x and www.attacker.example [1]", 1, [1])
    assert "https://" not in answer and "www." not in answer and "(#src-1-1)" in answer


def test_why_the_llm_failed_is_told_publicly_as_an_error_id_only(pa, caplog):
    from dataclasses import replace

    from ui.shared import Shared

    ans = pa.ask(GPT2)
    failed = replace(
        ans,
        fallback="the openai backend failed: cannot reach the LLM server at "
        "http://llm-gpu-7.corp.internal:8000/v1 ([Errno -2] Name or service not known)",
    )
    public, private = Shared(pa.using(public=True)), Shared(pa)
    shown = public.shown(failed).fallback
    m = re.fullmatch(r"the LLM could not answer \(error id ([0-9a-f]{8})\); this answer is extractive", shown)
    assert m, shown
    assert [r for r in caplog.records if m.group(1) in r.getMessage() and "corp.internal" in r.getMessage()]
    assert private.shown(failed).fallback == failed.fallback  # the owner's own app: the detail
    for told in ("the openai answer repeated itself", f"{LIMIT_NOTE} (1 per minute per visitor)"):
        assert public.shown(replace(ans, fallback=told)).fallback == told


# -- the client gate (ASGI), without a server ---------------------------------------------------------


def _call_gate(gate: ClientGate, path: str, headers: dict[str, str], peer: str = "127.0.0.1", method="POST"):
    seen, sent = {}, []

    async def main():
        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "client": (peer, 1234),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
        await gate(scope, receive, send)

    async def app(scope, receive, send):
        seen["headers"] = dict(scope["headers"])
        await send({"type": "http.response.start", "status": 200, "headers": []})

    gate.app = app
    asyncio.run(main())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    stamped = seen.get("headers", {}).get(CLIENT_HEADER.encode(), b"").decode()
    return status, stamped_address(stamped)


def test_the_gate_keys_on_the_address_and_trusts_only_its_own_stamps():
    queued = {"203.0.113.7": 0}
    gate = ClientGate(None, trusted_proxies=0, max_work=2, queued=lambda a: queued.get(a, 0))
    # no proxy trusted: X-Forwarded-For is the caller's own text and is ignored
    assert _call_gate(gate, "/gradio_api/call/ask", {"X-Forwarded-For": "198.51.100.1"})[1] == "127.0.0.1"
    # a stamp the caller wrote itself is replaced; one this process signed (a relayed MCP call) is kept
    assert _call_gate(gate, "/", {CLIENT_HEADER: "198.51.100.1 " + "0" * 32}, method="GET")[1] == "127.0.0.1"
    assert _call_gate(gate, "/gradio_api/queue/join", {CLIENT_HEADER: stamp("198.51.100.1")})[1] == "198.51.100.1"
    behind = ClientGate(None, trusted_proxies=1, max_work=2, queued=lambda a: queued.get(a, 0))
    assert _call_gate(behind, "/", {"X-Forwarded-For": "192.0.2.1, 203.0.113.7"}, method="GET")[1] == "203.0.113.7"
    queued["203.0.113.7"] = 2  # two of its events in the queue already: a third is refused, another client is not
    assert _call_gate(behind, "/gradio_api/call/ask", {"X-Forwarded-For": "203.0.113.7"})[0] == 429
    assert _call_gate(behind, "/gradio_api/call/ask", {"X-Forwarded-For": "203.0.113.8"})[0] == 200
    big = {"X-Forwarded-For": "203.0.113.9", "Content-Length": str(5 << 20)}
    assert _call_gate(behind, "/gradio_api/call/ask", big)[0] == 413
    assert _call_gate(behind, "/gradio_api/upload", big)[0] == 200  # uploads: Gradio's max_file_size bounds them


# -- the real public app ------------------------------------------------------------------------------


class PeakRss:
    """The growth of a process's resident memory over a block, sampled from /proc every 20 ms."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.base = pid, 0, 0
        self._stop = threading.Event()

    def rss(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) * 1024

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.rss())
            except OSError:
                return
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRss:
        self.base = self.peak = self.rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 1e6


@pytest.fixture(scope="module")
def public_app(built_index, model_cache, tmp_path_factory):
    work = tmp_path_factory.mktemp("hostile-app")
    dead_llm = free_port()  # nothing listens here: every LLM answer fails
    s = start_app(
        built_index,
        model_cache,
        work,
        ASSISTANT_PUBLIC="1",
        ASSISTANT_TRUSTED_PROXIES="1",  # as behind a Space's proxy: tests name their address in X-Forwarded-For
        ASSISTANT_LLM_ANSWERS_PER_SESSION="1",
        ASSISTANT_CLIENT_REQUESTS="4",
        ASSISTANT_PDF_MEMORY_MB="512",
        ASSISTANT_PDF_SECONDS="30",
        ASSISTANT_SESSION_PASSAGES="60",
        OPENAI_API_KEY="sk-owner-HOSTILE-0123456789abcdef",
        OPENAI_BASE_URL=f"http://127.0.0.1:{dead_llm}/v1",
        ASSISTANT_MODEL="stub-model",
        GRADIO_TEMP_DIR=str(work / "uploads"),
    )
    s.uploads, s.dead_llm = work / "uploads", dead_llm
    still_serves(s)  # warm: the first requests load what the app loads lazily (fonts, the answer code)
    warm = jsonl(work / "warm.jsonl", {"title": "Kelp sensor drift", "abstract": "Kelp sensors drift over months."})
    assert "1 added" in visitor(s, "198.51.100.250").predict([handle_file(str(warm))], api_name="/add_papers")[0]
    yield s
    s.stop()


def visitor(app, address: str) -> Client:
    return Client(app.url, verbose=False, headers={"X-Forwarded-For": address})


def still_serves(app, address: str = "198.51.100.200") -> None:
    hits = visitor(app, address).predict(GPT2, k=3, api_name="/search_papers")["papers"]
    assert hits and hits[0]["title"].startswith("Zero-Shot Dense Video Captioning"), hits


ATTACKS = {
    "gzip bomb (2 GB of JSON lines)": (bombs.gzip_bomb, "once decompressed, the limit (setting session_mb)"),
    "bzip2 bomb": (bombs.bz2_bomb, "once decompressed, the limit (setting session_mb)"),
    "xz bomb": (bombs.xz_bomb, "once decompressed, the limit (setting session_mb)"),
    "zip bomb": (bombs.zip_bomb, "once decompressed, the limit (setting session_mb)"),
    "890,000 BibTeX entries, gzipped": (bombs.many_entries_bib, "once decompressed, the limit (setting session_mb)"),
    "PDF content-stream bomb": (bombs.pdf_bomb, "budget of 512 MB of memory (setting pdf_memory_mb)"),
    "a Zotero database named library.bib": (bombs.recursive_view_db, "databases are not read here"),
    "30 papers of 2,800-word abstracts": (
        bombs.papers_file,
        "at most 60 passages embedded (setting session_passages)",
    ),
}


@pytest.mark.server
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_an_uploaded_bomb_is_refused_within_budget_while_others_are_served(attack, public_app, bomb_dir):
    make, refusal = ATTACKS[attack]
    path = make(bomb_dir)
    out: dict = {}

    def attack_it():
        out["report"] = visitor(public_app, "203.0.113.66").predict([handle_file(str(path))], api_name="/add_papers")[0]

    with PeakRss(public_app.proc.pid) as rss:
        t = threading.Thread(target=attack_it)
        t.start()
        still_serves(public_app)  # another visitor, while the attack runs
        t.join(300)
    assert not t.is_alive(), "the attack's request did not finish"
    assert refusal in out["report"] and "Nothing was added" in out["report"], out["report"]
    assert rss.growth_mb < MEMORY_BOUND_MB, (attack, rss.growth_mb)
    assert not [p for p in public_app.uploads.rglob(path.name)], "the upload outlived its request"
    still_serves(public_app)


@pytest.mark.server
def test_embedding_is_budgeted_per_address_whatever_the_session(public_app, tmp_path):
    papers = bombs.papers_file(tmp_path, n=4, words=1000, name="forty.jsonl")  # 4 x 10 passages

    def add(address: str) -> str:  # a new gradio_client: a new session each time
        return visitor(public_app, address).predict([handle_file(str(papers))], api_name="/add_papers")[0]

    assert "4 added" in add("203.0.113.120")
    again = add("203.0.113.120")
    assert "your address may have at most 60 passages embedded an hour (setting session_passages)" in again, again
    assert "4 added" in add("203.0.113.121")  # another address has its own budget
    still_serves(public_app)


@pytest.mark.server
def test_history_ids_and_filters_are_bounded_over_http_and_mcp(public_app):
    def post(api: str, data: list) -> int:
        req = urllib.request.Request(
            f"{public_app.url}/gradio_api/call/{api}",
            data=json.dumps({"data": data}).encode(),
            headers={"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.70"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    with PeakRss(public_app.proc.pid) as rss:
        assert post("ask_papers", [GPT2, [{"role": "user", "content": "x" * 10_000_000}]]) == 413  # never parsed
    assert rss.growth_mb < MEMORY_BOUND_MB
    client = visitor(public_app, "203.0.113.71")
    with pytest.raises(Exception, match="the history has 500000 characters; the limit is 40000"):
        client.predict(GPT2, [{"role": "user", "content": "y" * 500_000}], api_name="/ask")
    headers = {"X-Forwarded-For": "203.0.113.72"}
    cases = [
        ("ask_papers", {"question": GPT2, "history": [{"role": "user", "content": "hi"}] * 30}, "limit is 20"),
        ("get_paper", {"paper_id": "p" * 10_000}, "no paper id is over 500"),
        ("search_papers", {"query": "clip", "author": "a" * 10_000}, "author is 10000 characters long"),
        ("search_papers", {"query": "clip", "year_from": 10**12}, "a year such as 2021"),
        ("search_papers", {"query": "clip", "k": 10**9}, "k must be a whole number from 1 to 50"),
        ("search_papers", {"query": "q" * 5000}, "the limit is 2000"),
    ]
    for tool, args, message in cases:
        r = mcp_call(public_app.url, tool, args, headers=headers)
        assert r.isError and message in r.content[0].text, (tool, r.content[0].text[:300])
    still_serves(public_app)


@pytest.mark.server
def test_llm_answers_are_limited_per_address_whatever_the_session_or_header(public_app):
    """Each gradio_client is a new session; each MCP call a new one too: the address counts."""
    first = visitor(public_app, "198.51.100.31").predict(COUNT_Q, api_name="/ask")
    assert LIMIT_NOTE not in first  # its one LLM answer (which fails: see the error test)
    assert LIMIT_NOTE in visitor(public_app, "198.51.100.31").predict(COUNT_Q, api_name="/ask")
    for forwarded in ("198.51.100.31", "192.0.2.99, 198.51.100.31"):  # a made-up entry left of the proxy's
        r = mcp_call(public_app.url, "ask_papers", {"question": COUNT_Q}, headers={"X-Forwarded-For": forwarded})
        assert not r.isError and LIMIT_NOTE in r.structuredContent["note"], r.structuredContent
    assert LIMIT_NOTE not in visitor(public_app, "198.51.100.32").predict(COUNT_Q, api_name="/ask")


COUNT_Q = "How can CLIP be taught to count objects?"


@pytest.mark.server
def test_a_flood_of_posts_gets_429_for_that_client_not_503_for_everyone(public_app):
    def post(address: str) -> int:
        req = urllib.request.Request(
            f"{public_app.url}/gradio_api/call/search_papers",
            data=json.dumps({"data": ["clip counting objects", 5]}).encode(),
            headers={"Content-Type": "application/json", "X-Forwarded-For": address},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    with ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(post, ["203.0.113.90"] * 300))
    assert 429 in codes and set(codes) <= {200, 429}, sorted(set(codes))  # never 503: the queue never fills
    assert post("203.0.113.91") == 200  # another client is served at once
    still_serves(public_app)


@pytest.mark.server
def test_llm_errors_are_short_with_an_id_the_log_explains(public_app):
    text = visitor(public_app, "198.51.100.41").predict(GPT2, api_name="/ask")
    m = re.search(r"the LLM could not answer \(error id ([0-9a-f]{8})\)", text)
    assert m, text
    for detail in (str(public_app.dead_llm), "127.0.0.1", "Errno", "Connection refused", "cannot reach"):
        assert detail not in text, detail
    mcp = mcp_call(public_app.url, "ask_papers", {"question": GPT2}, headers={"X-Forwarded-For": "198.51.100.42"})
    assert re.search(r"error id [0-9a-f]{8}", mcp.structuredContent["note"]) and "127.0.0.1" not in json.dumps(
        mcp.structuredContent
    )
    logged = [line for line in public_app.output().splitlines() if f"error {m.group(1)}:" in line]
    assert logged and str(public_app.dead_llm) in logged[0], logged  # the detail, for the owner only


@pytest.mark.server
def test_paper_text_renders_as_text_and_nothing_of_a_visitor_stays_on_disk(public_app, tmp_path):
    from playwright.sync_api import sync_playwright

    vectors = public_app.index_dir / "_cache" / "vectors.sqlite"

    def rows() -> int:
        con = sqlite3.connect(f"file:{vectors}?mode=ro", uri=True)
        try:
            return con.execute("SELECT count(*) FROM vectors").fetchone()[0]
        finally:
            con.close()

    before = rows()
    title = (
        "Quokka Lattice Codes [Sign in](https://attacker.example/login) "
        "![px](https://attacker.example/pixel.png) https://attacker.example/bare"
    )
    paper = {
        "id": "quokka-evil",
        "title": title,
        "abstract": "We compress sparse satellite telemetry with quokka lattice codes. Quokka lattice codes halve "
        "downlink bandwidth.",
    }
    with sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = open_page(browser, public_app.url)
            report = upload(page, jsonl(tmp_path / "evil.jsonl", paper), "Add to my papers")
            assert "1 added" in report, report
            answer = ask(page, "How do quokka lattice codes compress satellite telemetry?")
            assert "References" in answer and "[Sign in](https://attacker.example/login)" in answer, answer
            for where in ("#pa-chat", "#pa-sources", "body"):
                assert page.locator(f'{where} a[href*="attacker"]').count() == 0, where
                assert page.locator(f'{where} img[src*="attacker"]').count() == 0, where
        finally:
            browser.close()
    assert not list(public_app.uploads.rglob("evil.jsonl")), "the upload outlived its request"
    assert rows() == before, "a visitor's sentence vectors were written to the shared index's cache"
    still_serves(public_app)
