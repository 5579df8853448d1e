"""Where a search finds papers: the shared index (index.Store), a visitor's own papers
(index.SessionPapers), or both at once (`Combined`), behind one interface."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping
from typing import Protocol

import numpy as np

from assistant.index.keyword import Corpus
from assistant.index.store import DenseHit
from assistant.retrieval.gate import TermStats
from assistant.types import Paper, Passage


class Candidates(Protocol):
    """What a search asks of a collection: its papers, its keyword statistics, and the
    passages and papers nearest a query vector."""

    @property
    def papers(self) -> Mapping[str, Paper]: ...

    @property
    def term_stats(self) -> TermStats: ...

    def keyword_top(
        self, tokens: list[str], k: int, allowed: set[str] | None, stats: TermStats
    ) -> list[tuple[str, float]]: ...

    def dense_passages(self, query_vec: np.ndarray, k: int, allowed: set[str] | None = None) -> list[DenseHit]: ...

    def dense_papers(
        self, query_vec: np.ndarray, k: int, allowed: set[str] | None = None
    ) -> list[tuple[str, float]]: ...

    def passage_cosines(self, query_vec: np.ndarray, paper_ids: Iterable[str]) -> list[DenseHit]: ...

    def passages(self, paper: Paper) -> list[Passage]: ...

    def passage(self, paper: Paper, index: int) -> Passage | None: ...

    def paper_vector(self, paper_id: str) -> np.ndarray | None: ...


class Combined:
    """Several collections searched as one: each list merged best first, papers looked up in
    the first that has them, keyword statistics over all of them."""

    def __init__(self, *sources: Candidates):
        self.sources = sources

    @property
    def papers(self) -> Mapping[str, Paper]:
        return ChainMap(*(s.papers for s in self.sources))

    @property
    def term_stats(self) -> Corpus:
        return Corpus(*(s.term_stats for s in self.sources))

    def keyword_top(
        self, tokens: list[str], k: int, allowed: set[str] | None, stats: TermStats
    ) -> list[tuple[str, float]]:
        return _merged(s.keyword_top(tokens, k, allowed, stats) for s in self.sources)

    def dense_passages(self, query_vec: np.ndarray, k: int, allowed: set[str] | None = None) -> list[DenseHit]:
        hits = [d for s in self.sources for d in s.dense_passages(query_vec, k, allowed)]
        return sorted(hits, key=lambda d: -d.similarity)

    def dense_papers(self, query_vec: np.ndarray, k: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        return _merged(s.dense_papers(query_vec, k, allowed) for s in self.sources)

    def passage_cosines(self, query_vec: np.ndarray, paper_ids: Iterable[str]) -> list[DenseHit]:
        ids = set(paper_ids)
        hits = [d for s in self.sources for d in s.passage_cosines(query_vec, ids & set(s.papers))]
        return sorted(hits, key=lambda d: -d.similarity)

    def passages(self, paper: Paper) -> list[Passage]:
        return self._owner(paper.id).passages(paper)

    def passage(self, paper: Paper, index: int) -> Passage | None:
        return self._owner(paper.id).passage(paper, index)

    def paper_vector(self, paper_id: str) -> np.ndarray | None:
        return next((v for s in self.sources if (v := s.paper_vector(paper_id)) is not None), None)

    def _owner(self, paper_id: str) -> Candidates:
        return next((s for s in self.sources if paper_id in s.papers), self.sources[-1])


def _merged(lists: Iterable[list[tuple[str, float]]]) -> list[tuple[str, float]]:
    return sorted((x for items in lists for x in items), key=lambda x: -x[1])
