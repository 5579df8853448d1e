"""A sentence-transformers model from a local directory, run in-process (nothing is downloaded)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import PrivateAttr

from assistant.embedding.base import Embedder, EmbeddingError


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
