"""Attacks on a private deployment (the owner's machine: `python app.py` with the owner's key
in the environment), on the library and on the CLI: server-side files named instead of
uploaded, and the owner's key sent to a server a visitor names.  Also what a private
deployment keeps: a visitor's own loopback LLM server works, uploads join the collection.

The LLM servers are EchoOpenAI stubs on 127.0.0.1 (tests/servers.py): they give valid cited
answers and record every request's headers, so a test can see exactly which key reached which
server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from attacks import (
    REFUSALS,
    SECRET,
    apply_settings,
    ask,
    assert_never_opened,
    launch_browser,
    make_fifo,
    open_page,
    raw_http_call,
    server_path_attacks,
)
from gradio_client import Client
from servers import EchoOpenAI
from ui_server import start_app

from assistant import PaperAssistant, Settings
from assistant.answering.prompts import EXTRACTIVE_INTRO

pytestmark = pytest.mark.server  # starts the app, a browser, servers: left out of `make check`

sync_api = pytest.importorskip("playwright.sync_api")

OWNER_KEY = "sk-owner-KEEPOUT-0123456789abcdef"
VISITOR_KEY = "sk-visitor-own-key-987654"
GPT2 = "Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?"
ZEROTA = "Zero-Shot Dense Video Captioning by Jointly Optimizing Text and Moment"


def sent_anywhere(server: EchoOpenAI, secret: str) -> list[dict]:
    """The requests that carried `secret` in any header or in the body."""
    return [r for r in server.requests if secret in json.dumps(r["headers"]) + json.dumps(r["body"])]


@pytest.fixture(scope="module")
def owner_llm():
    s = EchoOpenAI()
    yield s
    s.close()


@pytest.fixture
def listener():
    s = EchoOpenAI()
    yield s
    s.close()


@pytest.fixture(scope="module")
def app(built_index, model_cache, tmp_path_factory, owner_llm):
    work = tmp_path_factory.mktemp("private-app")
    s = start_app(
        built_index,
        model_cache,
        work,
        OPENAI_API_KEY=OWNER_KEY,
        OPENAI_BASE_URL=owner_llm.url,
        ASSISTANT_MODEL="stub-model",
        GRADIO_TEMP_DIR=str(work / "uploads"),
    )
    s.uploads = work / "uploads"
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = launch_browser(p)
        yield b
        b.close()


# -- files: only what was uploaded is ever opened -------------------------------------------------


def test_server_side_paths_are_refused_unopened_and_real_uploads_join_the_collection(
    app, tmp_path, monkeypatch, listener
):
    results = server_path_attacks(app.url, app.uploads, tmp_path, monkeypatch, listener)
    for case, (html, error) in results.items():
        assert "pa-ok" not in html and "added" not in html.replace("nothing was added", ""), (case, html)
        assert any(r in html + error for r in REFUSALS), (case, html, error)  # a clear reason, not a crash
    # Files in the upload folder pass Gradio's own check: this app refuses them, before opening.
    assert "that file was not uploaded to this server" in results["in the folder, not uploaded"][0]
    # The plain-HTTP protocol (curl) gets the same.
    fifo = make_fifo(tmp_path / "curl" / "papers.jsonl")
    event, data = raw_http_call(app.url, "add_papers", [[{"path": str(fifo), "meta": {"_type": "gradio.FileData"}}]])
    assert event == "error" and "not uploaded by a user" in str(data), (event, data)
    assert_never_opened(fifo)
    # Gradio's file route serves none of them either.
    cfg = tmp_path / "owner-secrets" / "config.json"
    folder = next(p.parent for p in app.uploads.rglob("real-upload.jsonl"))
    for path in (str(cfg), f"{folder}/{os.path.relpath(cfg, folder)}", str(folder / "link.json")):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{app.url}/gradio_api/file={path}", timeout=30)
        assert e.value.code in (403, 404) and SECRET not in e.value.read().decode(errors="replace"), path

    # Private deployment, unchanged: a real upload is in the shared collection, for every client.
    other = Client(app.url, verbose=False).predict(
        "tidal energy forecasts from kelp-mounted sensors", k=3, api_name="/search_papers"
    )
    assert other["papers"][0]["title"] == "Tidal Energy Forecasting with Kelp Sensors"


def test_only_named_file_inputs_exist(app):
    """The endpoints above are all there is to attack: /add_papers is the one API endpoint taking a file."""
    api = Client(app.url, verbose=False).view_api(return_format="dict", print_info=False)
    taking_files = sorted(
        name
        for name, e in api["named_endpoints"].items()
        if any(
            "FileData" in json.dumps(p.get("python_type", {})) or p.get("component") == "File" for p in e["parameters"]
        )
    )
    assert taking_files == ["/add_papers"] and api["unnamed_endpoints"] == {}


# -- the owner's key goes only to the owner's server ------------------------------------------------


def test_a_visitor_base_url_never_receives_the_owners_key_in_the_browser(browser, app, owner_llm, listener):
    page = open_page(browser, app.url)
    try:
        before = len(owner_llm.requests)
        answer = ask(page, GPT2)  # the owner's server, with the owner's key: the key is in use
        assert len(owner_llm.requests) > before and f"Bearer {OWNER_KEY}" in owner_llm.keys_seen()
        assert not answer.startswith(EXTRACTIVE_INTRO) and ZEROTA in answer

        # A visitor sets only a base URL (their own server on 127.0.0.1: allowed on a private deployment).
        assert apply_settings(page, base_url=listener.url) == ""
        answer = ask(page, GPT2)
        assert listener.requests and sent_anywhere(listener, OWNER_KEY) == []
        assert listener.keys_seen() == {"Bearer no-key-needed"}
        assert not answer.startswith(EXTRACTIVE_INTRO) and "Note:" not in answer  # their server answered

        # With a key of their own, that key (and only it) goes to their server.
        assert apply_settings(page, api_key=VISITOR_KEY) == ""
        ask(page, "How can CLIP be taught to count objects?")
        assert f"Bearer {VISITOR_KEY}" in listener.keys_seen() and sent_anywhere(listener, OWNER_KEY) == []
        assert sent_anywhere(owner_llm, VISITOR_KEY) == []
    finally:
        page.context.close()
    assert OWNER_KEY not in app.output() and VISITOR_KEY not in app.output()


def test_library_views_keep_the_key_with_its_endpoint(pa, listener):
    owner_llm = EchoOpenAI()
    try:
        owner = pa.using(backend="openai", api_key=OWNER_KEY, base_url=owner_llm.url, model="stub-model")
        assert owner.ask(GPT2).backend == "openai" and owner_llm.keys_seen() == {f"Bearer {OWNER_KEY}"}

        moved = owner.using(base_url=listener.url)
        ans = moved.ask(GPT2)
        assert ans.backend == "openai" and not ans.fallback  # answered by the listener, without the key
        assert listener.keys_seen() == {"Bearer no-key-needed"}
        # the key of OpenAI's own endpoint (no base URL set) does not follow a new base URL either
        pa.using(backend="openai", api_key=OWNER_KEY, model="stub-model").using(base_url=listener.url).ask(GPT2)
        moved.using(api_key=VISITOR_KEY).ask(GPT2)  # a key given with (after) the base URL is used
        owner.using(base_url=listener.url, api_key=VISITOR_KEY).ask(GPT2)
        assert listener.keys_seen() == {"Bearer no-key-needed", f"Bearer {VISITOR_KEY}"}
        assert sent_anywhere(listener, OWNER_KEY) == []
    finally:
        owner_llm.close()


def test_a_key_from_the_environment_is_not_sent_to_a_base_url_given_later(built_index, model_cache, tmp_path, listener):
    env = {"OPENAI_API_KEY": OWNER_KEY}
    assert Settings.load(env=env, base_url=listener.url).secret("api_key") == ""
    assert Settings.load(env={**env, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}).secret("api_key") == OWNER_KEY
    # the embedding server's key likewise
    embed = Settings.load(
        env={"ASSISTANT_EMBED_API_KEY": OWNER_KEY, "ASSISTANT_EMBED_BASE_URL": "http://127.0.0.1:9/v1"}
    )
    assert embed.secret("embed_api_key") == OWNER_KEY
    assert embed.with_(embed_base_url=listener.url).secret("embed_api_key") == ""
    assert (
        Settings.load(env={"ASSISTANT_EMBED_API_KEY": OWNER_KEY}, embed_base_url=listener.url).secret("embed_api_key")
        == ""
    )
    # PaperAssistant(settings, base_url=...) changes the base URL of settings that carry a key
    shutil.copytree(built_index, tmp_path / "index")  # its own copy: an embedded index serves one process
    settings = Settings.load(env=env, index_dir=str(tmp_path / "index"), model_cache=str(model_cache))
    assistant = PaperAssistant(settings, base_url=listener.url, backend="openai", model="stub-model")
    try:
        ans = assistant.ask(GPT2)
    finally:
        assistant.store.close()
    assert ans.backend == "openai" and listener.requests and sent_anywhere(listener, OWNER_KEY) == []


def test_the_cli_base_url_flag_does_not_take_the_environment_key(built_index, model_cache, tmp_path, listener):
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env.update(OPENAI_API_KEY=OWNER_KEY, ASSISTANT_MODEL_CACHE=str(model_cache))
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant.cli",
            "--index-dir",
            str(index),
            "--base-url",
            listener.url,
            "--model",
            "stub-model",
            "ask",
            GPT2,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=Path(__file__).parent.parent,
    )
    assert p.returncode == 0, p.stderr
    assert listener.requests and listener.keys_seen() == {"Bearer no-key-needed"}
    assert sent_anywhere(listener, OWNER_KEY) == [] and ZEROTA in p.stdout
