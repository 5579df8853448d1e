"""The persisted index of one collection: what the rest of the library calls.

Layout (the directory name is a hash of the settings that shape the index, so a change
of embedding model or chunking never reuses a stale index):

    index_store/papers-<hash>/
        local.sqlite, keyword/   paper records, body passages and BM25 segments: a local,
                                 derived copy that makes start-up fast (local.py, keyword.py)
        chroma/                  embedded Chroma (absent in server mode; chroma.py)
        pdfs/<text hash>.pdf     a copy of each indexed PDF (`pdf_file`), so exactly the
                                 collection's PDFs can be served, as they were read
        library.sqlite           the sources the collection mirrors (library/registry.py)
        seeded                   the index was built from the `collection` setting (never again)
        .relay.json              where `serve`/`watch` take other terminals' commands (cli/relay.py)
    index_store/_cache/vectors.sqlite   passage vectors by text hash (vectors.py)

Chroma is the source of truth; sync.py keeps this process's view in step with it, and
ingest.py writes papers in batches.  An embedded index belongs to one process at a time
(Chroma's embedded mode is not process-safe, and another process's writes would never
reach this one's in-memory index): the first process to open it holds a lock until it
exits, and another is refused with a message.  With a Chroma server any number of
processes share the collection, each following the others' changes.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from assistant.index import ingest, sync
from assistant.index.chroma import Chroma
from assistant.index.errors import IndexBusy, IndexProblem, StoreUnavailable
from assistant.index.keyword import KeywordIndex
from assistant.index.local import LocalIndex, Snapshot
from assistant.index.vectors import VectorCache
from assistant.ingest.chunking import abstract_passages
from assistant.settings import Settings
from assistant.types import Paper, Passage

log = logging.getLogger(__name__)


PDF_MIN_AGE = 600.0  # s: a PDF copy no paper uses is deleted once this old (another process may be about to use it)


PAPER_VECTORS = 64  # papers whose passage vectors a store keeps (~75 KB each for a 15-page PDF)


class DenseHit:
    """A passage found by vector search; the passage itself is looked up only when asked for
    (a search looks at 100 candidates and shows about 10)."""

    __slots__ = ("paper_id", "passage_index", "similarity", "_lookup", "_passage")

    def __init__(self, paper_id: str, passage_index: int, similarity: float, lookup: Callable[[], Passage | None]):
        self.paper_id, self.passage_index, self.similarity = paper_id, passage_index, similarity
        self._lookup = lookup
        self._passage: Passage | None | bool = False  # False: not looked up yet

    @property
    def passage(self) -> Passage | None:
        if self._passage is False:
            self._passage = self._lookup()
        return self._passage

    @property
    def text(self) -> str:
        return self.passage.text if self.passage is not None else ""


class Store:
    def __init__(self, settings: Settings, embedder, allow_broken: bool = False, progress=None):
        self.settings = settings
        self.embedder = embedder
        self.root = Path(settings.index_dir) / settings.index_name()
        self.root.mkdir(parents=True, exist_ok=True)
        self._owner = None if settings.chroma_url.strip() else self._own()
        fingerprint = settings.index_fingerprint()
        if embedder.identity != fingerprint["embed_model"]:  # e.g. a model directory's resolved path, a server's model
            fingerprint["embedder"] = embedder.identity
        self.local = LocalIndex(self.root, fingerprint)
        self.cache = self._vector_cache()
        self._write_lock = threading.RLock()
        self._vectors: OrderedDict[tuple[str, str], tuple[list[str], np.ndarray]] = OrderedDict()
        self._vectors_lock = threading.Lock()
        self._last_sync_check = time.monotonic()
        self.problem = ""  # why the index cannot serve searches (set only with allow_broken)
        self.snapshot = Snapshot()
        self.chroma = Chroma(settings.chroma_url, self.root / "chroma", settings.index_name())
        with self.chroma.guard():
            try:
                self.snapshot = self._open()
            except sync.VectorStoreEmpty as e:
                if self.chroma.server:  # a move to a (new, empty) server: fill it from the local records
                    self.reindex(progress=progress)
                elif not allow_broken:
                    raise
                else:
                    self.problem = str(e)
            except IndexProblem as e:
                if not allow_broken or isinstance(e, StoreUnavailable):
                    raise
                self.problem = str(e)
            with self.writing(wait=False) as mine:
                if mine:
                    sync.clean_interrupted(self.chroma)

    def _own(self) -> FileLock:
        """The embedded index's process lock, held until the process exits (or every assistant
        on this index in it is gone)."""
        lock = FileLock(self.root / ".owner.lock", is_singleton=True, thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise IndexBusy(
                f"the index in {self.root} is open in another process (a running `paper-assistant serve`, "
                "ingest or chat?). An embedded index serves one process at a time: stop that process, use another "
                "index_dir, or share the collection through a Chroma server (ASSISTANT_CHROMA_URL; see "
                "docs/scaling.md). While `paper-assistant serve` or `watch` holds it, the commands search, ask, "
                "papers, info, export, ingest, sync and remove run through that process.",
                root=self.root,
            ) from None
        return lock

    def close(self) -> None:
        """Let another process open this embedded index (this Store must not be used after)."""
        if self._owner is not None and self._owner.is_locked:
            self._owner.release(force=True)
        self._owner = None

    def _vector_cache(self) -> VectorCache | None:
        where = self.settings.embed_cache.strip()
        if where.lower() == "off":
            return None
        path = Path(where) if where else Path(self.settings.index_dir) / "_cache" / "vectors.sqlite"
        return VectorCache(path, self.embedder.model_key, self.embedder.dim)

    def _open(self) -> Snapshot:
        snap = sync.open_view(self.chroma, self.local, str(self.root))
        dim = self.chroma.vector_dim() if snap.papers else None
        if dim is not None and dim != self.embedder.dim:
            where = (
                f"the collection {self.chroma.passages.name!r} on {self.chroma.shown_url}"
                if self.chroma.server
                else str(self.root)
            )
            raise IndexProblem(
                f"the vectors in {where} have {dim} dimensions but {self.settings.embed_model} makes "
                f"{self.embedder.dim}: another embedding model wrote them. Delete that index (or use another "
                "index_dir) and ingest the papers again."
            )
        return snap

    # -- following other processes (Chroma server) ---------------------------------------------
    def maybe_sync(self, every: float = 2.0) -> None:
        """Pick up changes other processes made on a shared Chroma server (checked at most every `every` s)."""
        if not self.chroma.server:
            return
        now = time.monotonic()
        if now - self._last_sync_check < every:
            return
        self._last_sync_check = now
        if not self._write_lock.acquire(blocking=False):
            return  # this process is writing; its own commits keep the view current
        try:
            with self.chroma.guard():
                self.catch_up()
        finally:
            self._write_lock.release()

    def catch_up(self) -> None:
        if self.chroma.server and self.chroma.state() != self.snapshot.state:
            self.snapshot = sync.synced(self.chroma, self.local, self.snapshot)

    # -- writes ---------------------------------------------------------------------------------
    @contextmanager
    def writing(self, wait: bool = True) -> Iterator[bool]:
        """One writer at a time in this process, and one per index directory across processes
        (server mode: several processes sharing an index_dir take turns)."""
        with self._write_lock:
            lock = FileLock(self.root / ".write.lock", thread_local=False)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                if not wait:
                    yield False
                    return
                raise IndexBusy(
                    f"another process is writing to the index in {self.root}; "
                    "wait for it, or use a Chroma server for several processes"
                ) from None
            try:
                yield True
            finally:
                lock.release()

    def upsert(
        self,
        papers: list[Paper],
        batch_papers: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        bodies: dict[str, list[Passage]] | None = None,
    ) -> int:
        """Embed and store `papers` (new or changed; `bodies`: the body passages of full-text
        papers, which cannot be derived from the record); returns the number of passages written."""
        if not papers:
            return 0
        with self.chroma.guard(), self.writing():
            n = ingest.upsert(self, papers, batch_papers or self.settings.ingest_batch, progress, bodies)
            if self.chroma.server:
                self.snapshot = sync.synced(self.chroma, self.local, self.snapshot)
        self._tidy_pdfs()
        return n

    def recover(self) -> None:
        """After a failed batch in this process: drop what it half-wrote and re-read the view
        from Chroma, so searches never see a paper whose passages are gone (best effort: the
        next start does the same)."""
        try:
            sync.clean_interrupted(self.chroma)
            self.snapshot = sync.synced(self.chroma, self.local, self.snapshot)
        except Exception as e:  # noqa: BLE001 - the original error is the one to report
            log.warning("could not tidy up after the failed ingest (%s); the next start will", e)

    def remove(self, ids: Iterable[str]) -> list[str]:
        with self.chroma.guard(), self.writing():
            self.catch_up()
            ids = [i for i in dict.fromkeys(ids) if i in self.snapshot.papers]
            if ids:
                change = sync.Change(removed=ids)
                self.snapshot = sync.write_batch(self.chroma, self.local, self.snapshot, change, lambda stamp: None)
                if self.chroma.server:
                    self.snapshot = sync.synced(self.chroma, self.local, self.snapshot)
        self._tidy_pdfs()
        return ids

    # -- PDF copies -----------------------------------------------------------------------------
    def keep_pdf(self, source: Path, text_hash: str) -> None:
        """Copy an indexed PDF into the index (named by its text_hash: a copy is never changed)."""
        target = self.root / "pdfs" / f"{text_hash}.pdf"
        if target.exists():
            return
        target.parent.mkdir(exist_ok=True)
        tmp = target.with_name(f".{uuid.uuid4().hex}.part")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)

    def pdf_file(self, paper: Paper) -> Path | None:
        """The copy of the PDF whose text is indexed for `paper` (None: no full text, or the copy
        is in another process's index directory)."""
        if not paper.text_hash:
            return None
        path = self.root / "pdfs" / f"{paper.text_hash}.pdf"
        return path if path.is_file() else None

    def _tidy_pdfs(self) -> None:
        folder = self.root / "pdfs"
        if not folder.is_dir():
            return
        used = {p.text_hash for p in self.snapshot.papers.values() if p.text_hash}
        now = time.time()
        for f in folder.iterdir():
            try:
                if f.stem.lstrip(".") not in used and now - f.stat().st_mtime > PDF_MIN_AGE:
                    f.unlink()
            except OSError:
                pass  # removed meanwhile by another process sharing the directory

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.cache is None:
            return self.embedder.embed(texts)
        vectors, _ = self.cache.embed(self.embedder, texts)
        return vectors

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-embed every stored paper (after Chroma's files were lost, or into a new server):
        texts embedded before come from the embedding cache."""
        papers = list(self.snapshot.papers.values()) or list(self.local.papers_on_disk().values())
        if not papers:
            raise IndexProblem(f"no stored paper records in {self.root} to reindex from; ingest the papers file again")
        bodies = {}
        for p in [p for p in papers if p.full_text]:
            body = self.local.body_passages(p.id, p.content_hash())
            if body:
                bodies[p.id] = body
            else:
                log.warning("the body passages of %s are not in %s: add its PDF again", p.id, self.root)
        papers = [p for p in papers if not p.full_text or p.id in bodies]
        where = f"the Chroma server at {self.chroma.shown_url}" if self.chroma.server else str(self.root / "chroma")
        log.info("writing the %d stored papers into %s", len(papers), where)
        self.snapshot = Snapshot(version=self.snapshot.version)
        calls = self.embedder.calls
        n = self.upsert(papers, progress=progress, bodies=bodies)
        log.info(
            "%d passages written, %d of them embedded (the rest from the vector cache)", n, self.embedder.calls - calls
        )
        self.problem = ""
        return n

    # -- reads (retrieval.candidates.Candidates) ------------------------------------------------
    @property
    def papers(self) -> Mapping[str, Paper]:
        return self.snapshot.papers

    @property
    def term_stats(self) -> KeywordIndex:
        return self.snapshot.keyword

    def keyword_top(self, tokens: list[str], k: int, allowed: set[str] | None, stats) -> list[tuple[str, float]]:
        return self.snapshot.keyword.top(tokens, k, allowed, stats)

    def dense_passages(self, query_vec: np.ndarray, k: int, allowed: set[str] | None = None) -> list[DenseHit]:
        papers = self.snapshot.papers
        if not papers:
            return []

        def lookup(pid: str, index: int) -> Passage | None:
            paper = papers.get(pid)
            return self.passage(paper, index) if paper is not None else None

        out = []
        for pid_index, distance in self.chroma.nearest(self.chroma.passages, query_vec, k, allowed):
            pid, _, index = pid_index.rpartition("::")
            out.append(DenseHit(pid, int(index), 1.0 - distance, lambda pid=pid, i=int(index): lookup(pid, i)))
        return out

    def passage_cosines(self, query_vec: np.ndarray, paper_ids: Iterable[str]) -> list[DenseHit]:
        """Every passage of these papers with its cosine to the query, best first (`paper_cosines`)."""
        papers = self.snapshot.papers
        out = []
        for paper in (papers[pid] for pid in paper_ids if pid in papers):
            out += [DenseHit(paper.id, ps.index, c, lambda ps=ps: ps) for ps, c in self.paper_cosines(query_vec, paper)]
        return sorted(out, key=lambda d: -d.similarity)

    def paper_cosines(
        self, query_vec: np.ndarray, paper: Paper, passages: list[Passage] | None = None
    ) -> list[tuple[Passage, float]]:
        """A paper's passages (`passages`, if the caller has read them already) with their
        cosines to the query, computed from their stored vectors.  Over 1,000 PDFs a
        nearest-neighbour query filtered to three papers took ~54 ms and this ~8 ms, with the
        same ranking (the filter makes Chroma scan)."""
        by_id = {ps.id: ps for ps in (passages if passages is not None else self.passages(paper))}
        ids, vectors = self._paper_vectors(paper, list(by_id))
        if not ids:
            return []
        q = np.asarray(query_vec, dtype=np.float32)
        cosines = vectors @ q / np.maximum(np.linalg.norm(vectors, axis=1) * np.linalg.norm(q), 1e-12)
        return [(by_id[i], float(c)) for i, c in zip(ids, cosines)]

    def _paper_vectors(self, paper: Paper, ids: list[str]) -> tuple[list[str], np.ndarray]:
        """A paper's passage vectors, kept for the last PAPER_VECTORS papers asked for (a search
        and the answer that follows it read the same papers' vectors)."""
        key = (paper.id, paper.content_hash())
        with self._vectors_lock:
            if key in self._vectors:
                self._vectors.move_to_end(key)
                return self._vectors[key]
        got = self.chroma.vectors(self.chroma.passages, ids)
        with self._vectors_lock:
            self._vectors[key] = got
            while len(self._vectors) > PAPER_VECTORS:
                self._vectors.popitem(last=False)
        return got

    def dense_papers(self, query_vec: np.ndarray, k: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        if not self.snapshot.papers:
            return []
        return [(pid, 1.0 - d) for pid, d in self.chroma.nearest(self.chroma.papers, query_vec, k, allowed)]

    def passages(self, paper: Paper) -> list[Passage]:
        """Every passage of a paper, in order: its abstract's, then (full text) its body's."""
        own = abstract_passages(paper, self.settings.chunk_words)
        return own + self._body(paper) if paper.full_text else own

    def passage(self, paper: Paper, index: int) -> Passage | None:
        """Passage `index` of a paper (None when it has no such passage)."""
        if index < 0:
            return None
        own = abstract_passages(paper, self.settings.chunk_words)
        if index < len(own):
            return own[index]
        body = self._body(paper, index) if paper.full_text else []
        return body[0] if body else None

    def _body(self, paper: Paper, index: int | None = None) -> list[Passage]:
        """Body passages from the local files -- or from Chroma, when another process sharing
        the index directory has just rewritten them for another version of the paper."""
        got = self.local.body_passages(paper.id, paper.content_hash(), index)
        if got is None:
            with self.chroma.guard():
                got = self.chroma.body_passages([paper.id])[paper.id]
            got = [p for p in got if index is None or p.index == index]
        return got

    def paper_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        return self.chroma.paper_vectors(ids)

    def paper_vector(self, paper_id: str) -> np.ndarray | None:
        return self.paper_vectors([paper_id]).get(paper_id) if paper_id in self.snapshot.papers else None

    def counts(self) -> dict[str, int]:
        with self.chroma.guard():
            return {"papers": self.chroma.count(), "passages": self.chroma.passages.count()}
