"""Search: one question in, papers out -- the three views, their fusion and the gate.

The scoring itself is pure (retrieve.py); this module fetches the candidates each view
proposes (the embedded query against Chroma's passage and paper vectors, BM25 against
the keyword index), hands them to `fuse` and `gate`, and turns the result into Hits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .index import Snapshot, Store
from .retrieve import Fused, dense_query, fuse, gate
from .text import tokenize
from .types import Hit


@dataclass
class Retrieval:
    """Everything one retrieval produced (hits are the top-k, fused over all candidates)."""

    query: str
    query_tokens: list[str]
    hits: list[Hit]
    relevance: float
    covered: bool
    timings: dict[str, float] = field(default_factory=dict)


def run(store: Store, embedder, question: str, query: str, k: int, candidates: int, min_relevance: float,
        allowed: set[str] | None = None, weights: dict[str, float] | None = None) -> Retrieval:
    """Retrieve for `query` (`question` as the user typed it: the gate looks for names in it).

    `allowed`: only these papers (None = all).  `weights`: the fusion weights of the three
    views (None = retrieve.WEIGHTS; bench/fusion_weights.py compares others)."""
    snap = store.snapshot
    timings: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        timings[name] = now - t
        t = now

    if not snap.papers or allowed == set():
        return Retrieval(query, [], [], 0.0, False, timings)
    qvec = embedder.embed_query(dense_query(query))
    qtokens = tokenize(query)
    lap("embed")
    dense = store.dense_passages(qvec, candidates, allowed)
    dense_papers = store.dense_papers(qvec, candidates, allowed)
    lap("dense")
    keyword = snap.keyword.top(qtokens, candidates, allowed)
    lap("keyword")
    best_passage: dict[str, Any] = {}
    for d in dense:  # best first
        best_passage.setdefault(d.paper_id, d)
    fused = fuse({"passage": [(d.paper_id, d.similarity) for d in dense],
                  "paper": dense_papers, "keyword": keyword}, weights)
    fused = [f for f in fused if f.paper_id in snap.papers]  # skip passages of papers mid-ingest
    lap("fusion")
    hits = [_hit(store, snap, f, best_passage.get(f.paper_id), qtokens) for f in fused[:k]]
    top_cos = max((d.similarity for d in dense), default=0.0)
    top_terms = [set(tokenize(h.paper.title + " " + h.paper.abstract)) for h in hits[:3]]
    rel = gate(question, query, qtokens, top_cos, top_terms, snap.keyword)
    lap("gate")
    return Retrieval(query, qtokens, hits, rel, rel >= min_relevance, timings)


def _hit(store: Store, snap: Snapshot, f: Fused, dense_hit, qtokens: list[str]) -> Hit:
    paper = snap.papers[f.paper_id]
    if dense_hit is not None:
        text, index = dense_hit.text, dense_hit.passage_index
    else:  # found by keywords only: show the passage with most query terms
        q = set(qtokens)
        best = max(store.passages(paper), key=lambda p: len(q & set(tokenize(p.text))))
        text, index = best.text, best.index
    return Hit(paper=paper, text=text, score=f.score, passage_index=index, signals=f.signals)


def similar(store: Store, paper_id: str, k: int) -> list[Hit]:
    """The `k` papers whose mean passage vectors are closest to `paper_id`'s (itself excluded)."""
    vec = store.paper_vectors([paper_id]).get(paper_id)
    if vec is None or k < 1:
        return []
    snap = store.snapshot
    hits = []
    for pid, cos in store.dense_papers(vec, k + 1):
        if pid == paper_id or pid not in snap.papers:
            continue
        p = snap.papers[pid]
        hits.append(Hit(paper=p, text=store.passages(p)[0].text, score=cos, signals={"paper": cos}))
    return hits[:k]
