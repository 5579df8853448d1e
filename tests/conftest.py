"""Shared fixtures: the real embedding model, a real (embedded) Chroma, tmp directories.

The bundled collection is indexed once per session (`built_index`); tests that change
an index build their own small one.  The embedding model is exported to ONNX once per
session, into the session's own user cache ($XDG_CACHE_HOME), the default model cache.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# The tests never reach a model hub: the model comes from the bundled-model extra, and the Hub
# route's tests start their own (tests/hub_server.py) and clear this in their subprocesses.
os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402

from assistant import PaperAssistant, Settings  # noqa: E402

DATA = Path(__file__).parent / "data"
DEV = Path(__file__).parent.parent / "examples" / "dev_questions.jsonl"


@pytest.fixture(scope="session", autouse=True)
def user_cache(tmp_path_factory) -> Path:
    """The user's cache directory for this session ($XDG_CACHE_HOME; the default model cache is in it)."""
    d = tmp_path_factory.mktemp("user-cache")
    os.environ["XDG_CACHE_HOME"] = str(d)
    return d


@pytest.fixture(scope="session")
def model_cache(user_cache) -> Path:
    """The default model cache: every test that embeds shares its one export."""
    from assistant.embedding import default_cache

    return default_cache()


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, model_cache) -> Path:
    """An index of the bundled collection, built once; copy it before changing it."""
    from assistant.settings import BUNDLED_COLLECTION

    d = tmp_path_factory.mktemp("bundled") / "index"
    built = PaperAssistant(Settings.load(env={}, index_dir=str(d), model_cache=str(model_cache)))
    built.add_papers(BUNDLED_COLLECTION)  # a new index starts empty: the bundled papers are added explicitly
    built.store.close()
    return d


@pytest.fixture(scope="session")
def pa(built_index, model_cache) -> PaperAssistant:
    """A read-only assistant over the bundled collection (tests must not change it)."""
    return PaperAssistant(Settings.load(env={}, index_dir=str(built_index), model_cache=str(model_cache)))


@pytest.fixture(scope="module")
def server(built_index, model_cache, tmp_path_factory, request):
    """`python app.py` over a private copy of the bundled index, one per test module."""
    from ui_server import start_app

    s = start_app(built_index, model_cache, tmp_path_factory.mktemp(request.module.__name__))
    yield s
    s.stop()


@pytest.fixture
def fresh_pa(built_index, model_cache, tmp_path):
    """A private copy of the bundled index, safe to change."""
    d = tmp_path / "index"
    shutil.copytree(built_index, d)
    return PaperAssistant(Settings.load(env={}, index_dir=str(d), model_cache=str(model_cache)))


@pytest.fixture
def empty_pa(model_cache, tmp_path) -> PaperAssistant:
    """An assistant over an empty index (no bundled collection)."""
    return PaperAssistant(
        Settings.load(env={}, index_dir=str(tmp_path / "index"), model_cache=str(model_cache), collection="")
    )


@pytest.fixture
def small_papers():
    return [
        {
            "id": "p1",
            "title": "Sparse Mixture of Adapters for Speech Recognition",
            "abstract": "We adapt a frozen speech encoder to accented English with a sparse mixture of adapters. "
            "Each adapter specialises on one accent group. Word error rate drops by 12% on L2-ARCTIC.",
            "authors": ["Ada Lovelace", "Alan Turing"],
            "year": 2024,
            "url": "https://example.org/p1",
        },
        {
            "id": "p2",
            "title": "Graph Transformers for Molecular Property Prediction",
            "abstract": "We study graph transformers that predict molecular properties for drug discovery. "
            "Positional encodings from random walks matter most. Code: https://github.com/example/gt-mol.",
            "year": "2023",
        },
        {
            "title": "Tiny Recipes for Bread Baking",
            "abstract": "Sourdough starters need regular feeding with flour and water. Hydration controls crumb structure.",
        },
    ]


@pytest.fixture(scope="session")
def bundled_vectors(built_index) -> Path:
    """The embedding cache filled while the bundled index was built: another index of the
    bundled papers (another directory, a Chroma server) reuses these real vectors."""
    return built_index / "_cache" / "vectors.sqlite"


@pytest.fixture
def chroma_server(tmp_path):
    """A real `chroma run` server on 127.0.0.1 with its own data directory, stopped at the end."""
    from chroma_server import ChromaServer

    server = ChromaServer(tmp_path / "chroma-data").start()
    yield server
    server.stop()
