"""The embedder the settings ask for."""

from __future__ import annotations

from pathlib import Path

from assistant.embedding.base import Embedder, EmbeddingError
from assistant.embedding.minilm import MODEL_NAME, MiniLMEmbedding
from assistant.embedding.openai_endpoint import OpenAIEmbedding
from assistant.embedding.sentence_transformer import SentenceTransformerEmbedding
from assistant.embedding.sources import default_cache, is_export
from assistant.settings import Settings


def model_cache(settings: Settings) -> Path:
    """The bundled model's cache: the setting, else one per user."""
    return Path(settings.model_cache).expanduser() if settings.model_cache.strip() else default_cache()


def create(settings: Settings) -> Embedder:
    """embed_base_url set: that server's model `embed_model`; else the bundled MiniLM for its
    name or for a directory holding its ONNX export, or the sentence-transformers model in the
    directory `embed_model` names."""
    name = settings.embed_model.strip()
    if settings.embed_base_url:
        return OpenAIEmbedding(
            settings.embed_base_url, name, settings.secret("embed_api_key"), settings.timeout, settings.embed_batch
        )
    if name in (MODEL_NAME, f"sentence-transformers/{MODEL_NAME}"):
        return MiniLMEmbedding(model_cache(settings), batch_size=settings.embed_batch)
    folder = Path(name).expanduser()
    if folder.is_dir() and is_export(folder):
        return MiniLMEmbedding(model_cache(settings), batch_size=settings.embed_batch, folder=folder.resolve())
    if folder.is_dir():
        return SentenceTransformerEmbedding(name, batch_size=settings.embed_batch)
    raise EmbeddingError(
        f"embed_model {name!r} is neither the bundled {MODEL_NAME}, a local sentence-transformers "
        "model directory, a directory holding the bundled model's ONNX export (`paper-assistant model "
        "export DIR`), nor served by an embedding server (set embed_base_url)"
    )
