"""HTTP faults of an OpenAI-compatible endpoint, from a scripted stub on 127.0.0.1.

A healthy llama.cpp server never answers 401/429/500 or sends a broken stream, so these
come from a stub (the real server's own faults -- stopped, slow, wrong model -- are in
test_llm_server.py).  Every fault must give a message naming the cause, never the key,
a bounded number of attempts, and the extractive answer.
"""

import json
import time

import pytest
from servers import StubOpenAI, closing_maker, free_port, sse

pytestmark = pytest.mark.server  # starts processes: left out of `make check`

KEY = "sk-proj-FAKEKEY0123456789abcdefXYZ"
Q = "Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?"


@pytest.fixture
def stub():
    yield from closing_maker(lambda *script: StubOpenAI(list(script)))


def ask(pa, url, **kw):
    view = pa.using(
        **{
            "backend": "openai",
            "base_url": url,
            "api_key": KEY,
            "model": "stub-model",
            "max_retries": 1,
            "timeout": 10,
            "min_support": 0,
            **kw,
        }
    )  # transport faults here, not claim support
    t = time.perf_counter()
    ans = view.ask(Q)
    return ans, time.perf_counter() - t


def assert_fallback(ans, *phrases):
    assert ans.backend == "extractive" and ans.citations, ans.text
    for p in phrases:
        assert p in ans.fallback, ans.fallback
    assert ans.fallback.startswith("the openai backend failed:") and ans.text.startswith("From the abstracts")
    blob = json.dumps(ans.to_dict())
    assert KEY not in blob and KEY[:12] not in blob and KEY[-8:] not in blob


def json_error(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "x", "code": None}}).encode()


def test_a_streamed_answer_from_the_stub_is_verified_and_carries_the_key(pa, stub):
    s = stub((200, {}, sse("It aligns GPT-2 ", "with CLIP ", "[1]", " and [9]."), None))
    ans, _ = ask(pa, s.url)
    assert ans.backend == "openai" and ans.model == "stub-model" and ans.text == "It aligns GPT-2 with CLIP [1]."
    assert s.requests[0]["auth"] == f"Bearer {KEY}" and s.requests[0]["body"]["stream"] is True


def test_401_names_the_key_problem_without_the_key_and_is_not_retried(pa, stub):
    s = stub((401, {}, json_error(f"Incorrect API key provided: {KEY[:12]}****{KEY[-8:]}."), None))
    ans, _ = ask(pa, s.url)
    assert_fallback(ans, f"the LLM server at {s.url} refused the API key (HTTP 401)")
    assert len(s.requests) == 1


def test_429_is_retried_a_bounded_number_of_times(pa, stub):
    s = stub(*[(429, {"Retry-After": "0"}, json_error("slow down"), None)] * 5)
    ans, _ = ask(pa, s.url)
    assert_fallback(ans, "rate limiting requests (HTTP 429)")
    assert len(s.requests) == 2  # max_retries=1


def test_429_then_success_gives_the_llm_answer(pa, stub):
    s = stub((429, {"Retry-After": "0"}, json_error("slow down"), None), (200, {}, sse("It uses CLIP [1]."), None))
    ans, _ = ask(pa, s.url)
    assert ans.backend == "openai" and ans.text == "It uses CLIP [1]." and len(s.requests) == 2


def test_500_is_retried_then_reported(pa, stub):
    s = stub(*[(500, {}, json_error("boom"), None)] * 3)
    ans, _ = ask(pa, s.url, max_retries=2)
    assert_fallback(ans, "had an internal error (HTTP 500)")
    assert len(s.requests) == 3


def test_400_shows_the_servers_reason(pa, stub):
    s = stub((400, {}, json_error("This model's maximum context length is 2048 tokens."), None))
    ans, _ = ask(pa, s.url)
    assert_fallback(ans, "rejected the request (HTTP 400): This model's maximum context length is 2048 tokens.")
    assert len(s.requests) == 1


@pytest.mark.parametrize(
    "body,length,cause",
    [
        (b"data: {not json\n\n", None, "sent a malformed answer stream"),
        (sse("ZeroTA ", "[1] and", finish=False), None, "was cut off before the end"),
        (sse("ZeroTA ", "[1] and", finish=False), 5000, "was cut off (peer closed connection"),
        (
            b'data: {"error": {"message": "model overloaded"}}\n\n',
            None,
            "reported an error mid-answer: model overloaded",
        ),
    ],
)
def test_broken_streams_are_named(pa, stub, body, length, cause):
    s = stub((200, {}, body, length))
    ans, _ = ask(pa, s.url)
    assert_fallback(ans, cause)


def test_endpoint_down(pa):
    url = f"http://127.0.0.1:{free_port()}/v1"
    ans, seconds = ask(pa, url)
    assert_fallback(ans, f"cannot reach the LLM server at {url}")
    assert seconds < 30  # a refused connection, not a wait for the timeout


def test_openai_backend_without_key_or_url_says_what_to_set(pa):
    view = pa.using(backend="openai")
    ans = view.ask(Q)
    assert_fallback(ans, "needs an API key (OPENAI_API_KEY) or the base URL")
    assert "OPENAI_API_KEY" in view.info()["backend_problem"]


def test_llm_complete_runs_one_plain_prompt(pa, stub):
    s = stub((200, {}, sse("1: yes\n", "2: no"), None))
    view = pa.using(backend="openai", base_url=s.url, api_key=KEY, model="stub-model")
    assert view.llm.complete("Grade these facts.") == "1: yes\n2: no"
    assert s.requests[0]["body"]["messages"] == [{"role": "user", "content": "Grade these facts."}]
    assert pa.llm is None
