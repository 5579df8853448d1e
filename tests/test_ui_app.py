"""The real web app: `python app.py` on 127.0.0.1 driven with gradio_client, and its handlers
over a real index (embedding model, embedded Chroma)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from ui_server import ROOT, free_port

from assistant import AnswerStream, CollectionError, PaperAssistant, Settings
from assistant.answering.prompts import NOT_COVERED
from ui import SessionSettings, build_app, open_assistant
from ui.app import WebApp
from ui.chat import ANSWER_CONCURRENCY
from ui.scope import ScopeChoice, has_metadata

GPT2 = "Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?"
ZEROTA = "Zero-Shot Dense Video Captioning by Jointly Optimizing Text and Moment"
BREAD_Q = "How does the hydration of a sourdough starter change the crumb of the bread?"
BREAD = [
    {
        "id": "bread-1",
        "title": "Hydration and Crumb Structure in Sourdough Bread",
        "abstract": "We bake 120 sourdough loaves at hydrations from 60% to 85%. Higher starter hydration opens the crumb "
        "structure and enlarges alveoli. Fermentation time matters less than hydration.",
        "authors": ["Chad Robertson"],
        "year": 2021,
    },
    {
        "id": "bread-2",
        "title": "Rye Flour Ratios for Dense Breads",
        "abstract": "Rye breads with over 70% rye flour need acidification. We measure loaf volume across ten rye ratios.",
    },
    {"id": "bread-3", "title": "A record without an abstract"},
]


@pytest.fixture(scope="module")
def client(server):
    return Client(server.url, verbose=False)


@pytest.mark.server
def test_app_py_serves_on_the_gradio_server_port_with_named_endpoints(server, client):
    port = server.url.rsplit(":", 1)[1]
    assert f"http://127.0.0.1:{port}" in server.output()  # GRADIO_SERVER_NAME / GRADIO_SERVER_PORT honoured
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {
        "/ask",
        "/search",
        "/add_papers",
        "/search_papers",
        "/ask_papers",
        "/get_paper",
        "/compare_papers",
    }  # the last four: agent tools (tests/test_mcp.py)
    assert api["unnamed_endpoints"] == {}  # chat, settings (with the key) etc. are not callable from outside
    ask = api["named_endpoints"]["/ask"]["parameters"]
    assert [p["parameter_name"] for p in ask] == ["question", "history"]


@pytest.mark.server
def test_ask_returns_a_cited_answer_with_its_reference_list(client):
    md = client.predict(GPT2, api_name="/ask")
    body, refs = md.split("**References**")
    assert "[1]" in body and "GPT-2" in body
    assert refs.strip().startswith(f"1. **{ZEROTA}**")
    # a follow-up, with the conversation passed as history
    follow = client.predict(
        "What loss does it add?",
        [{"role": "user", "content": GPT2}, {"role": "assistant", "content": body}],
        api_name="/ask",
    )
    assert "IoU loss" in follow and ZEROTA in follow


@pytest.mark.server
def test_ask_says_when_the_collection_does_not_cover_a_question(client):
    md = client.predict(
        "What reward shaping works best for reinforcement learning of robotic grasping?", api_name="/ask"
    )
    assert md.startswith(NOT_COVERED) and "**References**" not in md and not re.search(r"\[\d+\]", md)


@pytest.mark.server
def test_search_returns_titles_and_scores_best_first(client):
    hits = client.predict("pairwise temporal IoU loss for moment masks", 3, api_name="/search")
    assert len(hits) == 3 and hits[0]["title"] == ZEROTA and hits[0]["rank"] == 1
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert hits[0]["passage"] and hits[0]["id"]


@pytest.mark.server
def test_bad_questions_get_clear_errors(client):
    with pytest.raises(Exception, match="the question is empty"):
        client.predict("   ", api_name="/ask")
    with pytest.raises(Exception, match="limit is 2000"):
        client.predict("why " * 600, api_name="/search")
    with pytest.raises(Exception, match="history must be a list"):
        client.predict("What loss does it add?", [{"role": "robot", "content": "x"}], api_name="/ask")


@pytest.mark.server
def test_uploaded_papers_are_answerable_at_once(server, client, tmp_path):
    assert client.predict(BREAD_Q, api_name="/ask").startswith(NOT_COVERED)
    f = tmp_path / "bread.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in BREAD) + "{not json\n", encoding="utf-8")
    report, header, *_ = client.predict([handle_file(str(f))], api_name="/add_papers")
    # the record without an abstract is kept (found by its title and metadata) and said so
    assert "3 added, 0 updated, 0 unchanged, 1 rejected" in report and "83 papers" in report
    assert "have no abstract" in report and "malformed JSON" in report and "line 4" in report
    assert "**83 papers**" in header
    md = client.predict(BREAD_Q, api_name="/ask")
    assert not md.startswith(NOT_COVERED)
    assert "1. **Hydration and Crumb Structure in Sourdough Bread**" in md.split("**References**")[1]
    assert client.predict("rye flour ratio", 1, api_name="/search")[0]["id"] == "bread-2"

    # a file that cannot be read is refused with the reason and changes nothing
    bad = tmp_path / "broken.json"
    bad.write_bytes(b"\x00\x01binary\xff")
    report, header, *_ = client.predict([handle_file(str(bad))], api_name="/add_papers")
    assert "binary" in report and "Nothing was added" in report
    assert client.predict("rye flour ratio", 1, api_name="/search")[0]["id"] == "bread-2"
    assert ZEROTA in client.predict(GPT2, api_name="/ask")


def uploaded(tmp_path, name: str):
    """A path in Gradio's upload folder: where the app takes uploads from."""
    import gradio as gr

    d = Path(gr.utils.get_upload_folder()) / tmp_path.name
    d.mkdir(parents=True, exist_ok=True)
    return d / name


def test_uploads_over_the_size_limit_are_refused_before_reading(fresh_pa, tmp_path):
    app = WebApp(fresh_pa.using(max_file_mb=0.001))
    f = uploaded(tmp_path, "big.jsonl")
    f.write_bytes(b"\x00" * 5000)  # binary too, but the size is checked first
    before = len(fresh_pa.papers)
    report, *rest = app.uploads.add_papers(str(f), None, progress=lambda *a, **k: None)
    assert "over the 0.001 MB limit" in report and "nothing was added" in report
    assert len(fresh_pa.papers) == before


def test_answers_can_be_limited_to_chosen_papers_or_metadata(fresh_pa):
    app = WebApp(fresh_pa)
    target = next(p for p in fresh_pa.papers if p.title.startswith("RITUAL"))
    chat = [{"role": "user", "content": "q"}]
    *_, last = app.chat.answer(
        "How do vision-language models hallucinate?", chat, [], SessionSettings(), None, selected=[target.id]
    )
    chat_out, sources, answers, export, *_ = last
    assert [c.paper.id for c in answers[0].citations] == [target.id]
    assert "(#src-1-1)" in chat_out[-1]["content"] and 'id="src-1-1"' in sources
    assert "**Question:** How do vision-language models hallucinate?" in export
    assert "1 of 80 papers" in app.scope.note(ScopeChoice([target.id]))
    # metadata filters: the bundled papers have no years, so a year filter leaves nothing to answer from
    assert app.scope.ids(ScopeChoice([], 2020)) == []
    *_, last = app.chat.answer(
        "How do vision-language models hallucinate?", chat, [], SessionSettings(), None, selected=[], year_from=2020
    )
    assert "No paper is in the current scope" in last[0][-1]["content"]
    assert "No paper matches the current scope" in app.scope.note(ScopeChoice([], 2020))
    fresh_pa.add_papers(
        [
            {
                "id": "y1",
                "title": "Hallucination audit 2023",
                "year": 2023,
                "authors": ["Kim Lee"],
                "abstract": "We audit object hallucination in vision-language models with human raters.",
            }
        ]
    )
    assert app.scope.ids(ScopeChoice([], 2023, 2023)) == ["y1"] and app.scope.ids(ScopeChoice(author="lee")) == ["y1"]
    assert app.scope.ids(ScopeChoice([target.id], author="lee")) == []
    assert has_metadata(app.shared)


def test_follow_ups_use_the_sessions_earlier_answers(pa):
    app = WebApp(pa)
    *_, first = app.chat.answer(GPT2, [], [], SessionSettings(), None)
    answers = first[2]
    *_, second = app.chat.answer("What loss does it add?", first[0], answers, SessionSettings(), None)
    assert second[2][1].citations[0].paper.title == ZEROTA and "IoU loss" in second[2][1].text
    assert "(#src-2-1)" in second[0][-1]["content"]  # turn 2's markers point at turn 2's sources
    assert second[1].index('id="turn-2" open') < second[1].index('id="turn-1"')


def test_session_settings_keep_the_key_server_side_and_out_of_sight(pa):
    app = WebApp(pa)
    key = "sk-test-DO-NOT-SHOW-123"
    session, key_box, status = app.settings.apply("openai", "gpt-x", "http://127.0.0.1:9/v1", key, 4, SessionSettings())
    assert key_box == "" and key not in status and "key entered for this session (not shown)" in status
    assert key not in repr(session) and key not in str(session) and "<set>" in repr(session)
    view = app.shared.view(session)
    assert app.shared.view(SessionSettings(**session.changes())) is view  # same settings, same view
    assert (
        view.settings.secret("api_key") == key
        and view.settings.top_k == 4
        and view.settings.base_url.startswith("http://127")
    )
    assert pa.settings.secret("api_key") == "" and key not in repr(view.settings)  # the shared assistant is untouched
    # applying other settings without retyping keeps the key; "forget" drops it
    session2, *_ = app.settings.apply("extractive", "", "", "", 6, session)
    assert session2.api_key == key and app.shared.view(session2).settings.top_k == 6
    session3, _, status3 = app.settings.forget_key(session2)
    assert session3.api_key == "" and "none entered here" in status3
    # an invalid value is refused and the session keeps its settings
    kept, _, _ = app.settings.apply("telepathy", "", "", "", 4, session2)
    assert kept == session2


def test_uploads_can_be_turned_off_for_public_deployments(pa):
    def names(demo):
        return {f.api_name for f in demo.fns.values() if f.api_visibility == "public"}

    tools = {"search_papers", "ask_papers", "get_paper", "compare_papers"}
    assert names(build_app(pa)) == {"ask", "search", "add_papers"} | tools
    assert names(build_app(pa.using(allow_uploads=False))) == {"ask", "search"} | tools
    assert Settings.load(env={"ASSISTANT_ALLOW_UPLOADS": "off"}).allow_uploads is False


@pytest.mark.server
def test_long_answers_do_not_block_searches(fresh_pa):
    """Answers and searches have separate queues: with every answer slot busy (and more answers
    waiting), a search still returns.  The answers are held until the search is back, so the
    order is proven by events, not by timing."""
    import threading

    real_stream = fresh_pa.stream
    started, release = threading.Semaphore(0), threading.Event()

    def slow_stream(*args, **kwargs):  # stands in for a slow LLM; the answer itself is the real one
        inner = real_stream(*args, **kwargs)

        def pieces():
            started.release()
            release.wait(120)
            yield from inner

        return AnswerStream(pieces(), lambda: inner.answer)

    fresh_pa.stream = slow_stream
    demo = build_app(fresh_pa)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}"
        jobs = [Client(url, verbose=False).submit(GPT2, api_name="/ask") for _ in range(ANSWER_CONCURRENCY + 2)]
        for _ in range(ANSWER_CONCURRENCY):  # every answer slot is taken
            assert started.acquire(timeout=120)
        search = Client(url, verbose=False).submit("pairwise temporal IoU loss for moment masks", 3, api_name="/search")
        hits = search.result(timeout=120)  # would never come if it queued behind the held answers
        assert hits[0]["title"] == ZEROTA
        assert not any(j.done() for j in jobs)
        release.set()
        assert all(ZEROTA in j.result(timeout=120) for j in jobs)
    finally:
        release.set()
        demo.close()


def test_open_assistant_repairs_the_index_and_never_adds_papers_back(built_index, model_cache, tmp_path):
    def settings(index, **kw):
        return Settings.load(env={}, index_dir=str(index), model_cache=str(model_cache), **kw)

    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    # the vector store lost its files (an ephemeral disk with the manifest on a volume, say)
    for chroma in index.glob("*/chroma"):
        shutil.rmtree(chroma)
    with pytest.raises(Exception, match="reindex"):
        PaperAssistant(settings(index))
    pa = open_assistant(settings(index, collection="bundled"))
    assert len(pa.papers) == 80 and pa.search(GPT2, k=1)[0].paper.title == ZEROTA
    # a paper the user removed stays removed, though the demo collection is still configured
    gone = pa.search(GPT2, k=1)[0].paper.id
    pa.remove_papers([gone])
    pa = open_assistant(settings(index, collection="bundled"))
    assert len(pa.papers) == 79 and gone not in {p.id for p in pa.papers}
    # and a collection file that gained a paper is not read again either: `sync` keeps a source current
    collection = tmp_path / "papers.jsonl"
    collection.write_text("".join(json.dumps(r) + "\n" for r in BREAD[:1]), encoding="utf-8")
    assert len(open_assistant(settings(index, collection=str(collection))).papers) == 79


def test_a_new_index_starts_empty_and_the_demo_is_read_once(model_cache, tmp_path):
    def settings(index, **kw):
        return Settings.load(env={}, index_dir=str(index), model_cache=str(model_cache), embed_cache="off", **kw)

    assert open_assistant(settings(tmp_path / "mine")).papers == []
    collection = tmp_path / "papers.jsonl"
    collection.write_text("".join(json.dumps(r) + "\n" for r in BREAD), encoding="utf-8")
    demo = open_assistant(settings(tmp_path / "demo", collection=str(collection)))
    assert {p.id for p in demo.papers} == {r["id"] for r in BREAD}
    demo.remove_papers([p.id for p in demo.papers])
    assert open_assistant(settings(tmp_path / "demo", collection=str(collection))).papers == []
    # a collection file that cannot be read is named (and the index is built from it at the next start)
    with pytest.raises(CollectionError, match="missing.jsonl"):
        open_assistant(settings(tmp_path / "other", collection=str(tmp_path / "missing.jsonl")))


@pytest.mark.server
def test_paper_assistant_serve_launches_the_app(built_index, model_cache, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    port = free_port()
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_", "GRADIO_"))}
    env.update(ASSISTANT_INDEX_DIR=str(index), ASSISTANT_MODEL_CACHE=str(model_cache), GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2) as r:
                    config = json.loads(r.read())
                break
            except OSError:
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.3)
        assert config["title"] == "paper-assistant"
        assert Client(f"http://127.0.0.1:{port}", verbose=False).predict(GPT2, api_name="/ask").count(ZEROTA) == 2
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_uploads_over_the_record_limit_are_refused_before_parsing(fresh_pa, tmp_path, monkeypatch):
    import assistant.ingest.records

    app = WebApp(fresh_pa.using(max_records=3))
    f = uploaded(tmp_path, "many.jsonl")
    f.write_text("\n".join(json.dumps({"title": f"Paper {i}", "abstract": "An abstract."}) for i in range(5)))

    real_loads, parsed = json.loads, []

    def counting(*a, **k):  # the format is told from the first lines; no record is read past the limit
        parsed.append(1)
        if len(parsed) > 2:
            raise AssertionError("records were parsed before the limit was checked")
        return real_loads(*a, **k)

    monkeypatch.setattr(assistant.ingest.records.json, "loads", counting)
    before = len(fresh_pa.papers)
    report, *rest = app.uploads.add_papers(str(f), None, progress=lambda *a, **k: None)
    assert "over the limit of 3 records" in report and "Nothing was added" in report
    assert len(fresh_pa.papers) == before
