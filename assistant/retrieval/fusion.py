"""Fusion: several ranked candidate lists of papers (or of one paper's passages) into one ranking."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Three views of relevance, all at paper level:
#   passage: cosine of the paper's best passage (precise, local evidence)
#   paper:   cosine of the mean of its passage vectors (the paper as a whole)
#   keyword: BM25 over title + abstract (exact terms: names, datasets, acronyms)
SIGNALS = ("passage", "paper", "keyword")

# Lexical and semantic evidence get an equal say: the keyword view weighs as much as the
# two dense views together (docs/quality.md, "Why the constants are what they are").
WEIGHTS = {"passage": 1.0, "paper": 1.0, "keyword": 2.0}


@dataclass
class Fused:
    paper_id: str
    score: float
    signals: dict[str, float] = field(default_factory=dict)


def zscores(scores: dict[str, float]) -> tuple[dict[str, float], float]:
    """Standardise a candidate list; returns (z per id, z of a candidate the list did not return)."""
    if not scores:
        return {}, 0.0
    vals = list(scores.values())
    mean = sum(vals) / len(vals)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals)) or 1.0
    z = {k: (v - mean) / std for k, v in scores.items()}
    # A paper missing from a top-k list scores at most the list's minimum there.
    return z, (min(vals) - mean) / std


def fuse(lists: dict[str, list[tuple[str, float]]], weights: dict[str, float] | None = None) -> list[Fused]:
    """Weighted sum of per-list z-scores (better than RRF here: it keeps *how much* better a
    candidate is, which a rank throws away).  Each list is best-first (id, score); a list
    not in `weights` weighs 1."""
    weights = WEIGHTS if weights is None else weights
    ids: dict[str, None] = {}
    norm = {}
    for name, items in lists.items():
        scores: dict[str, float] = {}
        for pid, s in items:  # keep each id's best score in the list
            if pid not in scores or s > scores[pid]:
                scores[pid] = s
        norm[name] = (zscores(scores), scores)
        ids.update(dict.fromkeys(scores))
    out = []
    for pid in ids:
        total = 0.0
        raw = {}
        for name, ((z, floor), scores) in norm.items():
            total += weights.get(name, 1.0) * z.get(pid, floor)
            if pid in scores:
                raw[name] = scores[pid]
        out.append(Fused(pid, total, raw))
    out.sort(key=lambda f: (-f.score, f.paper_id))
    return out


def bm25(query_tokens: list[str], docs: list[list[str]], k1: float = 1.5, b: float = 0.75) -> list[float]:
    """BM25 of each document (its terms) for the query, with the document frequencies of
    these documents only -- the passages of one paper: a term every passage has tells
    them apart as little as it would tell papers apart in a collection of them.  (The
    formula and k1, b of index/keyword.py.)"""
    n = len(docs)
    if not n:
        return []
    avg = sum(map(len, docs)) / n or 1.0
    query = set(query_tokens)
    df = dict.fromkeys(query, 0)
    counts = []
    for d in docs:
        c: dict[str, int] = {}
        for t in d:
            if t in query:
                c[t] = c.get(t, 0) + 1
        for t in c:
            df[t] += 1
        counts.append(c)
    idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
    return [
        sum(idf[t] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avg)) for t, tf in c.items())
        for d, c in zip(docs, counts)
    ]


# Within one full-text paper, which passage answers: its passages' dense cosines and their
# BM25 among the paper's passages, fused as papers are (z-scores), weighing the same: the
# keyword view as much as the dense one.
PASSAGE_WEIGHTS = {"passage": 1.0, "keyword": 1.0}


def best_passages(dense: list[tuple[int, float]], keyword: list[tuple[int, float]]) -> list[int]:
    """Passage indices of one paper, best first: `dense` (index, cosine) and `keyword`
    (index, BM25) fused with PASSAGE_WEIGHTS."""
    fused = fuse(
        {"passage": [(str(i), c) for i, c in dense], "keyword": [(str(i), b) for i, b in keyword]}, PASSAGE_WEIGHTS
    )
    return [int(f.paper_id) for f in fused]
