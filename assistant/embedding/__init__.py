"""Embedding models: the bundled all-MiniLM-L6-v2 (minilm.py, ONNX; sources.py says where its
files come from), a local sentence-transformers directory (sentence_transformer.py) or an
OpenAI-compatible endpoint (openai_endpoint.py), behind one contract (base.Embedder, failing
with base.EmbeddingError); choose.create picks the one the settings name."""

from assistant.embedding.base import Embedder, EmbeddingError
from assistant.embedding.choose import create, model_cache
from assistant.embedding.minilm import DIM, MODEL_NAME, MiniLMEmbedding, Runner, export_onnx, model_dir, onnx_path
from assistant.embedding.openai_endpoint import OpenAIEmbedding
from assistant.embedding.sentence_transformer import SentenceTransformerEmbedding
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
