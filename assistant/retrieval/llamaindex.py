"""This assistant's retrieval as a LlamaIndex retriever.

`pa.as_retriever()` plugs the fused search (dense passages + dense papers + BM25, one node
per paper, relevance gate) into anything in LlamaIndex that takes a retriever, e.g.
`RetrieverQueryEngine.from_args(pa.as_retriever(), llm=...)`.  Each node is the paper's
best passage, with the paper's id, title and links in its metadata (and, from a PDF's
body, its page and section).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from assistant.retrieval.search import Retrieval


class Retrieves(Protocol):
    """What the retriever needs of a PaperAssistant."""

    def retrieve(self, question: str, *, k: int | None, paper_ids: list[str] | None) -> Retrieval: ...


class PaperRetriever(BaseRetriever):
    def __init__(self, pa: Retrieves, k: int | None = None, paper_ids: Iterable[str] | None = None, gate: bool = True):
        super().__init__()
        self._pa, self._k = pa, k
        self._paper_ids = None if paper_ids is None else list(paper_ids)
        self._gate = gate  # True: a question the collection does not cover retrieves nothing

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        r = self._pa.retrieve(query_bundle.query_str, k=self._k, paper_ids=self._paper_ids)
        if self._gate and not r.covered:
            return []
        return [
            NodeWithScore(
                node=TextNode(
                    id_=f"{h.paper.id}::{h.passage_index}",
                    text=h.text,
                    metadata={
                        "paper_id": h.paper.id,
                        "title": h.paper.title,
                        "url": h.paper.url,
                        "code_url": h.paper.code_url,
                        **({"page": h.page, "section": h.section or ""} if h.page is not None else {}),
                    },
                ),
                score=h.score,
            )
            for h in r.hits
        ]
