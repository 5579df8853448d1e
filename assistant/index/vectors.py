"""Passage vectors cached by a hash of the embedded text (and the model that embedded it).

Embedding is nearly all of an ingest's cost (~60 passages/s on two cores), and the same
text is often embedded again: a paper re-added with only its URL changed, `reindex` after
the vector store was lost, a move from the embedded store to a Chroma server, a second
index directory over the same papers.  A hit returns the stored vector; texts never seen
are embedded as usual.  The cache is a single SQLite file, safe for several processes.
It is an optimisation only: if it cannot be read or written, ingest goes on without it.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_CHUNK = 500  # keys per SELECT (SQLite limits the number of bound parameters)


class VectorCache:
    def __init__(self, path: Path, model_key: str, dim: int):
        self.path, self.model_key, self.dim = Path(path), model_key, dim
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.hits = self.misses = 0

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a lost last transaction only means re-embedding it
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL) WITHOUT ROWID")
            self._db = db
        return self._db

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.model_key}\0{text}".encode()).digest()[:16]

    def get(self, texts: list[str]) -> list[np.ndarray | None]:
        """The cached vector of each text, or None."""
        keys = [self._key(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        try:
            with self._lock:
                db = self._conn()
                for i in range(0, len(keys), _CHUNK):
                    chunk = keys[i : i + _CHUNK]
                    rows = db.execute(
                        f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk
                    )
                    for k, v in rows:
                        vec = np.frombuffer(v, dtype=np.float32)
                        if len(vec) == self.dim:
                            found[k] = vec
        except (sqlite3.Error, OSError) as e:
            log.warning("embedding cache %s unreadable (%s); embedding without it", self.path, e)
        out = [found.get(k) for k in keys]
        hits = sum(v is not None for v in out)
        self.hits += hits
        self.misses += len(out) - hits
        return out

    def put(self, texts: list[str], vectors: np.ndarray) -> None:
        rows = [(self._key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vectors)]
        try:
            with self._lock:
                db = self._conn()
                with db:
                    db.executemany("INSERT OR IGNORE INTO vectors (key, vec) VALUES (?, ?)", rows)
        except (sqlite3.Error, OSError) as e:
            log.warning("embedding cache %s not written (%s)", self.path, e)

    def embed(self, embedder, texts: list[str]) -> tuple[np.ndarray, int]:
        """Vectors for `texts` (cached ones reused, the rest embedded and cached); also the number embedded."""
        cached = self.get(texts)
        todo = [i for i, v in enumerate(cached) if v is None]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, v in enumerate(cached):
            if v is not None:
                out[i] = v
        if todo:
            fresh = embedder.embed([texts[i] for i in todo])
            out[todo] = fresh
            self.put([texts[i] for i in todo], fresh)
        return out, len(todo)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
