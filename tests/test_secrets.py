"""An API key never leaves the process: not in logs, error messages, the web app's
answers and errors, exported answers, the eval JSON, or the files of the index.

One run uses a fake key against a stub OpenAI-compatible server that refuses it (401)
and echoes it back in its error message, through every surface; then all of the output
is searched for the key and for pieces of it.
"""

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
PIECES = [KEY, KEY[8:20], KEY[-10:], "SECRETsecret"]
DEV = Path(__file__).parent.parent / "examples" / "dev_questions.jsonl"


def _refusing_stub() -> StubOpenAI:
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}. You can find your key at ...",
                                 "type": "invalid_request_error", "code": "invalid_api_key"}}).encode()
    return StubOpenAI([(401, {}, body, None)] * 200)


def _leaks(text: str) -> list[str]:
    return [p for p in PIECES if p in text]


@pytest.fixture
def stub():
    s = _refusing_stub()
    yield s
    s.close()


def test_fake_key_appears_nowhere(stub, built_index, model_cache, tmp_path):
    import shutil

    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env.update(ASSISTANT_INDEX_DIR=str(index), ASSISTANT_MODEL_CACHE=str(model_cache), OPENAI_API_KEY=KEY,
               OPENAI_BASE_URL=stub.url, ASSISTANT_BACKEND="openai", ASSISTANT_MODEL="stub-model",
               ASSISTANT_MAX_RETRIES="0")
    outputs: dict[str, str] = {}

    def cli(name, *args):
        p = subprocess.run([sys.executable, "-m", "assistant.cli", "-v", *args], capture_output=True, text=True,
                           env=env, timeout=300)
        outputs[name] = p.stdout + "\n" + p.stderr
        return p

    p = cli("ask", "ask", "Which work aligns a frozen GPT-2 with CLIP to caption videos?")
    assert p.returncode == 0 and "refused the API key (HTTP 401)" in p.stdout  # the fault is named ...
    p = cli("ask-json", "ask", "--json", "What loss keeps ZeroTA's moment masks apart?")
    assert "401" in json.loads(p.stdout)["fallback"]
    cli("info", "info")
    cli("settings", "settings")
    cli("settings-json", "settings", "--json")
    questions = tmp_path / "five.jsonl"
    questions.write_text("".join(line for line in DEV.read_text().splitlines(True)[:5]))
    cli("eval", "eval", str(questions), "--json", str(tmp_path / "eval.json"))
    outputs["eval.json"] = (tmp_path / "eval.json").read_text()

    app = start_app(built_index, model_cache, tmp_path / "app", OPENAI_API_KEY=KEY, OPENAI_BASE_URL=stub.url,
                    ASSISTANT_BACKEND="openai", ASSISTANT_MODEL="stub-model", ASSISTANT_MAX_RETRIES="0")
    try:
        from gradio_client import Client

        client = Client(app.url, verbose=False)
        answer = client.predict("Which work aligns a frozen GPT-2 with CLIP to caption videos?", api_name="/ask")
        outputs["app /ask"] = answer
        assert "[1]" in answer and "401" in answer  # the exported answer names the fault, not the key
        outputs["app /search"] = json.dumps(client.predict("contrastive decoding", api_name="/search"))
        outputs["app config"] = json.dumps(client.view_api(return_format="dict", print_info=False))
    finally:
        app.stop()
    outputs["app log"] = app.output()

    for root in (index, app.index_dir):  # nothing persisted holds the key either
        for f in root.rglob("*"):
            if f.is_file():
                outputs[str(f)] = f.read_bytes().decode("utf-8", errors="replace")

    assert len(stub.requests) >= 3 and all(r["auth"] == f"Bearer {KEY}" for r in stub.requests)  # it was used
    leaks = {name: _leaks(text) for name, text in outputs.items() if _leaks(text)}
    assert leaks == {}
