"""Embedding models: the bundled all-MiniLM-L6-v2 (minilm.py, ONNX; sources.py says where its
files come from), a local sentence-transformers directory or an OpenAI-compatible endpoint
(others.py), behind one contract (base.Embedder); choose.create picks the one the settings name."""

from assistant.embedding.base import Embedder
from assistant.embedding.choose import create, model_cache
from assistant.embedding.minilm import DIM, MODEL_NAME, MiniLMEmbedding, Runner, export_onnx, model_dir, onnx_path
from assistant.embedding.others import EmbeddingError, OpenAIEmbedding, SentenceTransformerEmbedding
from assistant.embedding.sources import ModelFiles, default_cache, write_export

__all__ = [
    "Embedder",
    "create",
    "model_cache",
    "MiniLMEmbedding",
    "SentenceTransformerEmbedding",
    "OpenAIEmbedding",
    "EmbeddingError",
    "Runner",
    "ModelFiles",
    "default_cache",
    "write_export",
    "model_dir",
    "onnx_path",
    "export_onnx",
    "DIM",
    "MODEL_NAME",
]
