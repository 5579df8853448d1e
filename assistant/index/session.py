"""Papers that belong to one session only: held in memory, searched together with the
collection, never written to the index.

A public web app gives each visitor's uploads to their own `SessionPapers`
(`pa.private()` is a view carrying one): they are searchable and citable in that session,
invisible to everyone else, and gone when the session is.  Searches score them with the
collection's statistics (BM25 over both; vectors from the same embedder), so the fused
ranking treats a session paper like any other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from assistant.index.keyword import KeywordIndex
from assistant.index.store import DenseHit
from assistant.ingest.chunking import chunk_paper, embed_text
from assistant.ingest.records import CollectionError
from assistant.text import tokenize
from assistant.types import Paper, Passage

SESSION_PREFIX = "mine:"  # the id of a session paper whose id the collection already uses


class SessionPapers:
    def __init__(self, embedder, chunk_words: int, max_papers: int, max_bytes: float, max_passages: int = 0):
        self.embedder, self.chunk_words = embedder, chunk_words
        self.max_papers, self.max_bytes = max_papers, max_bytes
        self.max_passages = max_passages  # passages embedded in all (0 = no limit): bounds a visitor's embedding cost
        # charge(n) -> "" or why n more passages may not be embedded now (the web app's budget per client address)
        self.charge: Callable[[int], str] | None = None
        self.papers: dict[str, Paper] = {}
        self.hashes: dict[str, str] = {}
        self.keyword = KeywordIndex()
        self.bytes_added = 0.0
        self._passages: list[Passage] = []
        self._vectors = np.zeros((0, embedder.dim), dtype=np.float32)
        self._paper_vecs: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.papers)

    def own_id(self, paper: Paper, taken: set[str]) -> Paper:
        """The paper as this session keeps it: with an id that cannot shadow a collection paper,
        and without a local file path (a visitor's file names no file of this server's)."""
        pid = SESSION_PREFIX + paper.id if paper.id in taken and paper.id not in self.papers else paper.id
        return replace(paper, id=pid, pdf_path="")

    def check_room(self, n_new: int, size: float) -> None:
        if len(self.papers) + n_new > self.max_papers:
            raise CollectionError(
                f"a session may add at most {self.max_papers} papers (setting session_papers); "
                f"this one has {len(self.papers)} and the file adds {n_new}"
            )
        if self.bytes_added + size > self.max_bytes:
            raise CollectionError(
                f"a session may add at most {self.max_bytes / 1e6:g} MB of files (setting "
                f"session_mb); this file would bring it to {(self.bytes_added + size) / 1e6:.1f} MB"
            )

    def add(self, papers: list[Paper], size: float = 0.0) -> int:
        """Add or replace papers (the caller checked room and skipped unchanged ones); returns
        the number of passages embedded."""
        if not papers:
            return 0
        passages = [ps for p in papers for ps in chunk_paper(p, self.chunk_words)]
        kept = sum(1 for ps in self._passages if ps.paper_id not in {p.id for p in papers})
        if self.max_passages and kept + len(passages) > self.max_passages:
            raise CollectionError(
                f"a session's papers may have at most {self.max_passages} passages embedded (setting "
                f"session_passages); these papers have {len(passages)} and the session {kept}"
            )
        refused = self.charge(len(passages)) if self.charge is not None else ""
        if refused:
            raise CollectionError(refused)
        titles = {p.id: p.title for p in papers}
        vectors = self.embedder.embed([embed_text(titles[ps.paper_id], ps.text) for ps in passages])
        with self._lock:
            self._drop({p.id for p in papers})
            self._passages += passages
            self._vectors = np.concatenate([self._vectors, vectors]) if len(self._vectors) else vectors
            owner = np.array([ps.paper_id for ps in passages])
            for p in papers:
                v = vectors[owner == p.id].mean(axis=0)
                self._paper_vecs[p.id] = v / (np.linalg.norm(v) or 1.0)
                self.papers[p.id], self.hashes[p.id] = p, p.content_hash()
            self.keyword = self.keyword.with_tokens({p.id: tokenize(f"{p.title}\n{p.abstract}") for p in papers})
            self.bytes_added += size
        return len(passages)

    def remove(self, ids) -> list[str]:
        with self._lock:
            gone = [i for i in dict.fromkeys(ids) if i in self.papers]
            self._drop(set(gone))
            for i in gone:
                del self.papers[i], self.hashes[i], self._paper_vecs[i]
            if gone:
                self.keyword = self.keyword.with_tokens({}, remove=gone)
            return gone

    def _drop(self, ids: set[str]) -> None:
        keep = [i for i, ps in enumerate(self._passages) if ps.paper_id not in ids]
        if len(keep) != len(self._passages):
            self._passages = [self._passages[i] for i in keep]
            self._vectors = self._vectors[keep]

    # -- search (the same shapes as the index's) -------------------------------------------------
    def dense_passages(self, query_vec: np.ndarray, k: int, allowed: set[str] | None) -> list[DenseHit]:
        with self._lock:
            passages, vectors = self._passages, self._vectors
        if not passages:
            return []
        sims = vectors @ np.asarray(query_vec, dtype=np.float32)
        order = np.argsort(-sims)
        out = []
        for i in order:
            ps = passages[i]
            if allowed is not None and ps.paper_id not in allowed:
                continue
            out.append(DenseHit(ps.paper_id, ps.index, float(sims[i]), lambda ps=ps: ps))
            if len(out) >= k:
                break
        return out

    def dense_papers(self, query_vec: np.ndarray, k: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        with self._lock:
            items = [(pid, v) for pid, v in self._paper_vecs.items() if allowed is None or pid in allowed]
        q = np.asarray(query_vec, dtype=np.float32)
        scored = sorted(((pid, float(v @ q)) for pid, v in items), key=lambda x: -x[1])
        return scored[:k]

    def paper_vector(self, paper_id: str) -> np.ndarray | None:
        return self._paper_vecs.get(paper_id)

    @property
    def term_stats(self) -> KeywordIndex:
        return self.keyword

    def keyword_top(self, tokens: list[str], k: int, allowed: set[str] | None, stats) -> list[tuple[str, float]]:
        return self.keyword.top(tokens, k, allowed, stats)

    def passage_cosines(self, query_vec: np.ndarray, paper_ids) -> list[DenseHit]:
        """Nothing: a session's papers have no full text, so their passages are among the dense candidates."""
        return []

    def passages(self, paper: Paper) -> list[Passage]:
        return chunk_paper(paper, self.chunk_words)

    def passage(self, paper: Paper, index: int) -> Passage | None:
        own = self.passages(paper)
        return own[index] if 0 <= index < len(own) else None
