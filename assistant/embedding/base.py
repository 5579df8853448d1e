"""What every embedder offers: normalised vectors for passages and (cached) queries, its
dimension, and names for the weights (`model_key` keys the vector cache; `identity` is
checked against the index, so vectors of two models never meet in one index).

Embedders are LlamaIndex embedding models too, so a LlamaIndex index can use them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr


class EmbeddingError(RuntimeError):
    """The configured embedding model cannot be used; the message says why."""


class Embedder(BaseEmbedding):
    _calls: int = PrivateAttr(default=0)
    _query_cached: Any = PrivateAttr(default=None)

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self._query_cached = lru_cache(maxsize=2048)(self._embed_one)

    # -- what a subclass provides ------------------------------------------------------------
    def _embed(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors, shape (len(texts), dim), for a non-empty list."""
        raise NotImplementedError

    @property
    def dim(self) -> int:
        raise NotImplementedError

    @property
    def model_key(self) -> str:
        """Names these exact weights (the vector cache keys vectors by it)."""
        raise NotImplementedError

    @property
    def identity(self) -> str:
        """What made the vectors, as recorded with an index (stable across reinstalls)."""
        raise NotImplementedError

    def load(self) -> None:
        """Load the model now (an EmbeddingError says why it cannot be); else on first use."""

    # -- shared ------------------------------------------------------------------------------
    @property
    def calls(self) -> int:
        """Texts embedded so far (the tests use it to prove that re-ingest embeds nothing)."""
        return self._calls

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._calls += len(texts)
        return self._embed(list(texts))

    def _embed_one(self, text: str) -> tuple[float, ...]:
        return tuple(self.embed([text])[0].tolist())

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self._query_cached(text), dtype=np.float32)

    # LlamaIndex interface
    def _get_query_embedding(self, query: str) -> list[float]:
        return list(self._query_cached(query))

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
