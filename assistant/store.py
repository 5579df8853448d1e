"""The persisted index: the only module that touches Chroma and index_store/.

Layout of one index (its directory name is a hash of the settings that shape it, so a
change of embedding model or chunking never reuses a stale index):

    index_store/papers-<hash>/
        local.sqlite, keyword/   paper records and BM25 segments: a local, derived copy
                                 that makes start-up fast (local_index.py)
        chroma/                  embedded Chroma (absent in server mode)
    index_store/_cache/vectors.sqlite   passage vectors by text hash (vector_cache.py)

Chroma is the source of truth, embedded or a server shared by several processes.  Three
collections per index:
    <name>-passages   one vector per passage
    <name>-papers     one record per paper: abstract, metadata, content hash, the Chroma
                      clock time it was written, and the mean of its passage vectors
    <name>-writes     a note per batch being written, listing its papers

A batch is written as: note, delete the papers' old records and passages, add the new
passages, add the paper records, drop the note.  So a paper with a record is complete.
A writer that dies leaves its note behind, and the passages of the papers it lists that
have no record are removed by the next writer -- at once in embedded mode (that writer
holds the index's lock, so no one else is writing), after STALE_WRITE seconds on a
server (where another live process may own the note).

The papers collection's metadata holds a state token, replaced by a random one before
and after every batch.  A view whose token differs from Chroma's is brought up to date
incrementally: the records written since its last read (with a margin for clocks), and
an id listing when the counts still disagree (removals).  With a Chroma server, each
process keeps its own local files and follows the others this way; a writer re-reads
after its own writes, so changes that raced with it are never lost from its view.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from .chunking import chunk_paper, embed_text
from .keyword import KeywordIndex
from .local_index import LocalIndex, Snapshot
from .settings import Settings
from .types import Paper, Passage
from .vector_cache import VectorCache

log = logging.getLogger(__name__)

STALE_WRITE = 600.0    # s: a batch note this old belongs to a writer that died
CLOCK_MARGIN = 60.0    # s: re-read records written this long before the last read
PAGE = 2000            # records per Chroma get (one get of ~50k records fails: "too many SQL variables")
ID_PAGE = 20000        # ids per id listing
HTTP_TIMEOUT = 30.0    # s: a Chroma server request that takes longer is a lost server, not a slow one
CONNECT_TIMEOUT = 5.0

__all__ = ["Store", "Snapshot", "DenseHit", "IndexError_", "StoreUnavailable", "IngestInterrupted"]


class IndexError_(RuntimeError):
    """The index cannot be used as it is; the message says what to do."""


class StoreUnavailable(IndexError_):
    """The Chroma server cannot be reached."""


class IngestInterrupted(IndexError_):
    """An ingest failed partway: the papers of finished batches are in the index, whole; the
    others are not (the index stays usable, and rerunning the ingest completes it)."""

    def __init__(self, message: str, done: int, total: int):
        super().__init__(message)
        self.done, self.total = done, total


class DenseHit:
    """A passage found by vector search; its text is cut from the paper only when asked for
    (a search looks at 100 candidates and shows about 10)."""

    __slots__ = ("paper_id", "passage_index", "similarity", "_paper")

    def __init__(self, paper_id: str, passage_index: int, similarity: float, paper: Callable[[], Paper | None],
                 chunk_words: int):
        self.paper_id, self.passage_index, self.similarity = paper_id, passage_index, similarity
        self._paper = (paper, chunk_words)

    @property
    def text(self) -> str:
        get, chunk_words = self._paper
        paper = get()
        if paper is None:
            return ""
        passages = chunk_paper(paper, chunk_words)
        return passages[self.passage_index].text if self.passage_index < len(passages) else ""


class Store:
    def __init__(self, settings: Settings, embedder, allow_broken: bool = False):
        self.settings = settings
        self.embedder = embedder
        self.url = settings.chroma_url.strip()
        self.root = Path(settings.index_dir) / settings.index_name()
        self.root.mkdir(parents=True, exist_ok=True)
        self.local = LocalIndex(self.root, settings.index_fingerprint())
        self.cache = self._vector_cache()
        self._write_lock = threading.RLock()
        self._last_sync_check = time.monotonic()
        self.problem = ""  # why the index cannot serve searches (set only with allow_broken)
        self.snapshot = Snapshot()
        with self._guard():
            self._client = self._connect()
            name = settings.index_name()
            self._passages = self._collection(f"{name}-passages")
            self._papers_col = self._collection(f"{name}-papers")
            self._writes = self._collection(f"{name}-writes")
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self.passage_store = ChromaVectorStore(chroma_collection=self._passages)
            self.paper_store = ChromaVectorStore(chroma_collection=self._papers_col)
            try:
                self.snapshot = self._open_snapshot()
            except IndexError_ as e:
                if not allow_broken or isinstance(e, StoreUnavailable):
                    raise
                self.problem = str(e)
            with self._writing(wait=False) as mine:
                if mine:
                    self._clean_interrupted()

    # -- connection ---------------------------------------------------------------------------
    def _connect(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if not self.url:
            return chromadb.PersistentClient(path=str(self.root / "chroma"), settings=chroma_settings)
        from urllib.parse import urlparse

        import httpx

        u = urlparse(self.url if "://" in self.url else f"http://{self.url}")
        if not u.hostname:
            raise StoreUnavailable(f"chroma_url {self.url!r} is not a URL like http://127.0.0.1:8000")
        port = u.port or (443 if u.scheme == "https" else 8000)
        try:
            # Probe with a timeout first: chromadb's client has none, and would wait forever on a hung server.
            httpx.get(f"{u.scheme or 'http'}://{u.hostname}:{port}/api/v2/heartbeat",
                      timeout=CONNECT_TIMEOUT).raise_for_status()
            client = chromadb.HttpClient(host=u.hostname, port=port, ssl=u.scheme == "https", settings=chroma_settings)
        except Exception as e:  # noqa: BLE001 - any failure here means "cannot use the server"
            raise StoreUnavailable(f"cannot reach the Chroma server at {self.url}: {type(e).__name__}: {e}. "
                                   "Start it with `chroma run --path DIR --host 127.0.0.1 --port N` "
                                   "or unset ASSISTANT_CHROMA_URL to use the embedded store.") from None
        session = getattr(getattr(client, "_server", None), "_session", None)
        if session is not None:
            session.timeout = httpx.Timeout(HTTP_TIMEOUT, connect=CONNECT_TIMEOUT)
        return client

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """In server mode, a dropped connection becomes StoreUnavailable with what to do."""
        try:
            yield
        except IndexError_:
            raise
        except Exception as e:
            if not self.url or not _is_connection_error(e):
                raise
            raise StoreUnavailable(
                f"lost the Chroma server at {self.url} ({type(e).__name__}: {e}). Papers already ingested are "
                "safe on the server; restart it (`chroma run --path DIR ...`) and retry.") from None

    def _collection(self, name: str):
        # embedding_function=None: we always pass vectors; Chroma's default would download a model.
        col = self._client.get_or_create_collection(
            name, configuration={"hnsw": {"space": "cosine", "ef_search": EF_SEARCH}}, embedding_function=None)
        hnsw = (getattr(col, "configuration_json", None) or {}).get("hnsw") or {}
        if hnsw.get("ef_search", EF_SEARCH) < EF_SEARCH:  # an index made before this setting
            col.modify(configuration={"hnsw": {"ef_search": EF_SEARCH}})
        return col

    def _vector_cache(self) -> VectorCache | None:
        where = self.settings.embed_cache.strip()
        if where.lower() == "off":
            return None
        path = Path(where) if where else Path(self.settings.index_dir) / "_cache" / "vectors.sqlite"
        return VectorCache(path, getattr(self.embedder, "model_key", self.settings.embed_model),
                           getattr(self.embedder, "dim", 384))

    def _clock(self) -> float:
        """Chroma's clock in seconds (the server's, so every client stamps records alike)."""
        return self._client.heartbeat() / 1e9 if self.url else time.time()

    def _state(self) -> str:
        meta = self._client.get_collection(self._papers_col.name, embedding_function=None).metadata or {}
        return str(meta.get("state", ""))

    def _mark(self) -> str:
        token = uuid.uuid4().hex
        self._papers_col.modify(metadata={"state": token})
        return token

    # -- opening and following Chroma -----------------------------------------------------------
    def _open_snapshot(self) -> Snapshot:
        on_disk = self.local.fingerprint_on_disk()
        if on_disk and on_disk != self.local.fingerprint:
            raise IndexError_(f"the index in {self.root} was built with other settings ({on_disk}); "
                              "delete that directory to rebuild it")
        local = self.local.load()
        count = self._papers_col.count()
        if local and local.papers and count == 0:
            raise IndexError_(
                f"the local index in {self.root} lists {len(local.papers)} papers but the vector store is empty "
                "(Chroma files deleted, or another Chroma server). Run `paper-assistant reindex` to re-embed the "
                "stored papers, or delete the directory to start over.")
        if count:
            self._check_dimension()
        if local and local.state and local.state == self._state() and len(local.papers) == count:
            return local
        if local is None and count:
            log.info("reading %d papers from Chroma into %s", count, self.root)
        return self._synced(local or Snapshot())

    def _check_dimension(self) -> None:
        """Vectors of another length were written by another embedding model (a collection
        shared by mistake, a renamed model): say so at start-up, not at the first search."""
        got = self._passages.get(limit=1, include=["embeddings"])["embeddings"]
        want = getattr(self.embedder, "dim", None)
        if got is None or len(got) == 0 or not want or len(got[0]) == want:
            return
        where = f"the collection {self._passages.name!r} on {self.url}" if self.url else str(self.root)
        raise IndexError_(
            f"the vectors in {where} have {len(got[0])} dimensions but {self.settings.embed_model} makes {want}: "
            "another embedding model wrote them. Delete that index (or use another index_dir) and ingest the "
            "papers again.")

    def _synced(self, base: Snapshot) -> Snapshot:
        """`base` brought up to date with Chroma, saved locally."""
        state, now = self._state(), self._clock()  # read before the records: a change after this is seen next time
        if base.papers:
            records = self._records(where={"written": {"$gte": base.synced_at - CLOCK_MARGIN}})
        else:
            records = self._records(ids=self._all_ids())
        changed = {p.id: (p, h) for p, h in records if base.hashes.get(p.id) != h}
        known = set(base.papers) | set(changed)
        removed: list[str] = []
        if len(known) != self._papers_col.count():  # removals, or records written by older code
            ids = set(self._all_ids())
            removed = [pid for pid in base.papers if pid not in ids]
            changed.update({p.id: (p, h) for p, h in self._records(ids=[i for i in ids if i not in known])})
        if not changed and not removed:
            return self._save(replace(base, state=state, synced_at=now))
        papers = {k: v for k, v in base.papers.items() if k not in removed}
        hashes = {k: v for k, v in base.hashes.items() if k not in removed}
        for pid, (p, h) in changed.items():
            papers[pid], hashes[pid] = p, h
        keyword = base.keyword.updated({p.id: (p.title, p.abstract) for p, _ in changed.values()}, remove=removed)
        snap = Snapshot(papers, hashes, keyword, state, now, base.version)
        return self._save(snap, [p for p, _ in changed.values()], removed)

    def _all_ids(self) -> list[str]:
        ids: list[str] = []
        while True:
            got = self._papers_col.get(include=[], limit=ID_PAGE, offset=len(ids))["ids"]
            ids += got
            if len(got) < ID_PAGE:
                return list(dict.fromkeys(ids))

    def _records(self, ids: list[str] | None = None, where: dict | None = None) -> list[tuple[Paper, str]]:
        """(paper, content hash) of the records with these ids, or matching `where`, in pages."""
        out: list[tuple[Paper, str]] = []

        def take(got) -> int:
            for pid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"]):
                out.append((_paper_from_meta(pid, meta, doc), meta.get("content_hash", "")))
            return len(got["ids"])

        if ids is not None:
            for i in range(0, len(ids), PAGE):
                take(self._papers_col.get(ids=ids[i:i + PAGE], include=["metadatas", "documents"]))
            return out
        offset = 0
        while take(self._papers_col.get(where=where, include=["metadatas", "documents"], limit=PAGE,
                                        offset=offset)) == PAGE:
            offset += PAGE
        return out

    def maybe_sync(self, every: float = 2.0) -> None:
        """Pick up changes other processes made on a shared Chroma server (checked at most every `every` s)."""
        if not self.url:
            return
        now = time.monotonic()
        if now - self._last_sync_check < every:
            return
        self._last_sync_check = now
        if not self._write_lock.acquire(blocking=False):
            return  # this process is writing; its own commits keep the view current
        try:
            with self._guard():
                if self._state() != self.snapshot.state:
                    self.snapshot = self._synced(self.snapshot)
        finally:
            self._write_lock.release()

    def _save(self, snap: Snapshot, upserted: Iterable[Paper] = (), removed: Iterable[str] = ()) -> Snapshot:
        version = self.local.save(snap, upserted, removed)
        # -1: the files missed a change, so the next save writes the whole view
        return replace(snap, version=version if version is not None else -1)

    # -- writes ---------------------------------------------------------------------------------
    @contextmanager
    def _writing(self, wait: bool = True) -> Iterator[bool]:
        """One writer at a time in this process, plus an advisory lock across processes
        (which, in embedded mode, is what makes every leftover batch note a dead writer's)."""
        import fcntl

        with self._write_lock, open(self.root / ".write.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    yield False
                    return
                raise IndexError_(f"another process is writing to the index in {self.root}; "
                                  "wait for it, or use a Chroma server for several processes") from None
            yield True

    def _catch_up(self) -> None:
        if self.url and self._state() != self.snapshot.state:
            self.snapshot = self._synced(self.snapshot)

    def _clean_interrupted(self) -> None:
        """Remove the passages of papers whose batch was cut off (the writer died mid-batch)."""
        got = self._writes.get(include=["metadatas"])
        if not got["ids"]:
            return
        now = self._clock()
        notes = [(wid, json.loads(m.get("papers", "[]")), m.get("started", 0.0)) for wid, m in zip(got["ids"], got["metadatas"])]
        dead = {wid for wid, _, started in notes if not self.url or now - started > STALE_WRITE}
        busy = {pid for wid, ids, _ in notes if wid not in dead for pid in ids}  # a live writer's papers
        for wid, ids, _ in notes:
            if wid not in dead:
                continue
            ids = [i for i in ids if i not in busy]
            have = set(self._papers_col.get(ids=ids, include=[])["ids"]) if ids else set()
            orphans = [i for i in ids if i not in have]
            if orphans:
                log.warning("removing passages of %d paper(s) from an interrupted ingest", len(orphans))
                self._passages.delete(where={"paper_id": {"$in": orphans}})
            self._writes.delete(ids=[wid])

    def upsert(self, papers: list[Paper], batch_papers: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> int:
        """Embed and store `papers` (new or changed); returns the number of passages written.

        Work is committed in batches of papers (in Chroma and in the local files): an
        interrupted run keeps every finished batch, and a rerun skips them (their records
        carry the same content hash).  While one batch is written, the next is embedded.
        Vectors come from the embedding cache when the same text was embedded before.
        """
        if not papers:
            return 0
        batch_papers = batch_papers or self.settings.ingest_batch
        count = {"passages": 0, "done": 0}
        with self._guard(), self._writing():
            self._catch_up()
            self._clean_interrupted()
            todo = [p for p in papers if self.snapshot.hashes.get(p.id) != p.content_hash()]
            count["done"] = len(papers) - len(todo)  # already there (another process added them meanwhile)
            if progress:
                progress(count["done"], len(papers))

            def write(batch: list[Paper], passages: list[Passage], vectors: np.ndarray) -> None:
                self._write_papers(batch, passages, vectors)
                count["passages"] += len(passages)
                count["done"] += len(batch)
                if progress:
                    progress(count["done"], len(papers))

            try:
                with _Pipeline(write if PIPELINE else None) as pipeline:
                    for b in range(0, len(todo), batch_papers):
                        batch = todo[b:b + batch_papers]
                        passages = [ps for p in batch for ps in chunk_paper(p, self.settings.chunk_words)]
                        titles = {p.id: p.title for p in batch}
                        vectors = self._embed([embed_text(titles[ps.paper_id], ps.text) for ps in passages])
                        if PIPELINE:
                            pipeline.put(batch, passages, vectors)
                        else:
                            write(batch, passages, vectors)
            except IndexError_:
                raise
            except Exception as e:
                if self.url and _is_connection_error(e):
                    raise  # _guard names the lost server
                self._recover()
                raise IngestInterrupted(
                    f"the ingest stopped after {count['done']} of {len(papers)} new or changed papers "
                    f"({type(e).__name__}: {e}). "
                    f"The {count['done']} finished papers are in the index, each whole, and the index is usable; "
                    "run the same ingest again to add the rest (finished papers are not embedded again).",
                    count["done"], len(papers)) from e
            if self.url:
                self.snapshot = self._synced(self.snapshot)
        return count["passages"]

    def _recover(self) -> None:
        """After a failed batch in this process: drop what it half-wrote and re-read the view
        from Chroma, so searches never see a paper whose passages are gone (best effort: the
        next start does the same)."""
        try:
            self._clean_interrupted()
            self.snapshot = self._synced(self.snapshot)
        except Exception as e:  # noqa: BLE001 - the original error is the one to report
            log.warning("could not tidy up after the failed ingest (%s); the next start will", e)

    def _write_papers(self, batch: list[Paper], passages: list[Passage], vectors: np.ndarray) -> None:
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
            self.passage_store.add(nodes)
            self.paper_store.add([TextNode(id_=p.id, text=p.abstract, embedding=means[p.id].tolist(),
                                           metadata=_paper_meta(p, stamp)) for p in batch])

        self._write_batch([p.id for p in batch], write_records, upserted=batch)

    def remove(self, ids: Iterable[str]) -> list[str]:
        with self._guard(), self._writing():
            self._catch_up()
            ids = [i for i in dict.fromkeys(ids) if i in self.snapshot.papers]
            if ids:
                self._write_batch(ids, lambda stamp: None, removed=ids)
                if self.url:
                    self.snapshot = self._synced(self.snapshot)
        return ids

    def _write_batch(self, ids: list[str], write: Callable[[float], None], upserted: list[Paper] = (),
                     removed: list[str] = ()) -> None:
        """Replace (or delete) the papers `ids` in Chroma, then commit the change to the view."""
        note = uuid.uuid4().hex
        self._writes.add(ids=[note], embeddings=[[1.0]], metadatas=[{"papers": json.dumps(ids), "started": self._clock()}])
        self._mark()  # other processes: something is in flight
        self._papers_col.delete(ids=ids)  # records first: a paper without one is incomplete
        self._passages.delete(where={"paper_id": {"$in": ids}})
        stamp = self._clock()
        write(stamp)
        self._writes.delete(ids=[note])
        state = self._mark()
        old = self.snapshot
        papers = {k: v for k, v in old.papers.items() if k not in removed}
        hashes = {k: v for k, v in old.hashes.items() if k not in removed}
        for p in upserted:
            papers[p.id], hashes[p.id] = p, p.content_hash()
        keyword = old.keyword.updated({p.id: (p.title, p.abstract) for p in upserted}, remove=removed)
        # Embedded, this process is the only writer: Chroma holds nothing this view lacks.  On a
        # server others may have written meanwhile: the view keeps its last read time, and the
        # re-read at the end of the write goes back to it.
        synced_at = max(old.synced_at, stamp) if not self.url else old.synced_at
        self.snapshot = self._save(Snapshot(papers, hashes, keyword, state, synced_at, old.version), upserted, removed)

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self.cache is None:
            return self.embedder.embed(texts)
        vectors, _ = self.cache.embed(self.embedder, texts)
        return vectors

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-embed every stored paper (after Chroma files were lost)."""
        papers = list(self.snapshot.papers.values()) or list(self.local.papers_on_disk().values())
        if not papers:
            raise IndexError_(f"no stored paper records in {self.root} to reindex from; ingest the papers file again")
        self.snapshot = Snapshot(version=self.snapshot.version)
        n = self.upsert(papers, progress=progress)
        self.problem = ""
        return n

    # -- reads ----------------------------------------------------------------------------------
    # Queries go to Chroma directly, asking for ids and distances only: fetching metadata and
    # documents for 100 candidates (and LlamaIndex's node rebuilding) cost ~10x the search itself.
    def dense_passages(self, query_vec: np.ndarray, k: int, allowed: set[str] | None = None) -> list[DenseHit]:
        papers = self.snapshot.papers
        out = []
        for pid_index, distance in self._nearest(self._passages, query_vec, k, allowed):
            pid, _, index = pid_index.rpartition("::")
            out.append(DenseHit(pid, int(index), 1.0 - distance, lambda pid=pid: papers.get(pid),
                                self.settings.chunk_words))
        return out

    def dense_papers(self, query_vec: np.ndarray, k: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        return [(pid, 1.0 - distance) for pid, distance in self._nearest(self._papers_col, query_vec, k, allowed)]

    def _nearest(self, collection, query_vec: np.ndarray, k: int, allowed: set[str] | None) -> list[tuple[str, float]]:
        where = None if allowed is None else {"paper_id": {"$in": sorted(allowed)}}
        with self._guard():
            res = collection.query(query_embeddings=[np.asarray(query_vec, dtype=np.float32)], n_results=k,
                                   where=where, include=["distances"])
        return list(zip(res["ids"][0], res["distances"][0]))

    def passages(self, paper: Paper) -> list[Passage]:
        return chunk_paper(paper, self.settings.chunk_words)

    def paper_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        with self._guard():
            got = self._papers_col.get(ids=ids, include=["embeddings"])
        return {pid: np.asarray(e, dtype=np.float32) for pid, e in zip(got["ids"], got["embeddings"])}

    def counts(self) -> dict[str, int]:
        with self._guard():
            return {"papers": self._papers_col.count(), "passages": self._passages.count()}


PIPELINE = True  # write batch i while embedding batch i+1

# HNSW search breadth.  Chroma's default (100) equals the candidates each dense view asks
# for, and the graph Chroma builds differs from process to process: the tail of a top-100
# list then changed between runs (17 of 60 questions in one test), which moves the
# z-scores fusion is built on and so, now and then, a paper across the top-10 boundary.
# At 400 the lists were identical over several processes; searching a 50k-vector
# collection took the same 1.4 ms per query at 100 and at 400.
EF_SEARCH = 400


class _Pipeline:
    """Runs `write(*batch)` in one background thread, in order, while the caller prepares the
    next batch.  At most two batches wait; the first error stops the writing and is raised
    in the caller (at its next put, or when the block ends)."""

    def __init__(self, write: Callable | None):
        import queue

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

    def __enter__(self) -> "_Pipeline":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._thread is None:
            return
        self._queue.put(None)  # finish the batches already embedded: each is committed whole
        self._thread.join()
        if self._error is not None and exc is None:
            raise self._error


def _is_connection_error(e: BaseException) -> bool:
    import httpx

    return isinstance(e, (httpx.TransportError, ConnectionError, TimeoutError))


def _paper_meta(p: Paper, written: float) -> dict:
    return {"paper_id": p.id, "title": p.title, "authors": json.dumps(list(p.authors), ensure_ascii=False),
            "year": p.year or 0, "url": p.url, "code_url": p.code_url, "content_hash": p.content_hash(),
            "written": written}


def _paper_from_meta(pid: str, meta: dict, abstract: str) -> Paper:
    return Paper(id=pid, title=meta.get("title", ""), abstract=abstract or "",
                 authors=tuple(json.loads(meta.get("authors") or "[]")), year=meta.get("year") or None,
                 url=meta.get("url", ""), code_url=meta.get("code_url", ""))
