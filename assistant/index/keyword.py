"""Keyword (BM25) index over papers (terms from text.tokenize).

One BM25 document per paper (title + abstract, and the body of a full-text paper): keyword
evidence is strongest at paper level, and that is the unit results are grouped by.

The index is built to stay cheap as the collection grows, the way search engines do it:
papers live in immutable *segments* (numpy postings in both orientations: term -> papers
for scoring, paper -> terms for merging), saved once as .npy files and memory-mapped on
load.  Adding papers creates a small new segment; removing or replacing one only marks
it dead where it is.  The number of papers, their mean length and each term's document
frequency are kept live, so scores are exact BM25 after any change (the formula of
bm25s' default "lucene" variant, which this index replaced) and nothing is rebuilt
from every paper.  Small segments are merged as they pile up -- the newest into its
neighbour while it is at least half that size -- so N papers sit in O(log N) segments
and each paper is copied O(log N) times over the life of the index.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from assistant.text import tokenize

K1, B = 1.5, 0.75  # bm25s defaults
DF_CACHE_MAX = 100_000


def paper_text(title: str, abstract: str, body: Iterable[str] = ()) -> str:
    return "\n".join([title, abstract, *body])


# --- segments ---------------------------------------------------------------------------


class Segment:
    """Postings of a fixed set of papers; never changed once built (dead papers are masked)."""

    ARRAYS = ("lengths", "d_ptr", "d_term", "d_tf", "t_ptr", "t_doc", "t_tf")

    def __init__(self, name: str, ids: list[str], terms: list[str], arrays: dict[str, np.ndarray]):
        self.name, self.ids, self.terms = name, ids, terms
        self.term_id = {t: i for i, t in enumerate(terms)}
        for a in self.ARRAYS:
            setattr(self, a, arrays[a])

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, docs: list[tuple[str, list[str]]]) -> Segment:
        vocab: dict[str, int] = {}
        flat: list[int] = []
        lengths = np.zeros(len(docs), dtype=np.int32)
        for i, (_, tokens) in enumerate(docs):
            flat.extend([vocab.setdefault(t, len(vocab)) for t in tokens])
            lengths[i] = len(tokens)
        term = np.asarray(flat, dtype=np.int64)
        doc = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
        key, tf = np.unique(doc * max(1, len(vocab)) + term, return_counts=True)  # sorted by (doc, term)
        return cls._assemble(
            [d for d, _ in docs],
            list(vocab),
            lengths,
            (key // max(1, len(vocab))).astype(np.int32),
            (key % max(1, len(vocab))).astype(np.int32),
            np.minimum(tf, 65535).astype(np.uint16),
        )

    @classmethod
    def _assemble(cls, ids, terms, lengths, doc, term, tf) -> Segment:
        """From (doc, term, tf) entries sorted by doc: both orientations."""
        order = np.argsort(term, kind="stable")
        arrays = {
            "lengths": lengths.astype(np.int32),
            "d_ptr": _ptr(doc, len(ids)),
            "d_term": term,
            "d_tf": tf,
            "t_ptr": _ptr(term, len(terms)),
            "t_doc": doc[order],
            "t_tf": tf[order],
        }
        return cls(uuid.uuid4().hex[:12], list(ids), list(terms), arrays)

    @classmethod
    def merge(cls, parts: list[_Part]) -> Segment:
        """One segment holding the live papers of `parts`."""
        vocab: dict[str, int] = {}
        ids, lengths, docs, terms, tfs = [], [], [], [], []
        offset = 0
        for p in parts:
            s = p.seg
            remap = np.fromiter((vocab.setdefault(t, len(vocab)) for t in s.terms), dtype=np.int32, count=len(s.terms))
            live = np.flatnonzero(p.alive)
            new_index = np.cumsum(p.alive, dtype=np.int64) - 1 + offset  # old doc -> merged doc
            owner = np.repeat(np.arange(len(s), dtype=np.int64), np.diff(s.d_ptr))
            keep = p.alive[owner]
            docs.append(new_index[owner[keep]].astype(np.int32))
            terms.append(remap[s.d_term[keep]])
            tfs.append(np.asarray(s.d_tf)[keep])
            ids += [s.ids[i] for i in live]
            lengths.append(np.asarray(s.lengths)[live])
            offset += len(live)
        return cls._assemble(
            ids, list(vocab), np.concatenate(lengths), np.concatenate(docs), np.concatenate(terms), np.concatenate(tfs)
        )

    def doc_terms(self, i: int) -> np.ndarray:
        return np.asarray(self.d_term[self.d_ptr[i] : self.d_ptr[i + 1]])

    # -- files -----------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write seg-<name>/ once (to a temporary directory, then renamed: never half-written)."""
        final = directory / f"seg-{self.name}"
        if final.exists():
            return
        tmp = directory / f"tmp-{self.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        (tmp / "meta.json").write_text(json.dumps({"ids": self.ids, "terms": self.terms}), encoding="utf-8")
        for a in self.ARRAYS:
            np.save(tmp / f"{a}.npy", np.asarray(getattr(self, a)))
        try:
            os.rename(tmp, final)
        except OSError:  # written meanwhile by another process sharing the directory: same content
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path, name: str) -> Segment:
        d = directory / f"seg-{name}"
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        arrays = {a: np.load(d / f"{a}.npy", mmap_mode="r") for a in cls.ARRAYS}
        if len(arrays["lengths"]) != len(meta["ids"]) or len(arrays["t_ptr"]) != len(meta["terms"]) + 1:
            raise ValueError(f"keyword segment {d} is inconsistent")
        return cls(name, meta["ids"], meta["terms"], arrays)


def _ptr(keys: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=out[1:])
    return out


class _Part:
    """A segment with the mask of its live papers, their document frequencies and total length."""

    __slots__ = ("seg", "alive", "df", "live", "live_len")

    def __init__(self, seg: Segment, alive: np.ndarray | None = None, df: np.ndarray | None = None):
        self.seg = seg
        self.alive = np.ones(len(seg), dtype=bool) if alive is None else alive
        if df is None:
            df = np.diff(np.asarray(seg.t_ptr)).astype(np.int32)
            dead = np.flatnonzero(~self.alive)
            if len(dead):
                df -= np.bincount(np.concatenate([seg.doc_terms(i) for i in dead]), minlength=len(df)).astype(np.int32)
        self.df = df
        self.live = int(self.alive.sum())
        self.live_len = int(np.asarray(seg.lengths, dtype=np.int64)[self.alive].sum())

    def without(self, local: list[int]) -> _Part:
        alive = self.alive.copy()
        alive[local] = False
        gone = np.concatenate([self.seg.doc_terms(i) for i in local])
        return _Part(self.seg, alive, self.df - np.bincount(gone, minlength=len(self.df)).astype(np.int32))


def _compact(parts: list[_Part]) -> list[_Part]:
    parts = [p for p in parts if p.live]
    # a segment that is mostly dead is rewritten with its live papers
    parts = [_Part(Segment.merge([p])) if p.live < 0.7 * len(p.seg) and len(p.seg) > 64 else p for p in parts]
    while len(parts) >= 2 and 2 * parts[-1].live >= parts[-2].live:
        parts[-2:] = [_Part(Segment.merge(parts[-2:]))]
    return parts


# --- the index ----------------------------------------------------------------------------


class KeywordIndex:
    """BM25 over papers.  Immutable: `updated()` returns a new index and leaves this one as
    it was, so searches running meanwhile keep a consistent view."""

    def __init__(self, tokens: dict[str, list[str]] | None = None):
        self._set_parts([_Part(Segment.build(list(tokens.items())))] if tokens else [])

    def _set_parts(self, parts: list[_Part], where: dict[str, tuple[str, int]] | None = None) -> None:
        self._parts = tuple(parts)
        self._index = {p.seg.name: k for k, p in enumerate(parts)}
        if where is None:
            where = {pid: (p.seg.name, i) for p in parts for i, pid in enumerate(p.seg.ids) if p.alive[i]}
        self._where = where  # paper id -> (segment name, position in it)
        self.n_docs = len(where)
        self.total_len = sum(p.live_len for p in parts)
        self._df_cache: dict[str, int] = {}

    @classmethod
    def _of(cls, parts: list[_Part], where: dict[str, tuple[str, int]] | None = None) -> KeywordIndex:
        ki = cls.__new__(cls)
        ki._set_parts(parts, where)
        return ki

    def _locate(self, paper_id: str) -> tuple[_Part, int]:
        name, i = self._where[paper_id]
        return self._parts[self._index[name]], i

    # -- reading --------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.n_docs

    def __contains__(self, paper_id: str) -> bool:
        return paper_id in self._where

    @property
    def ids(self) -> list[str]:
        return list(self._where)

    @property
    def segments(self) -> int:
        return len(self._parts)

    def terms(self, paper_id: str) -> list[str]:
        """The paper's distinct index terms."""
        part, i = self._locate(paper_id)
        return [part.seg.terms[t] for t in part.seg.doc_terms(i)]

    @property
    def tokens(self) -> Mapping[str, list[str]]:
        """paper id -> its distinct index terms (read on demand)."""
        return _Terms(self)

    def df(self, token: str) -> int:
        """Number of live papers containing `token`."""
        n = self._df_cache.get(token)
        if n is None:
            n = 0
            for p in self._parts:
                t = p.seg.term_id.get(token)
                if t is not None:
                    n += int(p.df[t])
            if len(self._df_cache) >= DF_CACHE_MAX:  # a server sees endless new query words
                self._df_cache.clear()
            self._df_cache[token] = n
        return n

    def idf(self, token: str) -> float:
        """Smoothed inverse document frequency; a token no paper contains gets the highest value."""
        return math.log((self.n_docs + 1) / (self.df(token) + 0.5))

    def top(
        self, query_tokens: list[str], k: int, allowed: set[str] | None = None, stats: Corpus | None = None
    ) -> list[tuple[str, float]]:
        """The k best papers by BM25 (score > 0), best first; only `allowed` ones if given.
        `stats`: the collection statistics to score with (default this index's own; a
        visitor's papers are scored with the whole collection's, so scores compare)."""
        stats = stats or self
        if not self.n_docs or k < 1:
            return []
        n, avgdl = stats.n_docs, stats.total_len / stats.n_docs
        weights = {}
        for t, mult in Counter(query_tokens).items():  # a repeated query word counts again, as in bm25s
            df = stats.df(t)
            if df:
                weights[t] = mult * math.log(1 + (n - df + 0.5) / (df + 0.5))
        if not weights:
            return []
        allowed_at = None
        if allowed is not None:
            allowed_at = [[] for _ in self._parts]
            for pid in allowed:
                if pid in self._where:
                    name, i = self._where[pid]
                    allowed_at[self._index[name]].append(i)
        found = []  # (scores, part, local index) of every paper with a positive score
        for kk, p in enumerate(self._parts):
            s = _segment_scores(p, weights, avgdl)
            if s is None:
                continue
            s[~p.alive] = 0.0
            if allowed_at is not None:
                keep = np.zeros(len(s), dtype=bool)
                keep[allowed_at[kk]] = True
                s[~keep] = 0.0
            idx = np.flatnonzero(s > 0)
            found.append((s[idx], np.full(len(idx), kk), idx))
        if not found:
            return []
        s, part, local = (np.concatenate(x) for x in zip(*found))
        if not len(s):
            return []
        k = min(k, len(s))
        best = np.argpartition(-s, k - 1)[:k]
        hits = [(self._parts[part[i]].seg.ids[local[i]], float(s[i])) for i in best]
        return sorted(hits, key=lambda h: (-h[1], h[0]))

    # -- changes --------------------------------------------------------------------------
    def updated(self, upsert: dict[str, tuple] | None = None, remove: Iterable[str] = ()) -> KeywordIndex:
        """A new index with `upsert` (id -> (title, abstract) or (title, abstract, body texts))
        added or replaced and `remove` gone.

        Only the upserted papers are tokenised; the papers they replace are only masked.
        """
        upsert = upsert or {}
        return self.with_tokens({pid: tokenize(paper_text(*doc)) for pid, doc in upsert.items()}, remove)

    def with_tokens(self, tokens: dict[str, list[str]], remove: Iterable[str] = ()) -> KeywordIndex:
        changed = set(remove) | set(tokens)
        gone: dict[str, list[int]] = {}
        for pid in changed:
            if pid in self._where:
                name, i = self._where[pid]
                gone.setdefault(name, []).append(i)
        parts = [p.without(sorted(gone[p.seg.name])) if p.seg.name in gone else p for p in self._parts]
        if tokens:
            parts.append(_Part(Segment.build(list(tokens.items()))))
        parts = _compact(parts)
        # the id map is patched, not rebuilt: O(papers changed + papers merged), not O(N)
        where = dict(self._where)
        for pid in changed:
            where.pop(pid, None)
        for p in parts:
            if p.seg.name not in self._index:  # new or merged segment
                where.update((pid, (p.seg.name, i)) for i, pid in enumerate(p.seg.ids) if p.alive[i])
        return self._of(parts, where)

    # -- files ----------------------------------------------------------------------------
    def save(self, directory: Path) -> dict:
        """Write the segments not yet on disk; returns the state that `load` needs (small JSON)."""
        directory.mkdir(parents=True, exist_ok=True)
        for p in self._parts:
            p.seg.save(directory)
        return {"segments": [{"name": p.seg.name, "dead": np.flatnonzero(~p.alive).tolist()} for p in self._parts]}

    @classmethod
    def load(cls, directory: Path, state: dict) -> KeywordIndex:
        parts = []
        for s in state.get("segments", []):
            seg = Segment.load(directory, s["name"])
            alive = np.ones(len(seg), dtype=bool)
            alive[s["dead"]] = False
            parts.append(_Part(seg, alive))
        return cls._of(parts)

    @staticmethod
    def remove_unused(directory: Path, keep: set[str], min_age: float = 600.0) -> None:
        """Delete segment files no state refers to (after `min_age` s: another process sharing
        the directory may have written one it has not committed yet)."""
        if not directory.exists():
            return
        now = time.time()
        for d in directory.iterdir():
            name = d.name.split("-", 1)[1] if d.name.startswith(("seg-", "tmp-")) else None
            if name is None or (d.name.startswith("seg-") and name in keep):
                continue
            try:
                if now - d.stat().st_mtime >= min_age:
                    shutil.rmtree(d, ignore_errors=True)
            except FileNotFoundError:
                pass


class Corpus:
    """The statistics of two indexes taken as one collection (BM25 and the relevance gate)."""

    def __init__(self, *indexes: KeywordIndex):
        self._indexes = indexes
        self.n_docs = sum(i.n_docs for i in indexes)
        self.total_len = sum(i.total_len for i in indexes)

    def __len__(self) -> int:
        return self.n_docs

    def df(self, token: str) -> int:
        return sum(i.df(token) for i in self._indexes)

    def idf(self, token: str) -> float:
        return math.log((self.n_docs + 1) / (self.df(token) + 0.5))

    def terms(self, paper_id: str) -> list[str]:
        return next((i.terms(paper_id) for i in self._indexes if paper_id in i), [])


def _segment_scores(p: _Part, weights: dict[str, float], avgdl: float) -> np.ndarray | None:
    seg = p.seg
    s = None
    for t, w in weights.items():
        j = seg.term_id.get(t)
        if j is None:
            continue
        a, b = seg.t_ptr[j], seg.t_ptr[j + 1]
        if a == b:
            continue
        docs = np.asarray(seg.t_doc[a:b])
        tf = np.asarray(seg.t_tf[a:b], dtype=np.float32)
        norm = K1 * ((1 - B) + B * np.asarray(seg.lengths[docs], dtype=np.float32) / avgdl)
        if s is None:
            s = np.zeros(len(seg), dtype=np.float32)
        s[docs] += np.float32(w) * tf / (tf + norm)  # a term's postings hold each paper once
    return s


class _Terms(Mapping):
    def __init__(self, ki: KeywordIndex):
        self._ki = ki

    def __getitem__(self, pid: str) -> list[str]:
        if pid not in self._ki:
            raise KeyError(pid)
        return self._ki.terms(pid)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ki.ids)

    def __len__(self) -> int:
        return len(self._ki)
