"""One process per embedded index, and the documented move to a Chroma server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from assistant import PaperAssistant, Settings
from assistant.settings import BUNDLED_COLLECTION

pytestmark = pytest.mark.server  # starts processes: left out of `make check`

GPT2 = "Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?"
ZEROTA = "Zero-Shot Dense Video Captioning by Jointly Optimizing Text and Moment"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    return env | extra


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_a_second_process_cannot_write_an_embedded_index_another_is_serving(
    built_index, model_cache, tmp_path, small_papers
):
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    serving = PaperAssistant(Settings.load(env={}, index_dir=str(index), model_cache=str(model_cache)))
    papers = tmp_path / "new.jsonl"
    papers.write_text("\n".join(__import__("json").dumps(p) for p in small_papers), encoding="utf-8")
    env = clean_env(ASSISTANT_INDEX_DIR=str(index), ASSISTANT_MODEL_CACHE=str(model_cache))
    p = cli("ingest", str(papers), env=env)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "open in another process" in p.stderr and "Chroma server" in p.stderr
    assert len(serving.papers) == 80 and serving.search(GPT2, k=1)[0].paper.title == ZEROTA  # nothing diverged
    # once the server is gone, the same command works and the new papers are there
    serving.store.close()
    del serving
    p = cli("ingest", str(papers), env=env)
    assert p.returncode == 0, p.stderr
    assert "3 added" in p.stdout
    listed = cli("papers", env=env)
    assert listed.returncode == 0 and "Sparse Mixture of Adapters" in listed.stdout


def test_the_readme_recipe_moves_an_embedded_collection_to_a_chroma_server(
    built_index, model_cache, tmp_path, chroma_server
):
    """docs/scaling.md: keep index_dir, set ASSISTANT_CHROMA_URL, ingest the same files again."""
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    env = clean_env(
        ASSISTANT_INDEX_DIR=str(index), ASSISTANT_MODEL_CACHE=str(model_cache), ASSISTANT_CHROMA_URL=chroma_server.url
    )
    p = cli("-v", "ingest", str(BUNDLED_COLLECTION), "--json", env=env)
    assert p.returncode == 0, p.stderr
    assert "writing the 80 stored papers into the Chroma server" in p.stderr
    assert "0 of them embedded" in p.stderr  # the move re-embeds nothing: the vectors come from the cache
    report = __import__("json").loads(p.stdout)
    assert len(report["unchanged"]) == 80 and not report["added"]
    s = cli("search", "pairwise temporal IoU loss for moment masks", "-k", "1", env=env)
    assert s.returncode == 0 and ZEROTA in s.stdout, s.stderr
    # the server holds the collection now: an assistant with a fresh index_dir reads it from there
    other = PaperAssistant(
        Settings.load(
            env={},
            index_dir=str(tmp_path / "other"),
            model_cache=str(model_cache),
            chroma_url=chroma_server.url,
            collection="",
        )
    )
    assert len(other.papers) == 80 and other.embedder.calls == 0
    assert other.store.counts()["papers"] == 80
    info = cli("info", env=env)
    assert info.returncode == 0 and '"papers": 80' in info.stdout
