"""Embedding models: the bundled all-MiniLM-L6-v2 (minilm.py, ONNX), a local
sentence-transformers directory or an OpenAI-compatible endpoint (others.py), behind one
contract (base.Embedder); choose.create picks the one the settings name."""

from assistant.embedding.base import Embedder
from assistant.embedding.choose import create
from assistant.embedding.minilm import DIM, MODEL_NAME, MiniLMEmbedding, export_onnx, model_dir, onnx_path
from assistant.embedding.others import EmbeddingError, OpenAIEmbedding, SentenceTransformerEmbedding

__all__ = [
    "Embedder",
    "create",
    "MiniLMEmbedding",
    "SentenceTransformerEmbedding",
    "OpenAIEmbedding",
    "EmbeddingError",
    "model_dir",
    "onnx_path",
    "export_onnx",
    "DIM",
    "MODEL_NAME",
]
