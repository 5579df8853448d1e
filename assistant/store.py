"""The persisted index: the only module that touches Chroma and index_store/.

Layout of one index (its directory name is a hash of the settings that shape it, so a
change of embedding model or chunking never reuses a stale index):

    index_store/papers-<hash>/
        manifest.json        what shaped the index, generation, per-paper content hashes
        papers-<gen>.jsonl   paper records (a local cache of the Chroma papers collection)
        keyword-<gen>/       BM25 index (bm25s files + token lists)
        chroma/              embedded Chroma (absent in server mode)

Chroma is the source of truth.  It holds two collections: passages (one vector per
passage) and papers (one record per paper: the abstract, metadata, content hash and the
mean of its passage vectors).  A paper record is written only after all its passages, so
a paper with a record is complete; the local files are derived from Chroma and are
rebuilt from it whenever its generation counter says they are stale (a crash, or another
process writing to a shared Chroma server).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from .chunking import chunk_paper, embed_text
from .keyword import KeywordIndex
from .settings import Settings
from .types import Paper, Passage

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


class IndexError_(RuntimeError):
    """The index cannot be used as it is; the message says what to do."""


class StoreUnavailable(IndexError_):
    """The Chroma server cannot be reached."""


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.{threading.get_ident()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class Snapshot:
    """What searches read: swapped as a whole after each change, so readers never see a mix."""

    generation: int
    papers: dict[str, Paper]
    hashes: dict[str, str]
    keyword: KeywordIndex


@dataclass
class DenseHit:
    paper_id: str
    passage_index: int
    text: str
    similarity: float  # cosine


class Store:
    def __init__(self, settings: Settings, embedder, allow_broken: bool = False):
        self.settings = settings
        self.embedder = embedder
        self.root = Path(settings.index_dir) / settings.index_name()
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.RLock()
        self._last_sync_check = 0.0
        self._client = self._connect()
        name = settings.index_name()
        self._passages = self._collection(f"{name}-passages")
        self._papers_col = self._collection(f"{name}-papers")
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.passage_store = ChromaVectorStore(chroma_collection=self._passages)
        self.paper_store = ChromaVectorStore(chroma_collection=self._papers_col)
        self.problem = ""  # why the index cannot serve searches (set only with allow_broken)
        try:
            self.snapshot = self._open_snapshot()
        except IndexError_ as e:
            if not allow_broken:
                raise
            self.problem = str(e)
            self.snapshot = Snapshot(0, {}, {}, KeywordIndex())

    # -- connection ---------------------------------------------------------------------------
    def _connect(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        url = self.settings.chroma_url.strip()
        if not url:
            return chromadb.PersistentClient(path=str(self.root / "chroma"), settings=chroma_settings)
        from urllib.parse import urlparse

        u = urlparse(url if "://" in url else f"http://{url}")
        if not u.hostname:
            raise StoreUnavailable(f"chroma_url {url!r} is not a URL like http://127.0.0.1:8000")
        try:
            client = chromadb.HttpClient(host=u.hostname, port=u.port or (443 if u.scheme == "https" else 8000),
                                         ssl=u.scheme == "https", settings=chroma_settings)
            client.heartbeat()
        except Exception as e:  # noqa: BLE001 - any failure here means "cannot use the server"
            raise StoreUnavailable(f"cannot reach the Chroma server at {url}: {type(e).__name__}: {e}. "
                                   "Start it with `chroma run --path DIR --host 127.0.0.1 --port N` "
                                   "or unset ASSISTANT_CHROMA_URL to use the embedded store.") from None
        return client

    def _collection(self, name: str):
        # embedding_function=None: we always pass vectors; Chroma's default would download a model.
        return self._client.get_or_create_collection(name, configuration={"hnsw": {"space": "cosine"}},
                                                     embedding_function=None)

    # -- manifest and local caches ---------------------------------------------------------------
    def _read_manifest(self) -> dict | None:
        path = self.root / MANIFEST
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("manifest %s is unreadable; rebuilding local files from Chroma", path)
            return None

    def _chroma_generation(self) -> int:
        meta = self._client.get_collection(self._papers_col.name).metadata or {}
        return int(meta.get("generation", 0))

    def _open_snapshot(self) -> Snapshot:
        manifest = self._read_manifest()
        fingerprint = self.settings.index_fingerprint()
        if manifest and manifest.get("fingerprint") != fingerprint:
            raise IndexError_(f"the index in {self.root} was built with other settings "
                              f"({manifest.get('fingerprint')}); delete that directory to rebuild it")
        chroma_gen = self._chroma_generation()
        chroma_count = self._papers_col.count()
        if manifest and manifest.get("generation") == chroma_gen and len(manifest.get("papers", {})) == chroma_count:
            try:
                return self._load_local(manifest)
            except (OSError, ValueError, KeyError) as e:
                log.warning("local index files in %s are damaged (%s); rebuilding them from Chroma", self.root, e)
        if manifest and manifest.get("papers") and chroma_count == 0:
            raise IndexError_(
                f"the index manifest in {self.root} lists {len(manifest['papers'])} papers but the vector store is "
                "empty (Chroma files deleted, or another Chroma server). Run `paper-assistant reindex` to re-embed "
                "the stored papers, or delete the directory to start over.")
        return self._sync_from_chroma(chroma_gen)

    def _load_local(self, manifest: dict) -> Snapshot:
        gen = manifest["generation"]
        papers: dict[str, Paper] = {}
        path = self.root / f"papers-{gen}.jsonl"
        if manifest["papers"]:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    p = Paper.from_dict(json.loads(line))
                    papers[p.id] = p
        if set(papers) != set(manifest["papers"]):
            raise ValueError("papers file and manifest disagree")
        keyword = KeywordIndex.load(self.root / f"keyword-{gen}") if papers else KeywordIndex()
        if set(keyword.ids) != set(papers):
            raise ValueError("keyword index and manifest disagree")
        return Snapshot(gen, papers, dict(manifest["papers"]), keyword)

    def _sync_from_chroma(self, chroma_gen: int) -> Snapshot:
        """Rebuild the local files from Chroma's paper records (and drop half-written papers)."""
        papers, hashes = {}, {}
        got = self._papers_col.get(include=["metadatas", "documents"])
        for pid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"]):
            papers[pid] = _paper_from_meta(pid, meta, doc)
            hashes[pid] = meta.get("content_hash", "")
        self._drop_orphan_passages(set(papers))
        old = getattr(self, "snapshot", None) or Snapshot(0, {}, {}, KeywordIndex())
        stale = [pid for pid in old.keyword.ids if pid not in papers or old.hashes.get(pid) != hashes[pid]]
        keep = set(old.keyword.ids) - set(stale)
        keyword = old.keyword.updated({pid: (p.title, p.abstract) for pid, p in papers.items() if pid not in keep},
                                      remove=stale)
        snap = Snapshot(chroma_gen, papers, hashes, keyword)
        self._write_local(snap)
        return snap

    def _drop_orphan_passages(self, complete: set[str]) -> None:
        got = self._passages.get(include=["metadatas"])
        orphans = sorted({m.get("paper_id") for m in got["metadatas"] if m.get("paper_id") not in complete})
        if orphans:
            log.warning("removing passages of %d half-written paper(s) from an interrupted ingest", len(orphans))
            self._passages.delete(where={"paper_id": {"$in": orphans}})

    def _write_local(self, snap: Snapshot) -> None:
        gen = snap.generation
        kw_dir = self.root / f"keyword-{gen}"
        if kw_dir.exists():
            shutil.rmtree(kw_dir)
        if snap.papers:
            snap.keyword.save(kw_dir)
        atomic_write_text(self.root / f"papers-{gen}.jsonl",
                          "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in snap.papers.values()))
        manifest = {
            "index_name": self.settings.index_name(),
            "fingerprint": self.settings.index_fingerprint(),
            "generation": gen,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "papers": snap.hashes,
        }
        atomic_write_text(self.root / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
        for old in self.root.iterdir():  # files of earlier generations
            if old.name.startswith(("papers-", "keyword-")) and not old.name.endswith((f"-{gen}", f"-{gen}.jsonl")):
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)

    def maybe_sync(self, every: float = 2.0) -> None:
        """Pick up changes another process made to a shared Chroma server (checked at most every `every` s)."""
        if not self.settings.chroma_url:
            return
        now = time.monotonic()
        if now - self._last_sync_check < every:
            return
        self._last_sync_check = now
        try:
            gen = self._chroma_generation()
        except Exception as e:  # noqa: BLE001
            raise StoreUnavailable(f"lost the Chroma server at {self.settings.chroma_url}: {type(e).__name__}") from None
        if gen != self.snapshot.generation:
            with self._write_lock:
                self.snapshot = self._sync_from_chroma(gen)

    # -- writes ---------------------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One writer at a time in this process, plus an advisory lock across processes."""
        import fcntl

        with self._write_lock, open(self.root / ".write.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexError_(f"another process is writing to the index in {self.root}; "
                                  "wait for it, or use a Chroma server for several processes") from None
            yield

    def _bump_generation(self) -> int:
        gen = max(self._chroma_generation(), self.snapshot.generation) + 1
        meta = dict(self._client.get_collection(self._papers_col.name).metadata or {})
        meta["generation"] = gen
        self._papers_col.modify(metadata=meta)
        return gen

    def upsert(self, papers: list[Paper], batch_papers: int = 64,
               progress: Callable[[int, int], None] | None = None) -> int:
        """Embed and store `papers` (new or changed); returns the number of passages embedded.

        Work is committed in batches of papers: an interrupted run keeps every finished
        batch, and a rerun skips them (their records carry the same content hash).
        """
        from llama_index.core.schema import TextNode

        if not papers:
            return 0
        embedded = 0
        with self._writing():
            for b in range(0, len(papers), batch_papers):
                batch = papers[b:b + batch_papers]
                passages = [ps for p in batch for ps in chunk_paper(p, self.settings.chunk_words)]
                titles = {p.id: p.title for p in batch}
                vectors = self.embedder.embed([embed_text(titles[ps.paper_id], ps.text) for ps in passages])
                embedded += len(passages)
                ids = list(titles)
                self._bump_generation()  # readers elsewhere resync: the batch is in flight
                self._papers_col.delete(ids=ids)  # record first: a paper without one is incomplete
                self._passages.delete(where={"paper_id": {"$in": ids}})
                self.passage_store.add([
                    TextNode(id_=ps.id, text=ps.text, embedding=vectors[i].tolist(),
                             metadata={"paper_id": ps.paper_id, "index": ps.index, "start": ps.start, "end": ps.end})
                    for i, ps in enumerate(passages)])
                owner = np.array([ps.paper_id for ps in passages])
                nodes = []
                for p in batch:
                    c = vectors[owner == p.id].mean(axis=0)
                    c /= np.linalg.norm(c) or 1.0
                    nodes.append(TextNode(id_=p.id, text=p.abstract, embedding=c.tolist(), metadata=_paper_meta(p)))
                self.paper_store.add(nodes)
                self._bump_generation()
                if progress:
                    progress(min(b + batch_papers, len(papers)), len(papers))
            self._commit(upserted=papers)
        return embedded

    def remove(self, ids: Iterable[str]) -> list[str]:
        ids = [i for i in dict.fromkeys(ids) if i in self.snapshot.papers]
        if not ids:
            return []
        with self._writing():
            self._bump_generation()
            self._papers_col.delete(ids=ids)
            self._passages.delete(where={"paper_id": {"$in": ids}})
            self._bump_generation()
            self._commit(removed=ids)
        return ids

    def _commit(self, upserted: list[Paper] = (), removed: list[str] = ()) -> None:
        old = self.snapshot
        papers = {k: v for k, v in old.papers.items() if k not in removed}
        hashes = {k: v for k, v in old.hashes.items() if k not in removed}
        for p in upserted:
            papers[p.id] = p
            hashes[p.id] = p.content_hash()
        keyword = old.keyword.updated({p.id: (p.title, p.abstract) for p in upserted}, remove=removed)
        snap = Snapshot(self._chroma_generation(), papers, hashes, keyword)
        self._write_local(snap)
        self.snapshot = snap

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-embed every stored paper (after Chroma files were lost)."""
        papers = list(self._stored_papers_for_reindex().values())
        self.snapshot = Snapshot(self.snapshot.generation, {}, {}, KeywordIndex())
        n = self.upsert(papers, progress=progress)
        self.problem = ""
        return n

    def _stored_papers_for_reindex(self) -> dict[str, Paper]:
        if self.snapshot.papers:
            return self.snapshot.papers
        manifest = self._read_manifest() or {}
        path = self.root / f"papers-{manifest.get('generation')}.jsonl"
        if not path.exists():
            raise IndexError_(f"no stored paper records in {self.root} to reindex from; ingest the papers file again")
        with open(path, encoding="utf-8") as f:
            return {p.id: p for p in (Paper.from_dict(json.loads(line)) for line in f)}

    # -- reads ----------------------------------------------------------------------------------
    def dense_passages(self, query_vec: np.ndarray, k: int, allowed: set[str] | None = None) -> list[DenseHit]:
        from llama_index.core.vector_stores import VectorStoreQuery

        res = self.passage_store.query(VectorStoreQuery(query_embedding=query_vec.tolist(), similarity_top_k=k,
                                                        filters=_id_filter(allowed)))
        out = []
        for node, sim in zip(res.nodes, res.similarities):
            m = node.metadata
            out.append(DenseHit(m["paper_id"], int(m["index"]), node.get_content(), _cosine(sim)))
        return out

    def dense_papers(self, query_vec: np.ndarray, k: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        from llama_index.core.vector_stores import VectorStoreQuery

        res = self.paper_store.query(VectorStoreQuery(query_embedding=query_vec.tolist(), similarity_top_k=k,
                                                      filters=_id_filter(allowed)))
        return [(node.metadata["paper_id"], _cosine(sim)) for node, sim in zip(res.nodes, res.similarities)]

    def passages(self, paper: Paper) -> list[Passage]:
        return chunk_paper(paper, self.settings.chunk_words)

    def paper_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        got = self._papers_col.get(ids=ids, include=["embeddings"])
        return {pid: np.asarray(e, dtype=np.float32) for pid, e in zip(got["ids"], got["embeddings"])}

    def counts(self) -> dict[str, int]:
        return {"papers": self._papers_col.count(), "passages": self._passages.count()}


def _cosine(similarity: float) -> float:
    # ChromaVectorStore reports exp(-distance); with cosine space, distance = 1 - cos.
    return 1.0 + float(np.log(max(similarity, 1e-12)))


def _id_filter(allowed: set[str] | None):
    if allowed is None:
        return None
    from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

    return MetadataFilters(filters=[MetadataFilter(key="paper_id", value=sorted(allowed), operator=FilterOperator.IN)])


def _paper_meta(p: Paper) -> dict:
    return {"paper_id": p.id, "title": p.title, "authors": json.dumps(list(p.authors), ensure_ascii=False),
            "year": p.year or 0, "url": p.url, "code_url": p.code_url, "content_hash": p.content_hash()}


def _paper_from_meta(pid: str, meta: dict, abstract: str) -> Paper:
    return Paper(id=pid, title=meta.get("title", ""), abstract=abstract or "",
                 authors=tuple(json.loads(meta.get("authors") or "[]")), year=meta.get("year") or None,
                 url=meta.get("url", ""), code_url=meta.get("code_url", ""))
