"""The embedding cache: vectors by text hash, per model, never in the way."""

import numpy as np

from assistant.embedding import MiniLMEmbedding
from assistant.index.vectors import VectorCache


def test_cached_vectors_are_the_models_and_only_new_texts_are_embedded(tmp_path, model_cache):
    model = MiniLMEmbedding(cache_dir=model_cache)
    cache = VectorCache(tmp_path / "v.sqlite", model.model_key, model.dim)
    texts = ["sparse adapters for accented speech", "graph transformers for molecules"]
    first, n = cache.embed(model, texts)
    assert n == 2 and np.allclose(first, model.embed(texts), atol=1e-6)

    calls = model.calls
    again, n = VectorCache(tmp_path / "v.sqlite", model.model_key, model.dim).embed(model, texts + ["sourdough"])
    assert n == 1 and model.calls == calls + 1  # a new process reuses the file: only the new text is embedded
    assert np.array_equal(again[:2], first)

    other = VectorCache(tmp_path / "v.sqlite", "another-model", model.dim)  # other weights never share vectors
    assert other.get(texts) == [None, None]


def test_an_unusable_cache_file_only_costs_the_cache(tmp_path, model_cache):
    model = MiniLMEmbedding(cache_dir=model_cache)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = VectorCache(blocker / "v.sqlite", model.model_key, model.dim)  # parent is a file: cannot be created
    vectors, n = cache.embed(model, ["a text", "another"])
    assert n == 2 and vectors.shape == (2, 384) and np.all(np.isfinite(vectors))
