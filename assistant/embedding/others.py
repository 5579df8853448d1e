"""Embedders besides the bundled one: a local sentence-transformers model directory, and
any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, a llama.cpp server started with
--embedding, Ollama, vLLM...)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from pydantic import PrivateAttr

from assistant.embedding.base import Embedder, normalise
from assistant.net.redact import redact_url


class EmbeddingError(RuntimeError):
    """The configured embedding model cannot be used; the message says why."""


class SentenceTransformerEmbedding(Embedder):
    """A sentence-transformers model from a local directory (nothing is downloaded)."""

    path: str
    batch_size: int = 32
    _model: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, path: str, batch_size: int = 32, **kw: Any):
        folder = Path(path).expanduser()
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise EmbeddingError(
                f"embed_model {path!r} is not a sentence-transformers model directory "
                "(no modules.json or config.json in it)"
            )
        super().__init__(
            model_name=str(folder.resolve()),
            path=str(folder.resolve()),
            batch_size=batch_size,
            embed_batch_size=batch_size,
            **kw,
        )

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerEmbedding"

    def _load(self):
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError:
                    raise EmbeddingError(
                        "a sentence-transformers model directory needs the sentence-transformers "
                        "package: pip install sentence-transformers"
                    ) from None
                self._model = SentenceTransformer(self.path, device="cpu", local_files_only=True)
        return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(dim())

    @property
    def identity(self) -> str:
        return f"sentence-transformers:{self.path}"

    @property
    def model_key(self) -> str:
        weights = sorted(Path(self.path).glob("*.safetensors")) + sorted(Path(self.path).glob("*.bin"))
        stamp = ";".join(f"{w.name}:{w.stat().st_size}:{int(w.stat().st_mtime)}" for w in weights)
        return "st-" + hashlib.sha1(f"{self.path}|{stamp}".encode()).hexdigest()[:12]

    def _embed(self, texts: list[str]) -> np.ndarray:
        vectors = self._load().encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


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
