"""Reference systems measured beside the assistant, in the same process and on the same
embedding model: the plain LlamaIndex starter recipe and BM25 alone.

starter: one Document per paper (title + abstract), VectorStoreIndex over a Chroma
         collection, the default retriever (top-k raised to 10 for the metrics),
         HuggingFaceEmbedding when installed (what the recipe uses), else the same
         MiniLM weights through this project's ONNX embedder.
bm25:    LlamaIndex's BM25Retriever over the same one-node-per-paper documents.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Callable

from .types import Paper


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


def starter_embedding(fallback=None):
    """The recipe's HuggingFaceEmbedding on the local all-MiniLM-L6-v2 weights, if installed."""
    try:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        from .embedding import model_dir

        return HuggingFaceEmbedding(model_name=str(model_dir()), device="cpu"), "HuggingFaceEmbedding (sentence-transformers)"
    except ImportError:
        if fallback is None:
            raise
        return fallback, "MiniLMEmbedding (ONNX; install .[eval] for HuggingFaceEmbedding)"


def starter(papers: list[Paper], embed_model, top_k: int = 10) -> Baseline:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    t = time.perf_counter()
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    col = client.create_collection(f"starter-{uuid.uuid4().hex[:8]}", embedding_function=None)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=col))
    index = VectorStoreIndex.from_documents(_documents(papers), storage_context=storage, embed_model=embed_model)
    retriever = index.as_retriever(similarity_top_k=top_k)
    build = time.perf_counter() - t

    def retrieve(query: str) -> list[str]:
        return [n.node.metadata["paper_id"] for n in retriever.retrieve(query)]

    return Baseline("starter (LlamaIndex + Chroma)", retrieve, build, type(embed_model).__name__)


def bm25(papers: list[Paper], top_k: int = 10) -> Baseline:
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.retrievers.bm25 import BM25Retriever

    t = time.perf_counter()
    nodes = SentenceSplitter(chunk_size=4096).get_nodes_from_documents(_documents(papers))
    retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=top_k)
    build = time.perf_counter() - t

    def retrieve(query: str) -> list[str]:
        return [n.node.metadata["paper_id"] for n in retriever.retrieve(query)]

    return Baseline("BM25 only", retrieve, build)


def history_query(q: dict) -> str:
    """How the baselines see a follow-up: the conversation and the question as one query."""
    return " ".join([m["content"] for m in q.get("history") or []] + [q["question"]])
