"""An API key never leaves the process, and credentials inside URLs are never shown: not in
logs, error messages, the web app's answers and errors, exported answers, the eval JSON, or
the files of the index.

One run uses a fake key, a base URL with `user:password@` and `?api-key=` parts, and a Chroma
server (a real `chroma run`) reached through a `user:password@` URL, against a stub
OpenAI-compatible server that refuses the key (401) and echoes the key and the URL back in its
error message, through every surface (CLI, web app, then the same with the Chroma server
stopped); then all of the output is searched for the secrets and for pieces of them.
"""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from servers import StubOpenAI
from ui_server import start_app

pytestmark = pytest.mark.server  # starts processes: left out of `make check`

KEY = "sk-proj-SECRETsecret0123456789abcdefXYZ"
URL_PASSWORD = "urlPa55-7f3k2q"
QUERY_KEY = "qk-9d8e7f6a5b4c"
CHROMA_PASSWORD = "chromaPa55-x81v"
PIECES = [KEY, KEY[8:20], KEY[-10:], "SECRETsecret", URL_PASSWORD, QUERY_KEY, CHROMA_PASSWORD]
DEV = Path(__file__).parent.parent / "examples" / "dev_questions.jsonl"


def _base_url(port: int) -> str:
    return f"http://user:{URL_PASSWORD}@127.0.0.1:{port}/v1?api-key={QUERY_KEY}"


def _refusing_stub() -> StubOpenAI:
    body = json.dumps(
        {
            "error": {
                "message": f"Incorrect API key provided: {KEY} for {_base_url(0)}. You can find your key at ...",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        }
    ).encode()
    return StubOpenAI([(401, {}, body, None)] * 200)


def _leaks(text: str) -> list[str]:
    return [p for p in PIECES if p in text]


@pytest.fixture
def stub():
    s = _refusing_stub()
    yield s
    s.close()


def test_fake_key_and_url_credentials_appear_nowhere(stub, chroma_server, built_index, model_cache, tmp_path):
    import shutil

    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    secrets = dict(  # the configuration the CLI and the app are run with: every credential there is
        OPENAI_API_KEY=KEY,
        OPENAI_BASE_URL=_base_url(stub.server.server_address[1]),
        ASSISTANT_BACKEND="openai",
        ASSISTANT_MODEL="stub-model",
        ASSISTANT_MAX_RETRIES="0",
        ASSISTANT_CHROMA_URL=f"http://owner:{CHROMA_PASSWORD}@127.0.0.1:{chroma_server.port}",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env.update(ASSISTANT_INDEX_DIR=str(index), ASSISTANT_MODEL_CACHE=str(model_cache), **secrets)
    outputs: dict[str, str] = {}

    def cli(name, *args):
        p = subprocess.run(
            [sys.executable, "-m", "assistant.cli", "-v", *args], capture_output=True, text=True, env=env, timeout=300
        )
        outputs[name] = p.stdout + "\n" + p.stderr
        return p

    p = cli("ask", "ask", "Which work aligns a frozen GPT-2 with CLIP to caption videos?")
    assert p.returncode == 0 and "refused the API key (HTTP 401)" in p.stdout  # the fault is named ...
    p = cli("ask-json", "ask", "--json", "What loss keeps ZeroTA's moment masks apart?")
    assert "401" in json.loads(p.stdout)["fallback"]
    assert "chroma" in json.loads(cli("info", "info").stdout)  # served from the Chroma server
    p = cli("search", "search", "--json", "contrastive decoding")
    assert p.returncode == 0 and json.loads(p.stdout)
    cli("settings", "settings")
    cli("settings-json", "settings", "--json")
    questions = tmp_path / "five.jsonl"
    questions.write_text("".join(line for line in DEV.read_text().splitlines(True)[:5]))
    cli("eval", "eval", str(questions), "--json", str(tmp_path / "eval.json"))
    outputs["eval.json"] = (tmp_path / "eval.json").read_text()

    app = start_app(built_index, model_cache, tmp_path / "app", **secrets)
    try:
        from gradio_client import Client

        client = Client(app.url, verbose=False)
        answer = client.predict("Which work aligns a frozen GPT-2 with CLIP to caption videos?", api_name="/ask")
        outputs["app /ask"] = answer
        assert "[1]" in answer and "401" in answer  # the exported answer names the fault, not the key
        outputs["app /search"] = json.dumps(client.predict("contrastive decoding", api_name="/search"))
        outputs["app config"] = json.dumps(client.view_api(return_format="dict", print_info=False))
        chroma_server.stop()  # errors, shown in full on a private deployment: the URL still without its password
        for api in ("/ask", "/search"):
            with pytest.raises(Exception) as e:
                client.predict("Which work aligns a frozen GPT-2 with CLIP?", api_name=api)
            outputs[f"app {api} error"] = str(e.value)
            assert "Chroma server at http://***@127.0.0.1" in str(e.value), str(e.value)
    finally:
        app.stop()
    outputs["app log"] = app.output()
    p = cli("search-error", "search", "contrastive decoding")
    assert p.returncode == 2 and "cannot reach the Chroma server at http://***@127.0.0.1" in p.stderr, p.stderr

    for root in (index, app.index_dir, chroma_server.path):  # nothing persisted holds a secret either
        for f in root.rglob("*"):
            if f.is_file():
                outputs[str(f)] = f.read_bytes().decode("utf-8", errors="replace")

    # The credentials were used: the key, or (httpx sends a URL's user:password as Basic auth, in place of
    # the key) the URL's own.
    basic = "Basic " + base64.b64encode(f"user:{URL_PASSWORD}".encode()).decode()
    assert len(stub.requests) >= 3 and all(r["auth"] in (f"Bearer {KEY}", basic) for r in stub.requests)
    leaks = {name: _leaks(text) for name, text in outputs.items() if _leaks(text)}
    assert leaks == {}
