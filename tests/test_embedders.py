"""embed_model is real: the bundled ONNX MiniLM, a local sentence-transformers directory, or an
OpenAI-compatible /v1/embeddings server (a real llama.cpp server here) -- and an index is
never queried with vectors of another embedder."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from servers import MODEL_ALIAS, LlamaServer

from assistant import PaperAssistant, Settings
from assistant.embedding import (
    EmbeddingError,
    MiniLMEmbedding,
    OpenAIEmbedding,
    SentenceTransformerEmbedding,
    model_dir,
)
from assistant.settings import SettingsError

pytestmark = pytest.mark.server  # loads sentence-transformers, starts llama.cpp: left out of `make check`


def settings(tmp_path, model_cache, **kw) -> Settings:
    return Settings.load(env={}, index_dir=str(tmp_path / "index"), model_cache=str(model_cache), collection="", **kw)


def test_a_sentence_transformers_directory_embeds_and_has_its_own_index(tmp_path, model_cache, small_papers):
    folder = tmp_path / "my-minilm"
    shutil.copytree(model_dir(), folder)  # a local sentence-transformers model directory
    pa = PaperAssistant(settings(tmp_path, model_cache, embed_model=str(folder)))
    assert isinstance(pa.embedder, SentenceTransformerEmbedding) and pa.info()["embedding"] == str(folder)
    pa.add_papers(small_papers)
    assert pa.search("graph transformers that predict molecular properties", k=1)[0].paper.id == "p2"
    onnx = MiniLMEmbedding(cache_dir=model_cache)  # the same weights, run another way: the same vectors
    text = ["Sparse mixture of adapters for accented speech"]
    np.testing.assert_allclose(pa.embedder.embed(text), onnx.embed(text), atol=1e-5)
    bundled = PaperAssistant(settings(tmp_path, model_cache))
    assert bundled.store.root != pa.store.root and not bundled.papers  # another index, never mixed


def test_an_unknown_embed_model_is_refused_with_what_it_can_be(tmp_path, model_cache):
    with pytest.raises(Exception, match="neither the bundled all-MiniLM-L6-v2, a local sentence-transformers"):
        PaperAssistant(settings(tmp_path, model_cache, embed_model="no-such-model"))
    with pytest.raises(SettingsError, match="embed_model"):
        settings(tmp_path, model_cache, embed_model="")


def test_an_openai_compatible_embedding_server(tmp_path, model_cache, small_papers):
    server = LlamaServer(tmp_path, embedding=True).start()
    try:
        pa = PaperAssistant(settings(tmp_path, model_cache, embed_base_url=server.url, embed_model=MODEL_ALIAS))
        assert isinstance(pa.embedder, OpenAIEmbedding) and pa.embedder.dim == 576  # SmolLM2-135M's hidden size
        report = pa.add_papers(small_papers)
        assert len(report.added) == 3 and report.passages_embedded == 3
        assert pa.search("sparse mixture of adapters for accented speech recognition", k=3)[0].paper.id == "p1"
        vectors = pa.embedder.embed(["a text", "another text"])
        assert vectors.shape == (2, 576) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        # the same index_dir with the bundled model is another index: the two never meet
        bundled = PaperAssistant(settings(tmp_path, model_cache))
        assert bundled.store.root != pa.store.root and not bundled.papers
    finally:
        server.stop()
    with pytest.raises(EmbeddingError, match="embedding server at .* failed"):  # named at start-up
        PaperAssistant(settings(tmp_path, model_cache, embed_base_url=server.url, embed_model=MODEL_ALIAS, timeout=5))
