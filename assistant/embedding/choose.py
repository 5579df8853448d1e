"""The embedder the settings ask for."""

from __future__ import annotations

from pathlib import Path

from assistant.embedding.base import Embedder
from assistant.embedding.minilm import MODEL_NAME, MiniLMEmbedding
from assistant.embedding.others import EmbeddingError, OpenAIEmbedding, SentenceTransformerEmbedding
from assistant.settings import Settings


def create(settings: Settings) -> Embedder:
    """embed_base_url set: that server's model `embed_model`; else the bundled MiniLM for its
    name, or the sentence-transformers model in the directory `embed_model` names."""
    name = settings.embed_model.strip()
    if settings.embed_base_url:
        return OpenAIEmbedding(
            settings.embed_base_url, name, settings.secret("embed_api_key"), settings.timeout, settings.embed_batch
        )
    if name in (MODEL_NAME, f"sentence-transformers/{MODEL_NAME}"):
        cache = Path(settings.model_cache or Path(settings.index_dir) / "_models")
        return MiniLMEmbedding(cache_dir=cache, batch_size=settings.embed_batch)
    if Path(name).expanduser().is_dir():
        return SentenceTransformerEmbedding(name, batch_size=settings.embed_batch)
    raise EmbeddingError(
        f"embed_model {name!r} is neither the bundled {MODEL_NAME}, a local sentence-transformers "
        "model directory, nor served by an embedding server (set embed_base_url)"
    )
