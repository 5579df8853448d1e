"""Search: one question in, papers out -- the three views, their fusion and the gate.

The scoring itself is pure (retrieve.py); this module fetches the candidates each view
proposes (the embedded query against Chroma's passage and paper vectors, BM25 against
the keyword index), hands them to `fuse` and `gate`, and turns the result into Hits.
For an answer it also finds, inside a full-text paper, the passages that best answer the
question (`Focus`) and an abstract hit's span (`abstract_span`).
"""

from __future__ import annotations

import threading
import time
from collections import ChainMap, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .chunking import passage_embed_text
from .index import Store
from .index.keyword import Corpus
from .retrieve import Fused, best_passages, bm25, dense_query, fuse, gate
from .session import SessionPapers
from .text import tokenize
from .types import Hit, Paper, Passage


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
    top_terms = [set(tokenize(_gate_text(h, dense))) for h in hits[:3]]
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


def focus_passages(
    store: Store, embedder, question: str, hit: Hit, terms: PassageTerms, n: int = FOCUS_PASSAGES
) -> tuple[Hit, list[Passage]]:
    """A full-text hit with the passage of its paper that best answers `question` (the words
    the user typed: a follow-up's conversation chose the paper, its own words choose the
    passage), and the runners-up (up to n - 1): the paper's passages ranked by dense cosine
    and by BM25 among them, fused (retrieve.best_passages).  Retrieval's best passage is the
    one closest to the query overall; these also have its terms -- the default, the data
    set, the parameter asked about.  Any other hit is returned as it is, with none."""
    paper = hit.paper
    if not paper.full_text or paper.id not in store.snapshot.papers:
        return hit, []
    passages = store.passages(paper)
    qvec = embedder.embed_query(dense_query(question))
    dense = sorted(((ps.index, c) for ps, c in store.paper_cosines(qvec, paper, passages)), key=lambda x: -x[1])
    scores = bm25(tokenize(question), terms(paper, passages))
    keyword = sorted(((p.index, s) for p, s in zip(passages, scores) if s > 0), key=lambda x: -x[1])
    by_index = {p.index: p for p in passages}
    ranked = [by_index[i] for i in best_passages(dense, keyword) if i in by_index][:n]
    if not ranked:
        return hit, []
    best = ranked[0]
    if best.index != hit.passage_index:
        hit = replace(hit, text=best.text, passage_index=best.index, page=best.page, section=best.section, passage=best)
    return hit, ranked[1:]


def abstract_span(store: Store, hit: Hit) -> tuple[int, int] | None:
    """The abstract span of a hit's passage (None for a body passage: see `nearby`)."""
    if hit.passage is not None:
        return None if hit.passage.in_body else (hit.passage.start, hit.passage.end)
    for p in store.passages(hit.paper):
        if p.index == hit.passage_index:
            return (p.start, p.end)
    return None


def nearby(store: Store, hit: Hit) -> list[Passage]:
    """A full-text hit's best passage with the passages before and after it in its section
    (in order): what an answer about it may quote."""
    best = hit.passage
    if best is None or not best.in_body or hit.paper.id not in store.snapshot.papers:
        return [best] if best is not None else []
    around = [store.passage(hit.paper, best.index + d) for d in (-1, 1)]
    same = [p for p in around if p is not None and p.in_body and p.section == best.section]
    return sorted(same + [best], key=lambda p: p.index)


class Focus:
    """For one answer: each full-text hit with its paper's passage that best answers the
    question (`__call__`, by `focus_passages`), and what the answer may quote it from
    (`nearby`): that passage, its neighbours in its section and the runners-up."""

    def __init__(self, store: Store, embedder: Any, question: str, terms: PassageTerms):
        self._store, self._embedder, self._question, self._terms = store, embedder, question, terms
        self._done: dict[str, tuple[Hit, list[Passage]]] = {}

    def _get(self, hit: Hit) -> tuple[Hit, list[Passage]]:
        if hit.paper.id not in self._done:
            self._done[hit.paper.id] = focus_passages(self._store, self._embedder, self._question, hit, self._terms)
        return self._done[hit.paper.id]

    def __call__(self, hit: Hit) -> Hit:
        return self._get(hit)[0]

    def nearby(self, hit: Hit) -> list[Passage]:
        around = nearby(self._store, hit)
        if hit.passage is None or not hit.passage.in_body:
            return around
        more = [p for p in self._get(hit)[1] if p.in_body]
        return sorted({p.index: p for p in around + more}.values(), key=lambda p: p.index)


GATE_PASSAGES = 3  # passages of a full-text paper the gate looks for the question's terms in


def _gate_text(hit: Hit, dense: list) -> str:
    """The text whose terms the gate looks for the question's in: title and abstract -- and for
    a full-text paper its best passages (up to GATE_PASSAGES of the dense candidates, else the
    hit's passage), not its whole body: a 50-page paper contains nearly any word, which would
    let almost every question through.  A question about a body detail often spreads its terms
    over neighbouring passages; the gate then asks a full-text paper to cover more
    (retrieve.FULL_TEXT_MARGIN).  Measured on the full-text question set (bench/gate.py), three
    passages separate answerable from out-of-collection questions better than one (ROC AUC
    0.95 -> 0.98) at no cost: they are among the candidates already retrieved."""
    text = hit.paper.title + " " + hit.paper.abstract
    if not hit.paper.full_text:
        return text
    best = [d for d in dense if d.paper_id == hit.paper.id][:GATE_PASSAGES]  # looked up only these
    own = [hit.passage if d.passage_index == hit.passage_index else d.passage for d in best]
    own = [p for p in own if p is not None] or ([hit.passage] if hit.passage is not None else [])
    return " ".join([text, *(p.text for p in own)])


def similar(store: Store, paper_id: str, k: int, session: SessionPapers | None = None) -> list[Hit]:
    """The `k` papers whose mean passage vectors are closest to `paper_id`'s (itself excluded)."""
    mine = session if session is not None and len(session) else None
    vec = mine.paper_vector(paper_id) if mine else None
    if vec is None:
        vec = store.paper_vectors([paper_id]).get(paper_id)
    if vec is None or k < 1:
        return []
    papers = ChainMap(mine.papers, store.snapshot.papers) if mine else store.snapshot.papers
    near = store.dense_papers(vec, k + 1) + (mine.dense_papers(vec, k + 1) if mine else [])
    hits = []
    for pid, cos in sorted(near, key=lambda x: -x[1]):
        if pid == paper_id or pid not in papers:
            continue
        p = papers[pid]
        first = store.passage(p, 0) if pid in store.snapshot.papers else store.passages(p)[0]
        hits.append(
            Hit(
                paper=p,
                text=first.text if first else "",
                score=cos,
                signals={"paper": cos},
                page=first.page if first else None,
                section=first.section if first else None,
                passage=first,
            )
        )
    return hits[:k]


def select(
    papers: Iterable[Paper],
    year_from: int | None = None,
    year_to: int | None = None,
    author: str | None = None,
    venue: str | None = None,
    tag: str | None = None,
    key: str | None = None,
) -> list[str]:
    """Ids of the papers passing every given filter (PaperAssistant.select_ids says how each matches)."""

    def norm(text: str | None) -> str:
        return " ".join((text or "").lower().split())

    who, where, label, cite = norm(author), norm(venue), norm(tag), (key or "").strip()
    out = []
    for p in papers:
        if (year_from is not None or year_to is not None) and p.year is None:
            continue
        if (year_from is not None and p.year < year_from) or (year_to is not None and p.year > year_to):
            continue
        if who and not any(who in norm(a) for a in p.authors):
            continue
        if where and where not in norm(p.venue):
            continue
        if label and label not in _labels(p, norm):
            continue
        if cite and p.key != cite:
            continue
        out.append(p.id)
    return out


def _labels(p: Paper, norm) -> set[str]:
    """A paper's tags, its collections and every collection above them ("Reading/2024": both)."""
    out = {norm(t) for t in p.tags}
    for c in p.collections:
        out |= {norm(c)} | {norm(part) for part in c.split("/")}
    return out
