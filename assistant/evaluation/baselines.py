"""Reference systems measured beside the assistant, in the same process and on the same
embedding model: the plain LlamaIndex starter recipe and BM25 alone.

starter: one Document per paper (title + abstract), VectorStoreIndex over a Chroma
         collection, the default retriever (top-k raised to 10 for the metrics), and the
         recipe's HuggingFaceEmbedding on the same all-MiniLM-L6-v2 weights.
bm25:    LlamaIndex's BM25Retriever over the same one-node-per-paper documents.

Both need the `eval` extra (pip install 'paper-assistant[eval]').
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..types import Paper

INSTALL_HINT = "pip install 'paper-assistant[eval]'"
STARTER_COLLECTION = "starter"  # the collection name when the starter index is persisted


class MissingExtra(ImportError):
    """A baseline's package is not installed; the message says how to install it."""


@dataclass
class Baseline:
    name: str
    retrieve: Callable[[str], list[str]]  # query -> ranked paper ids
    build_seconds: float
    embedder: str = ""


def _documents(papers: list[Paper]):
    from llama_index.core import Document

    return [Document(text=f"{p.title}\n{p.abstract}", doc_id=p.id, metadata={"paper_id": p.id, "title": p.title},
                     excluded_embed_metadata_keys=["paper_id", "title"], excluded_llm_metadata_keys=["paper_id"])
            for p in papers]


def starter_embedding():
    """The recipe's HuggingFaceEmbedding on the local all-MiniLM-L6-v2 weights (the same
    weights the assistant runs through ONNX); returns (embed_model, description)."""
    try:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    except ImportError as e:
        raise MissingExtra(f"the starter recipe needs llama-index-embeddings-huggingface ({e.name} is missing): "
                           f"{INSTALL_HINT}") from None
    import transformers

    from ..embedding import model_dir

    transformers.utils.logging.disable_progress_bar()  # a "Loading weights" bar on every start
    return HuggingFaceEmbedding(model_name=str(model_dir()), device="cpu"), "HuggingFaceEmbedding (sentence-transformers)"


def check_installed() -> None:
    """Raise MissingExtra, before any work is done, if a baseline cannot run."""
    import importlib.util

    missing = [pkg for mod, pkg in (("llama_index.embeddings.huggingface", "llama-index-embeddings-huggingface"),
                                    ("llama_index.retrievers.bm25", "llama-index-retrievers-bm25"),
                                    ("sentence_transformers", "sentence-transformers"))
               if not _spec_exists(importlib.util, mod)]
    if missing:
        raise MissingExtra(f"--compare baseline needs {', '.join(missing)}: {INSTALL_HINT}")


def _spec_exists(util, module: str) -> bool:
    try:
        return util.find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package
        return False


def _chroma(path: str | Path | None):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if path is None:
        return chromadb.EphemeralClient(settings=settings)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def _retriever(index, top_k: int, name: str, build: float, embed_model) -> Baseline:
    retriever = index.as_retriever(similarity_top_k=top_k)

    def retrieve(query: str) -> list[str]:
        return [n.node.metadata["paper_id"] for n in retriever.retrieve(query)]

    return Baseline(name, retrieve, build, type(embed_model).__name__)


def starter(papers: list[Paper], embed_model, top_k: int = 10, path: str | Path | None = None) -> Baseline:
    """Build the starter index (in memory, or persisted at `path` as the recipe does)."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    t = time.perf_counter()
    client = _chroma(path)
    name = STARTER_COLLECTION if path is not None else f"starter-{uuid.uuid4().hex[:8]}"
    col = client.create_collection(name, embedding_function=None)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=col))
    index = VectorStoreIndex.from_documents(_documents(papers), storage_context=storage, embed_model=embed_model)
    return _retriever(index, top_k, "starter (LlamaIndex + Chroma)", time.perf_counter() - t, embed_model)


def open_starter(path: str | Path, embed_model, top_k: int = 10) -> Baseline:
    """The recipe's second run: load the persisted Chroma index instead of re-embedding."""
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    t = time.perf_counter()
    col = _chroma(path).get_collection(STARTER_COLLECTION, embedding_function=None)
    index = VectorStoreIndex.from_vector_store(ChromaVectorStore(chroma_collection=col), embed_model=embed_model)
    return _retriever(index, top_k, "starter (LlamaIndex + Chroma)", time.perf_counter() - t, embed_model)


def bm25(papers: list[Paper], top_k: int = 10) -> Baseline:
    try:
        from llama_index.retrievers.bm25 import BM25Retriever
    except ImportError as e:
        raise MissingExtra(f"the BM25 baseline needs llama-index-retrievers-bm25 ({e.name} is missing): "
                           f"{INSTALL_HINT}") from None
    from llama_index.core.node_parser import SentenceSplitter

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each build at DEBUG into our eval output
    t = time.perf_counter()
    nodes = SentenceSplitter(chunk_size=4096).get_nodes_from_documents(_documents(papers))
    retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(top_k, len(nodes)))
    build = time.perf_counter() - t

    def retrieve(query: str) -> list[str]:
        return [n.node.metadata["paper_id"] for n in retriever.retrieve(query)]

    return Baseline("BM25 only", retrieve, build)


def history_query(q: dict) -> str:
    """How the baselines see a follow-up: the conversation and the question as one query."""
    return " ".join([m["content"] for m in q.get("history") or []] + [q["question"]])
