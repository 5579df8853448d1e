"""Search: one question in, papers out -- the three views, their fusion and the gate.

The scoring itself is pure (retrieve.py); this module fetches the candidates each view
proposes (the embedded query against Chroma's passage and paper vectors, BM25 against
the keyword index), hands them to `fuse` and `gate`, and turns the result into Hits.
For an answer it also finds, inside a full-text paper, the passages that best answer the
question (`Focus`) and an abstract hit's span (`abstract_span`).
"""

from __future__ import annotations

import time
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assistant.index import Store
from assistant.index.keyword import Corpus
from assistant.index.session import SessionPapers
from assistant.retrieval.fusion import Fused, fuse
from assistant.retrieval.gate import gate, gate_text
from assistant.retrieval.query import dense_query
from assistant.text import tokenize
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


def run(
    store: Store,
    embedder,
    question: str,
    query: str,
    k: int,
    candidates: int,
    min_relevance: float,
    allowed: set[str] | None = None,
    weights: dict[str, float] | None = None,
    session: SessionPapers | None = None,
) -> Retrieval:
    """Retrieve for `query` (`question` as the user typed it: the gate looks for names in it).

    `allowed`: only these papers (None = all).  `weights`: the fusion weights of the three
    views (None = retrieve.WEIGHTS; bench/fusion_weights.py compares others).  `session`:
    papers of this session only, searched with the collection."""
    snap = store.snapshot
    mine = session if session is not None and len(session) else None
    papers = ChainMap(mine.papers, snap.papers) if mine else snap.papers
    stats = Corpus(snap.keyword, mine.keyword) if mine else snap.keyword
    timings: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        timings[name] = now - t
        t = now

    if not papers or allowed == set():
        return Retrieval(query, [], [], 0.0, False, timings)
    qvec = embedder.embed_query(dense_query(query))
    qtokens = tokenize(query)
    lap("embed")
    dense = store.dense_passages(qvec, candidates, allowed) if snap.papers else []
    dense_papers = store.dense_papers(qvec, candidates, allowed) if snap.papers else []
    if mine:  # one candidate list per view, over both
        dense = sorted(dense + mine.dense_passages(qvec, candidates, allowed), key=lambda d: -d.similarity)
        dense_papers = sorted(dense_papers + mine.dense_papers(qvec, candidates, allowed), key=lambda x: -x[1])
    lap("dense")
    keyword = snap.keyword.top(qtokens, candidates, allowed, stats)
    if mine:
        keyword = sorted(keyword + mine.keyword.top(qtokens, candidates, allowed, stats), key=lambda x: -x[1])
    lap("keyword")
    best_passage: dict[str, Any] = {}
    for d in dense:  # best first
        best_passage.setdefault(d.paper_id, d)
    fused = fuse(
        {"passage": [(d.paper_id, d.similarity) for d in dense], "paper": dense_papers, "keyword": keyword}, weights
    )
    fused = [f for f in fused if f.paper_id in papers]  # skip passages of papers mid-ingest
    lap("fusion")
    # A full-text paper has hundreds of passages, so the dense candidates (100 passages) often
    # include none of a paper the other views ranked high: ask for its best passage.
    need = {
        f.paper_id
        for f in fused[:k]
        if f.paper_id not in best_passage and f.paper_id in snap.papers and snap.papers[f.paper_id].full_text
    }
    if need:
        for d in store.passage_cosines(qvec, need):
            best_passage.setdefault(d.paper_id, d)
        lap("passages")
    hits = [_hit(store, papers, f, best_passage.get(f.paper_id), qtokens) for f in fused[:k]]
    top_cos = max((d.similarity for d in dense), default=0.0)
    top_terms = [set(tokenize(gate_text(h, dense))) for h in hits[:3]]
    rel = gate(question, query, qtokens, top_cos, top_terms, stats, [h.paper.full_text for h in hits[:3]])
    lap("gate")
    return Retrieval(query, qtokens, hits, rel, rel >= min_relevance, timings)


def _hit(store: Store, papers: Mapping[str, Paper], f: Fused, dense_hit, qtokens: list[str]) -> Hit:
    paper = papers[f.paper_id]
    passage = dense_hit.passage if dense_hit is not None else None
    if passage is None:  # found by keywords only: show the passage (of all, body too) with most query terms
        q = set(qtokens)
        passage = max(store.passages(paper), key=lambda p: len(q & set(tokenize(p.text))))
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
