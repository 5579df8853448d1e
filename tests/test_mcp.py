"""The agent tools (ui/mcp.py) on the real web app: `python app.py` on 127.0.0.1, driven with the
official MCP Python client over streamable HTTP and SSE, and over plain HTTP (gradio_client and
the raw /gradio_api/call protocol that docs/api.md shows with curl).  Then public mode, and the
setting that turns the MCP endpoint off."""

import asyncio
import json
import re
import urllib.error
import urllib.request

import pytest
from gradio_client import Client
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from ui_server import free_port, start_app

from assistant import Settings
from ui import build_app, launch

pytestmark = pytest.mark.server  # starts processes: left out of `make check`

TOOLS = {"search_papers", "ask_papers", "get_paper", "compare_papers"}
COUNT = "Teaching CLIP to Count to Ten"
ZEROTA = "Zero-Shot Dense Video Captioning by Jointly Optimizing Text and Moment"
# Paraphrases: no title words, few abstract words.
COUNT_Q = "Is there work that teaches a contrastive image-text model to get the number of objects in a picture right?"
ZEROTA_Q = "Which model locates and describes moments in videos without being trained on any captioned video?"
OFF_TOPIC = "What reward shaping works best for reinforcement learning of robotic grasping?"


def with_session(url: str, work, transport: str = "http"):
    """Run `await work(session)` in a fresh MCP session with the app at `url`; return its result."""

    async def main():
        if transport == "http":
            streams = streamable_http_client(url + "/gradio_api/mcp/")
        else:
            streams = sse_client(url + "/gradio_api/mcp/sse")
        async with streams as (read, write, *_):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)

    return asyncio.run(main())


def call(url: str, tool: str, args: dict, transport: str = "http"):
    return with_session(url, lambda s: s.call_tool(tool, args), transport)


def result(r) -> dict:
    """A successful tool result: its JSON text and its structuredContent are the same object."""
    assert not r.isError, r.content[0].text
    assert len(r.content) == 1 and r.content[0].type == "text"
    assert json.loads(r.content[0].text) == r.structuredContent
    return r.structuredContent


def error_text(r) -> str:
    assert r.isError and r.structuredContent is None
    return r.content[0].text


def listed(url: str, transport: str = "http") -> dict:
    async def work(s):
        return {t.name: t for t in (await s.list_tools()).tools}

    return with_session(url, work, transport)


def test_the_three_tools_are_listed_with_descriptions_and_schemas(server):
    tools = listed(server.url)
    assert set(tools) == TOOLS  # the web app's /ask, /search and /add_papers are not tools
    for t in tools.values():
        assert "Returns:" in t.description and len(t.description) > 150
        props = t.inputSchema["properties"]
        assert all(p.get("description") for p in props.values()), f"{t.name}: an argument lacks a description"
        assert t.inputSchema["additionalProperties"] is False
        assert t.outputSchema["type"] == "object" and t.outputSchema["required"]
        assert t.annotations.readOnlyHint is True and t.annotations.destructiveHint is False
    search = tools["search_papers"].inputSchema
    assert search["required"] == ["query"] and list(search["properties"]) == [
        "query",
        "k",
        "year_from",
        "year_to",
        "author",
    ]
    assert search["properties"]["k"] == {
        "type": "integer",
        "default": 10,
        "description": "How many papers to return, 1 to 50.",
    }
    assert {"type": "integer"} in search["properties"]["year_from"]["oneOf"]
    history = tools["ask_papers"].inputSchema["properties"]["history"]["oneOf"][1]
    assert history["items"]["properties"]["role"] == {"enum": ["user", "assistant"]}
    ask_out = tools["ask_papers"].outputSchema
    assert set(ask_out["required"]) == {"question", "answer", "covered", "references", "backend", "note"}
    ref = ask_out["properties"]["references"]["items"]
    assert {"number", "paper_id", "quote", "page"} <= set(ref["required"])
    assert tools["get_paper"].inputSchema["required"] == ["paper_id"]


def test_search_finds_the_paper_behind_a_paraphrase(server):
    found = result(call(server.url, "search_papers", {"query": COUNT_Q, "k": 4}))
    papers = found["papers"]
    assert found["covered"] and found["note"] == "" and len(papers) == 4
    assert papers[0]["title"] == COUNT and [p["rank"] for p in papers] == [1, 2, 3, 4]
    assert [p["score"] for p in papers] == sorted((p["score"] for p in papers), reverse=True)
    assert len({p["id"] for p in papers}) == 4  # one entry per paper
    # the id leads to the paper, and the passage is quoted from its abstract
    paper = result(call(server.url, "get_paper", {"paper_id": papers[0]["id"]}))
    assert paper["title"] == COUNT and papers[0]["passage"] in paper["abstract"]
    assert set(paper) == {"id", "title", "abstract", "authors", "year", "url", "code_url"}


def test_search_says_which_filters_no_paper_passes(server):
    found = result(call(server.url, "search_papers", {"query": COUNT_Q, "year_from": 2100, "author": "  no  body "}))
    assert (
        found["papers"] == []
        and found["note"] == "No paper in the collection matches year_from=2100, author='no body'."
    )


def test_ask_cites_references_that_quote_the_papers(server):
    ans = result(call(server.url, "ask_papers", {"question": ZEROTA_Q}))
    assert ans["covered"] and ans["backend"] == "extractive" and ans["question"] == ZEROTA_Q
    refs = ans["references"]
    assert refs[0]["title"] == ZEROTA
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", ans["answer"])}
    assert markers == {r["number"] for r in refs} == set(range(1, len(refs) + 1))  # every [n] has its reference
    for r in refs:
        abstract = result(call(server.url, "get_paper", {"paper_id": r["paper_id"]}))["abstract"]
        assert r["quote"] in abstract and r["sentences"]
        assert all(s in abstract and s in ans["answer"] for s in r["sentences"])  # extractive: quoted verbatim
        assert r["page"] is None  # abstract-only papers
    # a follow-up: "it" is the paper of the conversation passed as history, and some other paper without it
    history = [{"role": "user", "content": ZEROTA_Q}, {"role": "assistant", "content": ans["answer"]}]
    follow = result(call(server.url, "ask_papers", {"question": "What loss does it add?", "history": history}))
    assert follow["covered"] and follow["references"][0]["title"] == ZEROTA
    alone = result(call(server.url, "ask_papers", {"question": "What loss does it add?"}))
    assert [r["title"] for r in alone["references"]][:1] != [ZEROTA]


def test_a_question_outside_the_collection_is_not_covered(server):
    ans = result(call(server.url, "ask_papers", {"question": OFF_TOPIC}))
    assert ans["covered"] is False and ans["references"] == [] and not re.search(r"\[\d+\]", ans["answer"])
    assert result(call(server.url, "search_papers", {"query": OFF_TOPIC, "k": 3}))["covered"] is False


@pytest.mark.parametrize(
    "tool, args, message",
    [
        ("search_papers", {"query": "clip", "k": 0}, "k must be a whole number from 1 to 50, not 0"),
        ("search_papers", {"query": "clip", "k": "many"}, "Input validation error: 'many' is not of type 'integer'"),
        ("search_papers", {"query": "clip", "year_from": 2020.5}, "2020.5 is not valid under any of the given schemas"),
        ("search_papers", {"k": 3}, "'query' is a required property"),
        ("search_papers", {"query": "why " * 600}, "query: the question is 2400 characters long; the limit is 2000"),
        ("ask_papers", {"question": "   "}, "question: the question is empty"),
        (
            "ask_papers",
            {"question": "why?", "history": [{"role": "robot", "content": "hi"}]},
            "'robot' is not one of ['user', 'assistant']",
        ),
        ("ask_papers", {"question": "why?", "backend": "openai"}, "('backend' was unexpected)"),
        (
            "get_paper",
            {"paper_id": "no-such-paper"},
            "no paper with id 'no-such-paper' in the collection; search_papers gives the ids",
        ),
        ("add_papers", {"path": "/etc/passwd"}, "Unknown tool for this Gradio app: add_papers"),
    ],
)
def test_bad_arguments_get_clear_tool_errors(server, tool, args, message):
    assert message in error_text(call(server.url, tool, args))


def test_compare_papers_gives_a_cited_table(server):
    tools = listed(server.url)
    schema = tools["compare_papers"].inputSchema
    assert schema["required"] == ["aspects"] and {"paper_ids", "query", "k"} <= set(schema["properties"])
    assert set(tools["compare_papers"].outputSchema["required"]) == {"aspects", "rows", "backend", "note"}
    papers = result(call(server.url, "search_papers", {"query": "training-free hallucination decoding", "k": 2}))
    ids = [p["id"] for p in papers["papers"]]
    aspects = ["Does it need training?", "Which benchmarks is it evaluated on?"]
    got = result(call(server.url, "compare_papers", {"aspects": aspects, "paper_ids": ids}))
    assert got["aspects"] == aspects and [r["paper"]["id"] for r in got["rows"]] == ids
    for row in got["rows"]:
        abstract = result(call(server.url, "get_paper", {"paper_id": row["paper"]["id"]}))["abstract"]
        assert [c["aspect"] for c in row["cells"]] == aspects
        for c in row["cells"]:
            assert (c["text"] == "not stated") != c["stated"]
            assert all(q["quote"] in abstract and q["page"] is None for q in c["citations"])
            assert bool(c["citations"]) == c["stated"]
    assert "no paper with id, citation key or title 'no-such-paper'" in error_text(
        call(server.url, "compare_papers", {"aspects": aspects, "paper_ids": ["no-such-paper"]})
    )
    assert "at least one aspect" in error_text(call(server.url, "compare_papers", {"aspects": [], "query": "clip"}))


def test_sse_transport_serves_the_same_tools(server):
    assert set(listed(server.url, "sse")) == TOOLS
    over_sse = result(call(server.url, "search_papers", {"query": COUNT_Q, "k": 2}, "sse"))
    assert over_sse == result(call(server.url, "search_papers", {"query": COUNT_Q, "k": 2}))


def raw_http(url: str, endpoint: str, data: list) -> tuple[str, object]:
    """POST /gradio_api/call/<endpoint>, then read its event stream (what docs/api.md does with curl)."""
    req = urllib.request.Request(
        f"{url}/gradio_api/call/{endpoint}",
        data=json.dumps({"data": data}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        event_id = json.load(r)["event_id"]
    with urllib.request.urlopen(f"{url}/gradio_api/call/{endpoint}/{event_id}", timeout=60) as r:
        text = r.read().decode()
    event = re.findall(r"^event: (\w+)$", text, re.M)[-1]
    return event, json.loads(re.findall(r"^data: (.*)$", text, re.M)[-1])


def test_the_same_operations_over_plain_http(server):
    client = Client(server.url, verbose=False)
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert [p["parameter_name"] for p in api["/search_papers"]["parameters"]] == [
        "query",
        "k",
        "year_from",
        "year_to",
        "author",
    ]
    assert set(api["/ask_papers"]["returns"][0]["type"]["required"]) >= {"answer", "covered", "references"}
    via_mcp = result(call(server.url, "search_papers", {"query": COUNT_Q, "k": 3}))
    assert client.predict(COUNT_Q, k=3, api_name="/search_papers") == via_mcp
    event, data = raw_http(server.url, "search_papers", [COUNT_Q, 3, None, None, None])
    assert event == "complete" and data == [via_mcp]
    event, data = raw_http(server.url, "ask_papers", [OFF_TOPIC, None])
    assert event == "complete" and data[0]["covered"] is False
    event, data = raw_http(server.url, "get_paper", ["no-such-paper"])
    assert event == "error" and "no paper with id 'no-such-paper'" in data["error"]
    with pytest.raises(Exception, match="k must be a whole number from 1 to 50"):
        client.predict("clip", k=500, api_name="/search_papers")


def test_public_mode_serves_read_only_tools(built_index, model_cache, tmp_path):
    """A public deployment (ASSISTANT_PUBLIC, plus ASSISTANT_ALLOW_UPLOADS=0 as the README asks):
    no tool or endpoint can add papers or change a setting."""
    app = start_app(built_index, model_cache, tmp_path, ASSISTANT_PUBLIC="1", ASSISTANT_ALLOW_UPLOADS="0")
    try:
        tools = listed(app.url)
        assert set(tools) == TOOLS and all(t.annotations.readOnlyHint for t in tools.values())
        settings_words = set(Settings.model_fields) | {"path", "file", "papers", "settings"}
        for t in tools.values():
            assert not settings_words & set(t.inputSchema["properties"]), t.name
        for name in ("add_papers", "api_ask", "apply_settings", "forget_key"):
            assert "Unknown tool" in error_text(call(app.url, name, {}))
        assert "('api_key' was unexpected)" in error_text(
            call(app.url, "ask_papers", {"question": COUNT_Q, "api_key": "sk-x"})
        )
        assert result(call(app.url, "ask_papers", {"question": COUNT_Q}))["references"][0]["title"] == COUNT
        api = Client(app.url, verbose=False).view_api(return_format="dict", print_info=False)
        assert set(api["named_endpoints"]) == {
            "/ask",
            "/search",
            "/search_papers",
            "/ask_papers",
            "/get_paper",
            "/compare_papers",
        }
        too_many = {"aspects": [f"aspect {i}?" for i in range(7)], "query": "hallucination"}
        assert "at most 6 aspects per table on this server" in error_text(call(app.url, "compare_papers", too_many))
        long = {"aspects": ["why " * 100], "query": "hallucination"}
        assert "at most 300 characters on this server" in error_text(call(app.url, "compare_papers", long))
        got = result(
            call(app.url, "compare_papers", {"aspects": ["What counting benchmark?"], "query": COUNT_Q, "k": 2})
        )
        assert got["backend"] == "extractive" and len(got["rows"]) == 2
        assert api["unnamed_endpoints"] == {}
    finally:
        app.stop()


def test_public_mode_keeps_the_tools_read_only_even_with_uploads(pa):
    """With `public` on, uploads stay in the visitor's session (the /add_papers event is the web
    page's), and the MCP server still lists only the three read-only tools."""
    from ui import mcp as tools

    view = pa.using(public=True, allow_uploads=True)
    names = {f.api_name for f in build_app(view).fns.values() if f.api_visibility == "public"}
    assert {"search_papers", "ask_papers", "get_paper", "compare_papers"} <= names
    assert set(tools.TOOLS) == {"search_papers", "ask_papers", "get_paper", "compare_papers"}


def test_the_mcp_setting_turns_the_endpoint_off(pa):
    assert Settings.load(env={}).mcp is True
    assert Settings.load(env={"ASSISTANT_MCP": "off"}).mcp is False
    demo = build_app(pa.using(mcp=False))
    port = free_port()
    launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for path in ("/gradio_api/mcp/", "/gradio_api/mcp/sse"):
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(
                    urllib.request.Request(url + path, headers={"Accept": "text/event-stream"}), timeout=10
                )
            assert e.value.code == 404
        # the HTTP API is still there
        assert Client(url, verbose=False).predict(COUNT_Q, api_name="/search_papers")["papers"][0]["title"] == COUNT
    finally:
        demo.close()


def test_without_the_mcp_package_the_app_starts_without_the_endpoint(pa, monkeypatch, caplog):
    from ui import mcp as tools

    monkeypatch.setitem(__import__("sys").modules, "mcp", None)  # `import mcp` now raises ImportError
    assert tools.launch_options(build_app(pa), pa.settings) == {"mcp_server": False}
    assert "the `mcp` package is not installed" in caplog.text
