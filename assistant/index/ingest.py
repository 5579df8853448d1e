"""Ingest: papers in, passages embedded and written in batches.

Work is committed in batches of papers (in Chroma and in the local files): an interrupted
run keeps every finished batch, and a rerun skips them (their records carry the same
content hash).  While one batch is written (in a background thread), the next is embedded;
vectors come from the embedding cache when the same text was embedded before.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Protocol

import numpy as np

from ..chunking import chunk_paper, embed_text
from ..settings import Settings
from ..types import Paper, Passage
from . import sync
from .chroma import Chroma, is_connection_error, paper_meta
from .errors import IndexError_, IngestInterrupted
from .local import LocalIndex, Snapshot


class Target(Protocol):
    """What an ingest needs of the index it writes to (a store.Store)."""

    settings: Settings
    chroma: Chroma
    local: LocalIndex
    snapshot: Snapshot

    def catch_up(self) -> None: ...
    def recover(self) -> None: ...
    def embed(self, texts: list[str]) -> np.ndarray: ...

Progress = Callable[[int, int], None]

PIPELINE = True  # write batch i while embedding batch i+1


class Pipeline:
    """Runs `write(*batch)` in one background thread, in order, while the caller prepares the
    next batch.  At most two batches wait; the first error stops the writing and is raised
    in the caller (at its next put, or when the block ends)."""

    def __init__(self, write: Callable | None):
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = None
        if write is not None:
            self._thread = threading.Thread(target=self._run, args=(write,), name="index-writer", daemon=True)
            self._thread.start()

    def _run(self, write: Callable) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    write(*item)
                except BaseException as e:  # noqa: BLE001 - handed to the caller
                    self._error = e

    def put(self, *item) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._thread is None:
            return
        self._queue.put(None)  # finish the batches already embedded: each is committed whole
        self._thread.join()
        if self._error is not None and exc is None:
            raise self._error


def upsert(store: Target, papers: list[Paper], batch_papers: int, progress: Progress | None = None) -> int:
    """Embed and store `papers` (new or changed); returns the number of passages written.
    The caller holds the store's write lock."""
    count = {"passages": 0, "done": 0}
    store.catch_up()
    sync.clean_interrupted(store.chroma)
    todo = [p for p in papers if store.snapshot.hashes.get(p.id) != p.content_hash()]
    count["done"] = len(papers) - len(todo)  # already there (another process added them meanwhile)
    if progress:
        progress(count["done"], len(papers))

    def write(batch: list[Paper], passages: list[Passage], vectors: np.ndarray) -> None:
        write_papers(store, batch, passages, vectors)
        count["passages"] += len(passages)
        count["done"] += len(batch)
        if progress:
            progress(count["done"], len(papers))

    try:
        with Pipeline(write if PIPELINE else None) as pipeline:
            for b in range(0, len(todo), batch_papers):
                batch = todo[b:b + batch_papers]
                passages = [ps for p in batch for ps in chunk_paper(p, store.settings.chunk_words)]
                titles = {p.id: p.title for p in batch}
                vectors = store.embed([embed_text(titles[ps.paper_id], ps.text) for ps in passages])
                if PIPELINE:
                    pipeline.put(batch, passages, vectors)
                else:
                    write(batch, passages, vectors)
    except IndexError_:
        raise
    except Exception as e:
        if store.chroma.server and is_connection_error(e):
            raise  # the store's guard names the lost server
        store.recover()
        raise IngestInterrupted(
            f"the ingest stopped after {count['done']} of {len(papers)} new or changed papers "
            f"({type(e).__name__}: {e}). "
            f"The {count['done']} finished papers are in the index, each whole, and the index is usable; "
            "run the same ingest again to add the rest (finished papers are not embedded again).",
            count["done"], len(papers)) from e
    return count["passages"]


def write_papers(store: Target, batch: list[Paper], passages: list[Passage], vectors: np.ndarray) -> None:
    """One batch: its passages (vectors) and paper records (mean passage vector), committed whole."""
    from llama_index.core.schema import TextNode

    nodes = [TextNode(id_=ps.id, text=ps.text, embedding=vectors[i].tolist(),
                      metadata={"paper_id": ps.paper_id, "index": ps.index, "start": ps.start, "end": ps.end})
             for i, ps in enumerate(passages)]
    owner = np.array([ps.paper_id for ps in passages])
    means = {}
    for p in batch:
        c = vectors[owner == p.id].mean(axis=0)
        means[p.id] = c / (np.linalg.norm(c) or 1.0)

    def write_records(stamp: float) -> None:
        store.chroma.add(nodes, [TextNode(id_=p.id, text=p.abstract, embedding=means[p.id].tolist(),
                                          metadata=paper_meta(p, stamp)) for p in batch])

    store.snapshot = sync.write_batch(store.chroma, store.local, store.snapshot, [p.id for p in batch],
                                      write_records, upserted=batch)
