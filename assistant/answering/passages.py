"""Which passages of a full-text paper an answer quotes: the one that best answers the question,
its neighbours in its section and the runners-up."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from assistant.index import Store
from assistant.ingest.chunking import abstract_passages, passage_embed_text
from assistant.retrieval.fusion import best_passages, bm25
from assistant.retrieval.query import dense_query
from assistant.text import tokenize
from assistant.types import Hit, Paper, Passage


class PassageTerms:
    """The index terms of each passage of a full-text paper (what its passages are searched
    by within the paper), kept for the papers answered about most recently."""

    def __init__(self, size: int = 256):
        self._size = size
        self._cache: OrderedDict[tuple[str, str], list[list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, paper: Paper, passages: list[Passage]) -> list[list[str]]:
        key = (paper.id, paper.content_hash())
        with self._lock:
            got = self._cache.get(key)
            if got is not None and len(got) == len(passages):
                self._cache.move_to_end(key)
                return got
        got = [tokenize(passage_embed_text(paper.title, p)) for p in passages]
        with self._lock:
            self._cache[key] = got
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return got


FOCUS_PASSAGES = 3  # passages of a full-text paper an answer chooses its sentences from (with their neighbours)


class Focus:
    """For one answer, where it quotes each hit from (answering.context.Quotes): a full-text
    hit's paper's passage that best answers the question (`__call__`), that passage with its
    neighbours in its section, the runners-up and the abstract (`nearby`), an abstract hit's
    span (`span`)."""

    def __init__(self, store: Store, embedder: Any, question: str, terms: PassageTerms):
        self._store, self._embedder, self._question, self._terms = store, embedder, question, terms
        self._done: dict[str, tuple[Hit, list[Passage]]] = {}

    def __call__(self, hit: Hit) -> Hit:
        return self._get(hit)[0]

    def span(self, hit: Hit) -> tuple[int, int] | None:
        """The abstract span of a hit's passage (None for a body passage)."""
        if hit.passage is not None:
            return None if hit.passage.in_body else (hit.passage.start, hit.passage.end)
        for p in self._store.passages(hit.paper):
            if p.index == hit.passage_index:
                return (p.start, p.end)
        return None

    def nearby(self, hit: Hit) -> list[Passage]:
        around = self._around(hit)
        if hit.passage is None or not hit.passage.in_body:
            return around
        abstract = abstract_passages(hit.paper, self._store.settings.chunk_words)  # weighed with the body always
        more = self._get(hit)[1] + abstract  # the runners-up, and the abstract
        return sorted({p.index: p for p in around + more}.values(), key=lambda p: p.index)

    def _get(self, hit: Hit) -> tuple[Hit, list[Passage]]:
        if hit.paper.id not in self._done:
            self._done[hit.paper.id] = self._best(hit)
        return self._done[hit.paper.id]

    def _best(self, hit: Hit) -> tuple[Hit, list[Passage]]:
        """A full-text hit with the passage of its paper that best answers the question (the
        words the user typed: a follow-up's conversation chose the paper, its own words choose
        the passage), and the runners-up (up to FOCUS_PASSAGES - 1): the paper's passages ranked by dense
        cosine and by BM25 among them, fused (fusion.best_passages).  Any other hit is returned
        as it is, with none."""
        paper, store = hit.paper, self._store
        if not paper.full_text or paper.id not in store.papers:
            return hit, []
        passages = store.passages(paper)
        qvec = self._embedder.embed_query(dense_query(self._question))
        dense = sorted(((ps.index, c) for ps, c in store.paper_cosines(qvec, paper, passages)), key=lambda x: -x[1])
        scores = bm25(tokenize(self._question), self._terms(paper, passages))
        keyword = sorted(((p.index, s) for p, s in zip(passages, scores) if s > 0), key=lambda x: -x[1])
        by_index = {p.index: p for p in passages}
        ranked = [by_index[i] for i in best_passages(dense, keyword) if i in by_index][:FOCUS_PASSAGES]
        if not ranked:
            return hit, []
        best = ranked[0]
        if best.index != hit.passage_index:
            hit = replace(
                hit, text=best.text, passage_index=best.index, page=best.page, section=best.section, passage=best
            )
        return hit, ranked[1:]

    def _around(self, hit: Hit) -> list[Passage]:
        """A full-text hit's best passage with the passages before and after it in its section, in order."""
        best, store = hit.passage, self._store
        if best is None or not best.in_body or hit.paper.id not in store.papers:
            return [best] if best is not None else []
        around = [store.passage(hit.paper, best.index + d) for d in (-1, 1)]
        same = [p for p in around if p is not None and p.in_body and p.section == best.section]
        return sorted(same + [best], key=lambda p: p.index)
