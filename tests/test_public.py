"""Attacks on a public deployment (ASSISTANT_PUBLIC=1, as on a Hugging Face Space): the real app
(`python app.py` on 127.0.0.1, its index on a `chroma run` server reached through a URL with a
password), real Chromium, gradio_client and MCP clients.

The owner's LLM is an EchoOpenAI stub on 127.0.0.1 (valid cited answers); visitors may name
any public host (ASSISTANT_VISITOR_HOSTS=*) and get one LLM answer per session a minute
(ASSISTANT_LLM_ANSWERS_PER_SESSION=1).  What must hold: no visitor URL reaches the server's
network, a visitor's papers stay in that visitor's session, the LLM rate limit trips with a note
while answers still come, and errors visitors see are generic with an id the log explains."""

from __future__ import annotations

import re
import socket
import time

import pytest
from attacks import (
    REFUSALS,
    apply_settings,
    ask,
    jsonl,
    launch_browser,
    mcp_call,
    open_page,
    papers_table,
    server_path_attacks,
    sources,
)
from chroma_server import ChromaServer
from gradio_client import Client, handle_file
from servers import EchoOpenAI
from ui_server import start_app

from assistant.answering.prompts import EXTRACTIVE_INTRO, NOT_COVERED
from ui.sessions import Rules, SessionSettings, Views

pytestmark = pytest.mark.server  # starts the app, a browser, servers: left out of `make check`

sync_api = pytest.importorskip("playwright.sync_api")

OWNER_KEY = "sk-owner-PUBLIC-0123456789abcdef"
CHROMA_PASSWORD = "chroma-Pa55word-Q7"
GPT2 = "Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?"
ZEROTA = "Zero-Shot Dense Video Captioning by Jointly Optimizing Text and Moment"
COUNT_Q = "How can CLIP be taught to count objects?"
COUNT = "Teaching CLIP to Count to Ten"
LIMIT_NOTE = "the limit of LLM answers was reached"
GENERIC = re.compile(r"Something went wrong on the server \(error id ([0-9a-f]{8})\)")

# A visitor's paper: its phrase is in no other paper.
MINE_TITLE = "Quokka Lattice Codes for Sparse Satellite Telemetry"
MINE_QUESTION = "How do quokka lattice codes compress sparse satellite telemetry?"
MINE = {
    "id": "quokka-1",
    "title": MINE_TITLE,
    "abstract": "We compress sparse satellite telemetry with quokka lattice codes. The quokka lattice codes "
    "halve downlink bandwidth on three Earth-observation missions.",
}


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    s = ChromaServer(tmp_path_factory.mktemp("public-chroma") / "data").start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def owner_llm():
    s = EchoOpenAI()
    yield s
    s.close()


@pytest.fixture(scope="module")
def app(built_index, model_cache, tmp_path_factory, chroma, owner_llm):
    work = tmp_path_factory.mktemp("public-app")
    s = start_app(
        built_index,
        model_cache,
        work,
        ASSISTANT_PUBLIC="1",
        ASSISTANT_VISITOR_HOSTS="*",
        ASSISTANT_LLM_ANSWERS_PER_SESSION="1",
        ASSISTANT_TRUSTED_PROXIES="1",  # as behind a Space's proxy, which appends the caller's address
        OPENAI_API_KEY=OWNER_KEY,
        OPENAI_BASE_URL=owner_llm.url,
        ASSISTANT_MODEL="stub-model",
        GRADIO_TEMP_DIR=str(work / "uploads"),
        ASSISTANT_CHROMA_URL=f"http://owner:{CHROMA_PASSWORD}@127.0.0.1:{chroma.port}",
    )
    s.uploads = work / "uploads"
    yield s
    s.stop()
    assert CHROMA_PASSWORD not in s.output() and OWNER_KEY not in s.output()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = launch_browser(p)
        yield b
        b.close()


@pytest.fixture
def listener():
    s = EchoOpenAI()
    yield s
    s.close()


def posts(llm: EchoOpenAI) -> int:
    return sum(1 for r in llm.requests if r["body"] is not None)


# -- files ---------------------------------------------------------------------------------------


def test_server_side_paths_are_refused_unopened(app, tmp_path, monkeypatch, listener):
    results = server_path_attacks(app.url, app.uploads, tmp_path, monkeypatch, listener)
    for case, (html, error) in results.items():
        assert "pa-ok" not in html and "added" not in html.replace("nothing was added", ""), (case, html)
        # Gradio's own refusals come without details on a public deployment; this app's are clear
        assert error or any(r in html for r in REFUSALS), (case, html, error)
    assert "that file was not uploaded to this server" in results["in the folder, not uploaded"][0]


# -- the server's network --------------------------------------------------------------------------


def test_visitor_base_urls_into_the_servers_network_are_refused(browser, app, listener):
    page = open_page(browser, app.url)
    try:
        port = listener.port
        for url, why in [
            (f"http://127.0.0.1:{port}/v1", "loopback"),
            (f"http://localhost:{port}/v1", "localhost names this server itself"),
            (f"http://2130706433:{port}/v1", "refused"),  # 127.0.0.1 written as one number
            ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
            ("http://10.0.0.1/v1", "private"),
        ]:
            warning = apply_settings(page, base_url=url)
            assert warning.startswith("Settings not applied: refused") and why in warning, (url, warning)
        warning = apply_settings(page, base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-visitor-own-1234567")
        assert "loopback" in warning
        answer = ask(page, GPT2)  # still answered, by the owner's server
        assert ZEROTA in answer
    finally:
        page.context.close()
    assert listener.probe() == 1  # our probe is the first connection the listener ever accepted


def test_a_name_resolving_to_loopback_is_refused_when_connecting(pa, monkeypatch, listener):
    """DNS rebinding: the name resolves to a public address when the visitor's settings are
    checked, then to 127.0.0.1 when the LLM client connects."""
    answers = {"llm.visitor.example": ["93.184.215.14", "127.0.0.1"], "always-loopback.example": ["127.0.0.1"]}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            addr = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (addr, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    public = pa.using(public=True, visitor_hosts="*")
    visitor = SessionSettings(
        base_url=f"http://llm.visitor.example:{listener.port}/v1", api_key="sk-visitor-1234567", model="stub-model"
    )
    public = public.using(visitor_models="stub-model")
    view = Views(public, Rules(public.settings)).get(visitor)  # checked: the name resolved to a public address
    assert view.settings.base_url_private is False
    ans = view.ask(GPT2)
    assert ans.backend == "extractive" and "is not allowed" in ans.fallback and "loopback" in ans.fallback
    assert ans.citations  # the visitor still gets the extractive answer
    # a view whose base URL may not reach private addresses, named by a host that resolves to loopback
    direct = pa.using(
        backend="openai",
        base_url=f"http://always-loopback.example:{listener.port}/v1",
        base_url_private=False,
        model="stub-model",
    )
    assert "loopback" in direct.ask(GPT2).fallback
    assert listener.probe() == 1


# -- a visitor's papers ----------------------------------------------------------------------------


def test_a_visitors_papers_are_theirs_alone_and_go_with_their_session(browser, app, chroma, tmp_path):
    a, b = open_page(browser, app.url), open_page(browser, app.url)
    try:
        report = upload_step(a, jsonl(tmp_path / "mine.jsonl", MINE))
        assert "1 added" in report and "visible only to you" in report
        assert "1 of them added by you" in a.locator("#pa-header").inner_text()

        # B: not in the papers list, not found, not cited
        assert MINE_TITLE not in papers_table(b, "quokka", hidden=ZEROTA)
        answer = ask(b, MINE_QUESTION)
        assert answer.startswith(NOT_COVERED) and MINE_TITLE not in answer + sources(b), answer
        assert "80 papers" in b.locator("#pa-header").inner_text()
        # ... nor by any API client
        client = Client(app.url, verbose=False)
        assert MINE_TITLE not in str(client.predict(MINE_QUESTION, api_name="/search"))
        assert MINE_TITLE not in client.predict(MINE_QUESTION, api_name="/ask")
        assert MINE_TITLE not in str(mcp_call(app.url, "search_papers", {"query": MINE_QUESTION}).content)
        assert mcp_call(app.url, "get_paper", {"paper_id": "quokka-1"}).isError

        # A: listed, answered and cited
        assert MINE_TITLE in papers_table(a, "quokka", shown=MINE_TITLE)
        answer = ask(a, MINE_QUESTION)
        assert MINE_TITLE in answer and MINE_TITLE in a.locator("#src-1-1").inner_text()

        # Seen through A's session (the same check the end of the session must change):
        tiny = jsonl(
            tmp_path / "probe.jsonl",
            {
                "id": "probe-1",
                "title": "Probe paper on kelp sensor drift",
                "abstract": "Kelp sensors drift over months. We correct the drift.",
            },
        )
        as_a = Client(app.url, verbose=False)
        as_a.session_hash = a.session_hash()
        assert "now has 82 papers" in as_a.predict([handle_file(str(tiny))], api_name="/add_papers")[0]
    finally:
        b.context.close()
        a.context.close()  # A's session ends

    deadline = time.monotonic() + 60
    while True:  # Gradio runs the page's unload when its heartbeat connection closes
        report = as_a.predict([handle_file(str(tiny))], api_name="/add_papers")[0]
        if "now has 81 papers" in report or time.monotonic() > deadline:
            break
    assert "now has 81 papers" in report, report  # A's paper is gone with A's session
    # The owner's collection never held it: not in the index directory, not on the Chroma server.
    for root in (app.index_dir, chroma.path):
        for f in root.rglob("*"):
            if f.is_file():
                assert b"quokka" not in f.read_bytes().lower(), f


def upload_step(page, file) -> str:
    from attacks import upload

    return upload(page, file, "Add to my papers")


# -- cost: the LLM rate limit --------------------------------------------------------------------------


def test_llm_answers_are_rate_limited_with_a_note_and_extractive_answers_still_come(browser, app, owner_llm):
    page = open_page(browser, app.url)
    try:
        n = posts(owner_llm)
        first = ask(page, GPT2)
        assert posts(owner_llm) == n + 1 and not first.startswith(EXTRACTIVE_INTRO) and "Note:" not in first
        second = ask(page, COUNT_Q)
        assert posts(owner_llm) == n + 1  # the LLM was not called again
        assert second.startswith(EXTRACTIVE_INTRO) and LIMIT_NOTE in second and COUNT in sources(page)
    finally:
        page.context.close()

    client = Client(app.url, verbose=False, headers={"X-Forwarded-For": "198.51.100.77"})  # gradio_client
    first = client.predict(GPT2, api_name="/ask")
    again = Client(app.url, verbose=False, headers={"X-Forwarded-For": "198.51.100.77"})  # a new session, same address
    second = again.predict(COUNT_Q, api_name="/ask")
    assert "_Note:" not in first and LIMIT_NOTE in second and COUNT in second

    # MCP and plain-HTTP callers have no session of their own: counted by client address, which a
    # Space's proxy appends to X-Forwarded-For; what the caller wrote there itself does not count.
    def ask_as(forwarded: str) -> dict:
        r = mcp_call(app.url, "ask_papers", {"question": COUNT_Q}, headers={"X-Forwarded-For": forwarded})
        assert not r.isError, r.content[0].text
        return r.structuredContent

    one, again, other = ask_as("203.0.113.7"), ask_as("203.0.113.7"), ask_as("198.51.100.9")
    assert (one["backend"], one["note"]) == ("openai", "")
    assert again["backend"] == "extractive" and LIMIT_NOTE in again["note"] and again["references"]
    assert other["backend"] == "openai"
    forged = ask_as("192.0.2.1, 198.51.100.9")  # a made-up address in front of the proxy's entry
    assert forged["backend"] == "extractive" and LIMIT_NOTE in forged["note"]


def test_the_caller_address_is_the_one_the_outermost_trusted_proxy_saw():
    from types import SimpleNamespace

    from ui.sessions import client_key

    def request(forwarded: str | None = None, session: str | None = None, mcp: bool = False):
        headers = {"x-forwarded-for": forwarded} if forwarded is not None else {}
        if mcp:
            headers["x-gradio-user"] = "mcp"
        return SimpleNamespace(headers=headers, session_hash=session, client=SimpleNamespace(host="10.0.0.5"))

    assert client_key(request("192.0.2.1", session="abc")) == "session:abc"
    assert client_key(request("192.0.2.1", session="relay", mcp=True)) == "ip:10.0.0.5"  # header not trusted
    assert client_key(request("192.0.2.1, 203.0.113.7"), trusted_proxies=0) == "ip:10.0.0.5"
    assert client_key(request("192.0.2.1, 203.0.113.7"), trusted_proxies=1) == "ip:203.0.113.7"
    assert client_key(request("192.0.2.1, 203.0.113.7, 10.1.1.1"), trusted_proxies=2) == "ip:203.0.113.7"
    assert client_key(request(" , "), trusted_proxies=1) == "ip:10.0.0.5"


# -- errors ------------------------------------------------------------------------------------------


def test_errors_are_generic_for_visitors_with_an_id_the_log_explains(browser, app, chroma):
    page = open_page(browser, app.url)
    chroma.stop()  # the index fails under the running app
    try:
        shown = {"browser": ask(page, GPT2)}
        client = Client(app.url, verbose=False)
        for api in ("/ask", "/search"):
            with pytest.raises(Exception) as e:
                client.predict(GPT2, api_name=api)
            shown[api] = str(e.value)
        for tool in ("ask_papers", "search_papers"):
            r = mcp_call(app.url, tool, {"question": GPT2} if tool == "ask_papers" else {"query": GPT2})
            assert r.isError
            shown[tool] = r.content[0].text
    finally:
        chroma.start()  # same port and data: the app recovers
    log = app.output()
    for where, text in shown.items():
        m = GENERIC.search(text)
        assert m, (where, text)
        for detail in ("Chroma", "127.0.0.1", str(chroma.port), "Traceback", CHROMA_PASSWORD):
            assert detail not in text, (where, detail, text)
        logged = [line for line in log.splitlines() if f"error {m.group(1)}:" in line]
        assert logged and "Chroma server" in logged[0], (where, logged)  # the details, beside the same id
    assert CHROMA_PASSWORD not in log
    try:
        assert ZEROTA in ask(page, GPT2)
    finally:
        page.context.close()
