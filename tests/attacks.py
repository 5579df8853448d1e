"""Helpers for the attack tests (test_key_and_paths.py, test_public.py): an attacker's
gradio_client that names server-side paths instead of uploading, FIFOs that prove a file was
never opened, and the browser steps a visitor takes (ask, Settings, Add papers).

Why a FIFO: opening one for reading blocks until a writer comes.  So a request naming a
FIFO that completes was not stuck opening it; and once it completed, opening the FIFO for
writing without blocking fails with ENXIO, which means no process has it open for reading
(a reader blocked in open() counts as one)."""

from __future__ import annotations

import errno
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gradio_client import Client
from gradio_client import client as gradio_client_module
from ui_server import BROWSER_FLAGS, CHROMIUM

FILE_DATA = {"_type": "gradio.FileData"}
CALL_TIMEOUT = 60  # s: a request still running after this was stuck (opening a FIFO, say)


def attacker_client(url: str, monkeypatch) -> Client:
    """A gradio_client that sends file paths as they are: the official client uploads any local
    path it is given (so on the same machine it would upload the secret itself, which proves
    nothing); an attacker's client does not."""
    monkeypatch.setattr(gradio_client_module.Endpoint, "_upload_file", lambda self, f, data_index: f)
    return Client(url, verbose=False)


def call_with_path(client: Client, path: str, api_name: str = "/add_papers") -> tuple[str, str]:
    """(html, error) of calling `api_name` with a raw FileData naming `path`; raises if the call
    does not finish (the server would be stuck opening the file)."""
    out: dict[str, str] = {}

    def run() -> None:
        try:
            out["html"] = client.predict([{"path": path, "meta": FILE_DATA}], api_name=api_name)[0]
        except Exception as e:  # noqa: BLE001 - the refusal, as the client reports it
            out["error"] = str(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(CALL_TIMEOUT)
    if t.is_alive():
        raise AssertionError(f"the request naming {path} did not finish: the server is stuck opening it")
    return out.get("html", ""), out.get("error", "")


def make_fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def assert_never_opened(fifo: Path) -> None:
    """No process has `fifo` open for reading (nor is blocked opening it)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as e:
        assert e.errno == errno.ENXIO, e
        return
    os.close(fd)  # releases the reader, so a stuck server is not left hanging
    raise AssertionError(f"{fifo} is open for reading: the server opened it")


def jsonl(path: Path, *papers: dict) -> Path:
    path.write_text("".join(json.dumps(p) + "\n" for p in papers), encoding="utf-8")
    return path


# Records every chunk of Gradio's event stream (the fetch of /queue/data) in window.__sse, and
# counts the events the queue reports finished, so a test can see that an answer arrived as a
# stream of updates, or wait for an event that changes nothing visible when it succeeds.
TAP_EVENT_STREAM = r"""
window.__sse = [];
window.__completed = () => (window.__sse.join("").match(/process_completed/g) || []).length;
const realFetch = window.fetch;
window.fetch = async function (...args) {
  const res = await realFetch.apply(this, args);
  const url = String((args[0] && args[0].url) || args[0]);
  if (url.includes("/queue/data") && res.body) {
    const [mine, theirs] = res.body.tee();
    const reader = mine.getReader(), dec = new TextDecoder();
    (async () => { for (;;) { const r = await reader.read(); if (r.done) break; window.__sse.push(dec.decode(r.value, {stream: true})); } })();
    return new Response(theirs, {status: res.status, statusText: res.statusText, headers: res.headers});
  }
  return res;
};
"""


# -- the browser -------------------------------------------------------------------------------


def launch_browser(playwright):
    if not Path(CHROMIUM).exists():
        raise AssertionError(f"{CHROMIUM} is missing: apt-get install -y chromium (make test installs it)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS, headless=True)


_VISITORS: list[str] = []


def open_page(browser, url: str):
    """A new visitor: its own browser context (cookies, storage) and Gradio session.  The page
    records its Gradio session hash (page.session_hash()), read from its queue requests."""
    # Each visitor from an address of its own, as a public deployment's proxy reports it (X-Forwarded-For):
    # limits are kept per address there.
    _VISITORS.append(url)
    n = len(_VISITORS)
    ctx = browser.new_context(
        viewport={"width": 1400, "height": 950}, extra_http_headers={"X-Forwarded-For": f"198.18.{n // 250}.{n % 250}"}
    )
    page = ctx.new_page()
    hashes: list[str] = []

    def on_request(req):
        if "/queue/join" in req.url and req.post_data:
            h = json.loads(req.post_data).get("session_hash")
            if h:
                hashes.append(h)

    page.on("request", on_request)
    page.add_init_script(TAP_EVENT_STREAM)
    page.session_hash = lambda: hashes[-1]
    page.goto(url)
    page.wait_for_selector("#pa-question textarea", timeout=60_000)
    return page


def ask(page, question: str) -> str:
    """Ask in the chat; returns the answer's text once its sources are shown."""
    turns = page.locator("#pa-sources details.pa-turn").count()
    errors = page.locator("#pa-chat blockquote").count()
    page.get_by_role("tab", name="Chat", exact=True).click()
    page.fill("#pa-question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"document.querySelectorAll('#pa-sources details.pa-turn').length > {turns}"
        f" || document.querySelectorAll('#pa-chat blockquote').length > {errors}",
        timeout=90_000,
    )
    return page.locator('#pa-chat [data-testid="bot"]').last.inner_text()


def sources(page) -> str:
    return page.locator("#pa-sources").inner_text()


def apply_settings(page, base_url: str | None = None, api_key: str | None = None) -> str:
    """Fill the Settings tab and Apply; returns the warning the page shows when they are refused
    (both as a toast and in the status line), "" when they were applied."""
    page.get_by_role("tab", name="Settings").click()
    if base_url is not None:
        page.get_by_label("Base URL of an OpenAI-compatible server").fill(base_url)
    if api_key is not None:
        page.locator("#pa-api-key input").fill(api_key)
    done = page.evaluate("window.__completed()")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_function(f"window.__completed() > {done}", timeout=30_000)
    status = page.locator("#pa-settings-status").inner_text()
    if "Settings not applied" not in status:
        return ""
    toast = page.locator(".toast-body.warning .toast-message-text").last
    toast.wait_for(timeout=30_000)
    text = toast.inner_text()
    assert text in status, (text, status)
    page.locator(".toast-body.warning button").last.click()  # close it
    return text


def upload(page, file: Path, button: str) -> str:
    """Add a papers file in the Add papers tab; returns the report."""
    page.get_by_role("tab", name="Add papers").click()
    page.locator("#pa-upload input[type=file]").set_input_files(str(file))
    page.get_by_role("button", name=button).click()
    page.wait_for_selector("#pa-report .pa-report", timeout=90_000)
    return page.locator("#pa-report").inner_text()


def papers_table(page, search: str, shown: str = "", hidden: str = "") -> str:
    """The papers table filtered by its search box, once it shows `shown` and not `hidden`."""
    page.get_by_role("tab", name="Papers", exact=True).click()
    page.fill("#pa-papers input", search)
    page.wait_for_function(
        f"(t => t.includes({json.dumps(shown)}) && !({json.dumps(hidden)} && t.includes("
        f"{json.dumps(hidden)})))(document.querySelector('#pa-papers').innerText)",
        timeout=30_000,
    )
    return page.locator("#pa-papers").inner_text()


# -- server-side paths instead of uploads --------------------------------------------------------

SECRET = "zebra-unicorn-4242"  # in the owner's files: must never become a paper anyone can read
REFUSALS = ("not uploaded by a user", "was not uploaded to this server", "failed validation")


def server_path_attacks(url: str, uploads: Path, root: Path, monkeypatch, listener) -> dict[str, tuple[str, str]]:
    """Call /add_papers naming server-side files instead of uploading: the owner's secret JSON
    outside the upload folder, the same through `..` from inside it and through a symlink
    placed in it, files placed in it that no client uploaded, and a URL on 127.0.0.1.  Each
    secret also exists as a FIFO, which proves it is never opened.  Returns {case: (html, error)}."""
    from gradio_client import handle_file

    secrets = root / "owner-secrets"
    secrets.mkdir()
    cfg = jsonl(
        secrets / "config.json",
        {"title": f"Owner configuration {SECRET}", "abstract": f"The database password is {SECRET}. Keep it safe."},
    )
    cfg.write_text("[" + cfg.read_text().strip() + "]")  # a JSON array: it would load as papers
    fifo = make_fifo(secrets / "papers.jsonl")
    # A real upload through the official client: its folder is where `..` and the symlink start.
    mine = jsonl(
        root / "real-upload.jsonl",
        {
            "id": "real-upload",
            "title": "Tidal Energy Forecasting with Kelp Sensors",
            "abstract": "Kelp-mounted sensors forecast tidal energy output. Forecast error falls by a third.",
        },
    )
    report = Client(url, verbose=False).predict([handle_file(str(mine))], api_name="/add_papers")[0]
    assert "1 added" in report, report
    # (a public server deletes an upload once read: the folder comes from an upload left unread)
    import httpx

    with open(mine, "rb") as fh:
        sent = httpx.post(f"{url}/gradio_api/upload", files={"files": (mine.name, fh)}, timeout=CALL_TIMEOUT)
    folder = Path(sent.json()[0]).parent
    assert folder.is_relative_to(uploads), folder
    os.symlink(cfg, folder / "link.json")
    os.symlink(fifo, folder / "link.jsonl")
    planted = uploads / "planted-by-another-process"
    planted.mkdir()
    (planted / "config.json").write_text(cfg.read_text())
    fifos = [fifo, make_fifo(planted / "papers.jsonl")]
    up = os.path.relpath(secrets, folder)  # ../../owner-secrets
    cases = {
        "outside": str(cfg),
        "outside fifo": str(fifo),
        "dot-dot": f"{folder}/{up}/config.json",
        "dot-dot fifo": f"{folder}/{up}/papers.jsonl",
        "symlink": str(folder / "link.json"),
        "symlink fifo": str(folder / "link.jsonl"),
        "in the folder, not uploaded": str(planted / "config.json"),
        "in the folder, not uploaded, fifo": str(planted / "papers.jsonl"),
        "url on loopback": f"http://127.0.0.1:{listener.port}/papers.jsonl",
    }
    client = attacker_client(url, monkeypatch)
    results = {name: call_with_path(client, path) for name, path in cases.items()}
    for f in fifos:
        assert_never_opened(f)
    assert listener.probe() == 1  # the URL was not fetched: our probe is the first connection it accepted
    found = Client(url, verbose=False).predict(SECRET, k=50, api_name="/search_papers")["papers"]
    assert not [p for p in found if SECRET in p["title"] + p["passage"]]
    return results


def raw_http_call(url: str, api_name: str, data: list) -> tuple[str, object]:
    """The documented plain-HTTP protocol (curl): POST /gradio_api/call/NAME, then read the result."""
    import re
    import urllib.request

    req = urllib.request.Request(
        f"{url}/gradio_api/call/{api_name}",
        data=json.dumps({"data": data}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        event_id = json.load(r)["event_id"]
    with urllib.request.urlopen(f"{url}/gradio_api/call/{api_name}/{event_id}", timeout=CALL_TIMEOUT) as r:
        text = r.read().decode()
    event = re.findall(r"^event: (\w+)$", text, re.M)[-1]
    return event, json.loads(re.findall(r"^data: (.*)$", text, re.M)[-1])


def mcp_call(url: str, tool: str, args: dict, headers: dict[str, str] | None = None):
    """Call one MCP tool of the app at `url` (streamable HTTP) in a fresh MCP session, sending
    `headers` (e.g. the X-Forwarded-For a Space's proxy adds); returns the CallToolResult."""
    import asyncio

    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async def main():
        async with create_mcp_http_client(headers=headers) as http:
            async with streamable_http_client(url + "/gradio_api/mcp/", http_client=http) as (read, write, *_):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await session.call_tool(tool, args)

    # its own thread: Playwright's sync API keeps an event loop running in the test's thread
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result(CALL_TIMEOUT)
