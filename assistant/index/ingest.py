"""Ingest: papers in, passages embedded and written in batches.

Work is committed in batches of papers (in Chroma and in the local files): an interrupted
run keeps every finished batch, and a rerun skips them (their records carry the same
content hash).  A batch holds `batch_papers` papers, or fewer when they have many passages
(full-text papers): at most BATCH_PASSAGES_PER_PAPER x `batch_papers` passages, so a batch of
PDFs costs about as much as a batch of abstracts.  While one batch is written (in a background thread), the next is embedded;
vectors come from the embedding cache when the same text was embedded before.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from assistant.index import sync
from assistant.index.chroma import Chroma, is_connection_error, paper_meta, passage_meta
from assistant.index.errors import IndexProblem, IngestInterrupted
from assistant.index.local import LocalIndex, Snapshot
from assistant.ingest.chunking import abstract_passages, passage_embed_text
from assistant.settings import Settings
from assistant.types import Paper, Passage


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
BATCH_PASSAGES_PER_PAPER = 4  # an abstract makes ~3 passages: a batch of full text is as big as one of abstracts


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


def upsert(
    store: Target,
    papers: list[Paper],
    batch_papers: int,
    progress: Progress | None = None,
    bodies: dict[str, list[Passage]] | None = None,
) -> int:
    """Embed and store `papers` (new or changed; `bodies`: the body passages of the full-text
    ones); returns the number of passages written.  The caller holds the store's write lock."""
    bodies = bodies or {}
    count = {"passages": 0, "done": 0}
    store.catch_up()
    sync.clean_interrupted(store.chroma)
    todo = [p for p in papers if store.snapshot.hashes.get(p.id) != p.content_hash()]
    count["done"] = len(papers) - len(todo)  # already there (another process added them meanwhile)
    if progress:
        progress(count["done"], len(papers))

    def write(batch: list[Paper], passages: list[Passage], vectors: np.ndarray) -> None:
        write_papers(store, batch, passages, vectors, {p.id: bodies[p.id] for p in batch if p.id in bodies})
        count["passages"] += len(passages)
        count["done"] += len(batch)
        if progress:
            progress(count["done"], len(papers))

    if todo and hasattr(store.embedder, "load"):  # (an embedder may be any object with embed(), dim, ...)
        store.embedder.load()  # a model that cannot be had is named as such, not as an interrupted ingest
    planned = list(batches(todo, bodies, store.settings.chunk_words, batch_papers))
    embedded = Embedded(getattr(progress, "passages", None), sum(len(ps) for _, ps in planned))
    try:
        with Pipeline(write if PIPELINE else None) as pipeline:
            for batch, passages in planned:
                titles = {p.id: p.title for p in batch}
                vectors = embedded.embed(store, [passage_embed_text(titles[ps.paper_id], ps) for ps in passages])
                if PIPELINE:
                    pipeline.put(batch, passages, vectors)
                else:
                    write(batch, passages, vectors)
    except IndexProblem:
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
            count["done"],
            len(papers),
        ) from e
    return count["passages"]


EMBED_STEP = 64  # passages embedded between two reports to a passages progress callback


class Embedded:
    """Embeds a batch's texts, telling `report(done, total)` (a progress callback's optional
    `passages` attribute: the CLI's bar, the web app's) how many passages of the ingest are done."""

    def __init__(self, report: Progress | None, total: int):
        self.report, self.total, self.done = report, total, 0

    def embed(self, store: Target, texts: list[str]) -> np.ndarray:
        if self.report is None:
            return store.embed(texts)
        parts = []
        for i in range(0, len(texts), EMBED_STEP):
            parts.append(store.embed(texts[i : i + EMBED_STEP]))
            self.done += len(texts[i : i + EMBED_STEP])
            self.report(self.done, self.total)
        return np.vstack(parts) if parts else store.embed(texts)


def batches(
    papers: list[Paper], bodies: dict[str, list[Passage]], chunk_words: int, batch_papers: int
) -> Iterator[tuple[list[Paper], list[Passage]]]:
    """(papers, their passages) in batches of at most `batch_papers` papers and, with full-text
    papers among them, about BATCH_PASSAGES_PER_PAPER x as many passages (a paper is never split)."""
    most = BATCH_PASSAGES_PER_PAPER * batch_papers if bodies else float("inf")
    batch: list[Paper] = []
    passages: list[Passage] = []
    for p in papers:
        mine = abstract_passages(p, chunk_words) + bodies.get(p.id, [])
        if batch and (len(batch) >= batch_papers or len(passages) + len(mine) > most):
            yield batch, passages
            batch, passages = [], []
        batch.append(p)
        passages += mine
    if batch:
        yield batch, passages


def write_papers(
    store: Target,
    batch: list[Paper],
    passages: list[Passage],
    vectors: np.ndarray,
    bodies: dict[str, list[Passage]] | None = None,
) -> None:
    """One batch: its passages (vectors) and paper records (mean passage vector), committed whole."""
    from llama_index.core.schema import TextNode

    nodes = [
        TextNode(id_=ps.id, text=ps.text, embedding=vectors[i].tolist(), metadata=passage_meta(ps))
        for i, ps in enumerate(passages)
    ]
    owner = np.array([ps.paper_id for ps in passages])
    means = {}
    for p in batch:
        c = vectors[owner == p.id].mean(axis=0)
        means[p.id] = c / (np.linalg.norm(c) or 1.0)

    def write_records(stamp: float) -> None:
        store.chroma.add(
            nodes,
            [
                TextNode(id_=p.id, text=p.abstract, embedding=means[p.id].tolist(), metadata=paper_meta(p, stamp))
                for p in batch
            ],
        )

    change = sync.Change(upserted=batch, bodies=bodies)
    store.snapshot = sync.write_batch(store.chroma, store.local, store.snapshot, change, write_records)
