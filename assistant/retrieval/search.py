"""Search: one question in, papers out.  Each view proposes candidates (the query's vector
against passage and paper vectors, BM25 against the keyword index); fusion.py ranks them,
gate.py decides whether the collection covers the question, and the result becomes Hits."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from assistant.index.store import DenseHit
from assistant.retrieval.candidates import Candidates
from assistant.retrieval.fusion import Fused, fuse
from assistant.retrieval.gate import gate, gate_text, unmentioned
from assistant.retrieval.query import RECORD_WORDS, asks_metadata, dense_query
from assistant.text import abbreviation_terms, tokenize
from assistant.types import Hit, Paper


@dataclass
class Retrieval:
    """Everything one retrieval produced (hits are the top-k, fused over all candidates)."""

    query: str
    query_tokens: list[str]
    hits: list[Hit]
    relevance: float
    covered: bool
    timings: dict[str, float] = field(default_factory=dict)
    unmentioned: list[str] = field(default_factory=list)  # names the question asks about the top paper never mentions


@dataclass(frozen=True)
class Searcher:
    """Runs searches over a collection (`candidates`: the index, or the index and a session's
    papers) with these limits: `candidates` per view, the gate's `min_relevance`."""

    source: Candidates
    embedder: Any
    candidates: int
    min_relevance: float

    def run(
        self,
        question: str,
        query: str,
        k: int,
        allowed: set[str] | None = None,
        weights: dict[str, float] | None = None,
    ) -> Retrieval:
        """Retrieve for `query` (`question` as the user typed it: the gate looks for names in
        it); only `allowed` papers when given; `weights` of the fusion (None = fusion.WEIGHTS)."""
        clock = _Clock()
        papers = self.source.papers
        if not papers or allowed == set():
            return Retrieval(query, [], [], 0.0, False, clock.timings)
        qvec = self.embedder.embed_query(dense_query(query))
        qtokens = tokenize(query)
        clock.lap("embed")
        views = self._views(qvec, qtokens, allowed, clock)
        fused = [f for f in fuse(views.lists(), weights) if f.paper_id in papers]  # not mid-ingest papers
        clock.lap("fusion")
        best = self._best_passages(views.dense, fused[:k], qvec, clock)
        hits = [self._hit(papers[f.paper_id], f, best.get(f.paper_id), qtokens) for f in fused[:k]]
        top_cos = max((d.similarity for d in views.dense), default=0.0)
        texts = [gate_text(h, views.dense) for h in hits[:3]]
        top_terms = [set(tokenize(t)) | abbreviation_terms(question, t) for t in texts]
        stats = self.source.term_stats
        full_text = [h.paper.full_text for h in hits[:3]]
        asked = [t for t in qtokens if t not in RECORD_WORDS] if asks_metadata(question) else qtokens
        rel = gate(question, query, asked or qtokens, top_cos, top_terms, stats, full_text=full_text)
        missing = self._unmentioned(question, hits[0]) if rel >= self.min_relevance and hits else []
        clock.lap("gate")
        return Retrieval(query, qtokens, hits, rel, rel >= self.min_relevance and not missing, clock.timings, missing)

    def _unmentioned(self, question: str, hit: Hit) -> list[str]:
        """The names in the question the top paper never mentions -- for a full-text paper only,
        whose whole text is known (an abstract leaves most of a paper unsaid)."""
        paper = hit.paper
        if not paper.full_text:
            return []
        record = tokenize(" ".join([*paper.authors, paper.venue, paper.key]))
        terms = [*self.source.term_stats.terms(paper.id), *record]
        return unmentioned(question, terms, lambda: " ".join(p.text for p in self.source.passages(paper)))

    def _views(self, qvec, qtokens: list[str], allowed: set[str] | None, clock: _Clock) -> _Views:
        """Each view's candidates: passages and papers by dense cosine, papers by BM25."""
        n, source = self.candidates, self.source
        dense = source.dense_passages(qvec, n, allowed)
        papers = source.dense_papers(qvec, n, allowed)
        clock.lap("dense")
        keyword = source.keyword_top(qtokens, n, allowed, source.term_stats)
        clock.lap("keyword")
        return _Views(dense, papers, keyword)

    def _best_passages(self, dense: list[DenseHit], top: list[Fused], qvec, clock: _Clock) -> dict[str, DenseHit]:
        """Each top paper's best passage.  A full-text paper has hundreds of passages, so the
        dense candidates often include none of a paper the other views ranked high: its
        passages are then scored one by one."""
        best: dict[str, DenseHit] = {}
        for d in dense:  # best first
            best.setdefault(d.paper_id, d)
        papers = self.source.papers
        need = {f.paper_id for f in top if f.paper_id not in best and papers[f.paper_id].full_text}
        if need:
            for d in self.source.passage_cosines(qvec, need):
                best.setdefault(d.paper_id, d)
            clock.lap("passages")
        return best

    def _hit(self, paper: Paper, f: Fused, dense_hit: DenseHit | None, qtokens: list[str]) -> Hit:
        passage = dense_hit.passage if dense_hit is not None else None
        if passage is None:  # found by keywords only: the passage (of all, body too) with most query terms
            q = set(qtokens)
            passage = max(self.source.passages(paper), key=lambda p: len(q & set(tokenize(p.text))))
        return Hit(
            paper=paper,
            text=passage.text,
            score=f.score,
            passage_index=passage.index,
            signals=f.signals,
            page=passage.page,
            section=passage.section,
            passage=passage,
        )


@dataclass
class _Views:
    dense: list[DenseHit]
    papers: list[tuple[str, float]]
    keyword: list[tuple[str, float]]

    def lists(self) -> dict[str, list[tuple[str, float]]]:
        return {
            "passage": [(d.paper_id, d.similarity) for d in self.dense],
            "paper": self.papers,
            "keyword": self.keyword,
        }


class _Clock:
    """The time each step of a search took."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name], self._t = now - self._t, now
