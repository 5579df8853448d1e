"""Vectors from any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, a llama.cpp server
started with --embedding, Ollama, vLLM...)."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from pydantic import PrivateAttr

from assistant.embedding.base import Embedder, EmbeddingError, normalise
from assistant.net.redact import redact_url


class OpenAIEmbedding(Embedder):
    """Vectors from an OpenAI-compatible server's /v1/embeddings (normalised here: servers differ)."""

    base_url: str
    timeout: float = 60.0
    batch_size: int = 32
    _key: str = PrivateAttr(default="")
    _client: Any = PrivateAttr(default=None)
    _dim: int | None = PrivateAttr(default=None)

    def __init__(
        self, base_url: str, model: str, api_key: str = "", timeout: float = 60.0, batch_size: int = 32, **kw: Any
    ):
        super().__init__(
            model_name=model,
            base_url=base_url,
            timeout=timeout,
            batch_size=batch_size,
            embed_batch_size=batch_size,
            **kw,
        )
        self._key = api_key

    @classmethod
    def class_name(cls) -> str:
        return "OpenAIEmbedding"

    def _where(self) -> str:
        return redact_url(self.base_url)

    def _get_client(self):
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                api_key=self._key or "no-key-needed", base_url=self.base_url, max_retries=1, timeout=self.timeout
            )
        return self._client

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._embed(["dimension probe"]).shape[1])
        return self._dim

    @property
    def identity(self) -> str:
        u = urlsplit(self.base_url)
        return f"openai:{self.model_name}@{u.hostname or ''}{u.path.rstrip('/')}"

    @property
    def model_key(self) -> str:
        return "oai-" + hashlib.sha1(self.identity.encode()).hexdigest()[:12]

    def _embed(self, texts: list[str]) -> np.ndarray:
        import openai

        out = []
        for i in range(0, len(texts), self.batch_size):
            chunk = texts[i : i + self.batch_size]
            try:
                got = self._get_client().embeddings.create(model=self.model_name, input=chunk)
            except openai.APIError as e:
                raise EmbeddingError(
                    f"the embedding server at {self._where()} failed: {type(e).__name__}"
                    f"{' (HTTP ' + str(e.status_code) + ')' if hasattr(e, 'status_code') else ''}"
                ) from None
            vectors = [_pooled(d.embedding) for d in sorted(got.data, key=lambda d: d.index)]
            if len(vectors) != len(chunk):
                raise EmbeddingError(
                    f"the embedding server at {self._where()} returned {len(vectors)} vectors for {len(chunk)} texts"
                )
            out.append(normalise(np.asarray(vectors, dtype=np.float32)))
        vectors = np.concatenate(out)
        if self._dim is not None and vectors.shape[1] != self._dim:
            raise EmbeddingError(
                f"the embedding server at {self._where()} changed its vector size ({self._dim} -> {vectors.shape[1]})"
            )
        return vectors


def _pooled(embedding) -> list[float]:
    """One vector per text: a server running a model without a pooling layer (llama.cpp's,
    for a causal model) returns one vector per token; they are averaged, as
    sentence-transformers' mean pooling does."""
    if embedding and isinstance(embedding[0], list):
        return np.asarray(embedding, dtype=np.float32).mean(axis=0).tolist()
    return embedding
