"""One index's Chroma collections, embedded or on a server: connecting, timeouts, and the
record format.  Nothing else in the library talks to Chroma.

Three collections per index:
    <name>-passages   one vector per passage (metadata: paper_id, index, start, end; a body
                      passage also page, end_page, section, and its text as the document --
                      what another process needs to rebuild its local copy of a full-text paper)
    <name>-papers     one record per paper: abstract as the document, metadata (title,
                      authors, ..., content hash, the Chroma clock time it was written) and
                      the mean of its passage vectors as the vector
    <name>-writes     a note per batch being written, listing its papers (sync.py)

Writes go through LlamaIndex's ChromaVectorStore; reads ask Chroma for ids and distances
only (fetching the candidates' documents, and LlamaIndex's node rebuilding, cost more than
the search itself: docs/quality.md, "Why the constants are what they are").
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from assistant.index.errors import IndexProblem, StoreUnavailable
from assistant.net.redact import redact_url
from assistant.types import Paper, Passage

PAGE = 2000  # records per Chroma get (one get of ~50k records fails: "too many SQL variables")
ID_PAGE = 20000  # ids per id listing
HTTP_TIMEOUT = 30.0  # s: a Chroma server request that takes longer is a lost server, not a slow one
CONNECT_TIMEOUT = 5.0

# HNSW search breadth.  Chroma's default (100) equals the candidates each dense view asks
# for, and the graph Chroma builds differs from process to process: the tail of a top-100
# list then changes between runs, which moves the z-scores fusion is built on and so, now
# and then, a paper across the top-10 boundary.  400 gives the same lists in every process
# at no extra search time (docs/quality.md, "Why the constants are what they are").
EF_SEARCH = 400


class Chroma:
    def __init__(self, url: str, path: Path, name: str):
        self.url = url.strip()
        self.shown_url = redact_url(self.url)  # the URL as messages may show it (no credentials)
        with self.guard():
            self.client = self._connect(path)
            self.passages = self._collection(f"{name}-passages")
            self.papers = self._collection(f"{name}-papers")
            self.writes = self._collection(f"{name}-writes")
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self.passage_store = ChromaVectorStore(chroma_collection=self.passages)
            self.paper_store = ChromaVectorStore(chroma_collection=self.papers)

    @property
    def server(self) -> bool:
        return bool(self.url)

    def _connect(self, path: Path):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if not self.url:
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        from urllib.parse import urlparse

        import httpx

        u = urlparse(self.url if "://" in self.url else f"http://{self.url}")
        if not u.hostname:
            raise StoreUnavailable(f"chroma_url {self.shown_url!r} is not a URL like http://127.0.0.1:8000")
        port = u.port or (443 if u.scheme == "https" else 8000)
        try:
            # Probe with a timeout first: chromadb's client has none, and would wait forever on a hung server.
            httpx.get(
                f"{u.scheme or 'http'}://{u.hostname}:{port}/api/v2/heartbeat", timeout=CONNECT_TIMEOUT
            ).raise_for_status()
            client = chromadb.HttpClient(host=u.hostname, port=port, ssl=u.scheme == "https", settings=chroma_settings)
        except Exception as e:  # noqa: BLE001 - any failure here means "cannot use the server"
            raise StoreUnavailable(
                f"cannot reach the Chroma server at {self.shown_url}: {type(e).__name__}: "
                f"{redact_url(str(e))}. Start it with `chroma run --path DIR --host 127.0.0.1 "
                "--port N` or unset ASSISTANT_CHROMA_URL to use the embedded store."
            ) from None
        session = getattr(getattr(client, "_server", None), "_session", None)
        if session is not None:
            session.timeout = httpx.Timeout(HTTP_TIMEOUT, connect=CONNECT_TIMEOUT)
        return client

    @contextmanager
    def guard(self) -> Iterator[None]:
        """In server mode, a dropped connection becomes StoreUnavailable with what to do."""
        try:
            yield
        except IndexProblem:
            raise
        except Exception as e:
            if not self.url or not is_connection_error(e):
                raise
            raise StoreUnavailable(
                f"lost the Chroma server at {self.shown_url} ({type(e).__name__}: {redact_url(str(e))}). Papers "
                "already ingested are safe on the server; restart it (`chroma run --path DIR ...`) and retry."
            ) from None

    def _collection(self, name: str):
        # embedding_function=None: we always pass vectors; Chroma's default would download a model.
        col = self.client.get_or_create_collection(
            name, configuration={"hnsw": {"space": "cosine", "ef_search": EF_SEARCH}}, embedding_function=None
        )
        hnsw = (getattr(col, "configuration_json", None) or {}).get("hnsw") or {}
        if hnsw.get("ef_search", EF_SEARCH) < EF_SEARCH:  # an index made before this setting
            col.modify(configuration={"hnsw": {"ef_search": EF_SEARCH}})
        return col

    # -- clock and state token ------------------------------------------------------------------
    def clock(self) -> float:
        """Chroma's clock in seconds (the server's, so every client stamps records alike)."""
        return self.client.heartbeat() / 1e9 if self.url else time.time()

    def state(self) -> str:
        meta = self.client.get_collection(self.papers.name, embedding_function=None).metadata or {}
        return str(meta.get("state", ""))

    def set_state(self, token: str) -> None:
        self.papers.modify(metadata={"state": token})

    # -- paper records -----------------------------------------------------------------------------
    def count(self) -> int:
        return self.papers.count()

    def all_ids(self) -> list[str]:
        ids: list[str] = []
        while True:
            got = self.papers.get(include=[], limit=ID_PAGE, offset=len(ids))["ids"]
            ids += got
            if len(got) < ID_PAGE:
                return list(dict.fromkeys(ids))

    def records(self, ids: list[str] | None = None, where: dict | None = None) -> list[tuple[Paper, str]]:
        """(paper, content hash) of the records with these ids, or matching `where`, in pages."""
        out: list[tuple[Paper, str]] = []

        def take(got) -> int:
            for pid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"]):
                out.append((paper_from_meta(pid, meta, doc), meta.get("content_hash", "")))
            return len(got["ids"])

        if ids is not None:
            for i in range(0, len(ids), PAGE):
                take(self.papers.get(ids=ids[i : i + PAGE], include=["metadatas", "documents"]))
            return out
        offset = 0
        while take(self.papers.get(where=where, include=["metadatas", "documents"], limit=PAGE, offset=offset)) == PAGE:
            offset += PAGE
        return out

    def body_passages(self, ids: list[str]) -> dict[str, list[Passage]]:
        """The body passages of these papers, from the passage documents and metadata."""
        out: dict[str, list[Passage]] = {pid: [] for pid in ids}
        for i in range(0, len(ids), 100):
            where = {"$and": [{"paper_id": {"$in": ids[i : i + 100]}}, {"page": {"$gte": 1}}]}
            offset = 0
            while True:
                got = self.passages.get(where=where, include=["metadatas", "documents"], limit=PAGE, offset=offset)
                for meta, doc in zip(got["metadatas"], got["documents"]):
                    out[meta["paper_id"]].append(passage_from_meta(meta, doc))
                if len(got["ids"]) < PAGE:
                    break
                offset += PAGE
        return {pid: sorted(ps, key=lambda p: p.index) for pid, ps in out.items()}

    def existing(self, ids: list[str]) -> set[str]:
        return set(self.papers.get(ids=ids, include=[])["ids"]) if ids else set()

    def paper_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        with self.guard():
            got = self.papers.get(ids=ids, include=["embeddings"])
        return {pid: np.asarray(e, dtype=np.float32) for pid, e in zip(got["ids"], got["embeddings"])}

    def vector_dim(self) -> int | None:
        """Length of a stored passage vector (None when there is none)."""
        got = self.passages.get(limit=1, include=["embeddings"])["embeddings"]
        return None if got is None or len(got) == 0 else len(got[0])

    # -- writes -----------------------------------------------------------------------------------
    def delete(self, ids: list[str]) -> None:
        """Records first: a paper without one is incomplete, whatever passages are left."""
        self.papers.delete(ids=ids)
        self.passages.delete(where={"paper_id": {"$in": ids}})

    def delete_passages_of(self, ids: list[str]) -> None:
        self.passages.delete(where={"paper_id": {"$in": ids}})

    def add(self, passage_nodes: list, paper_nodes: list) -> None:
        self.passage_store.add(passage_nodes)
        self.paper_store.add(paper_nodes)

    # -- search -----------------------------------------------------------------------------------
    def nearest(self, collection, query_vec: np.ndarray, k: int, allowed: set[str] | None) -> list[tuple[str, float]]:
        """(id, cosine distance) of the k nearest vectors, only papers in `allowed` if given."""
        where = None if allowed is None else {"paper_id": {"$in": sorted(allowed)}}
        with self.guard():
            res = collection.query(
                query_embeddings=[np.asarray(query_vec, dtype=np.float32)],
                n_results=k,
                where=where,
                include=["distances"],
            )
        return list(zip(res["ids"][0], res["distances"][0]))

    def vectors(self, collection, ids: list[str]) -> tuple[list[str], np.ndarray]:
        """The stored vectors of these ids (those it has), as rows in the order of the ids returned."""
        with self.guard():
            res = collection.get(ids=ids, include=["embeddings"])
        got = res["embeddings"]
        return list(res["ids"]), np.asarray(got if got is not None else [], dtype=np.float32).reshape(
            len(res["ids"]), -1
        )


def is_connection_error(e: BaseException) -> bool:
    import httpx

    return isinstance(e, (httpx.TransportError, ConnectionError, TimeoutError))


def passage_meta(ps: Passage) -> dict:
    """A passage's Chroma metadata (Chroma stores no None: an abstract passage has no page keys)."""
    meta = {"paper_id": ps.paper_id, "index": ps.index, "start": ps.start, "end": ps.end}
    if ps.page is not None:
        meta.update(page=ps.page, end_page=ps.end_page)
        if ps.section:
            meta["section"] = ps.section
    return meta


def passage_from_meta(meta: dict, text: str) -> Passage:
    return Passage(
        paper_id=meta["paper_id"],
        index=int(meta["index"]),
        text=text or "",
        start=int(meta["start"]),
        end=int(meta["end"]),
        page=meta.get("page"),
        end_page=meta.get("end_page"),
        section=meta.get("section"),
    )


def paper_meta(p: Paper, written: float) -> dict:
    """A paper's record as Chroma metadata: the whole record but its abstract (the document)
    as JSON, plus what the sync protocol queries on."""
    record = p.to_dict()
    del record["abstract"]
    return {
        "paper_id": p.id,
        "record": json.dumps(record, ensure_ascii=False),
        "content_hash": p.content_hash(),
        "written": written,
    }


def paper_from_meta(pid: str, meta: dict, abstract: str) -> Paper:
    if "record" in meta:
        return Paper.from_dict({**json.loads(meta["record"]), "id": pid, "abstract": abstract or ""})
    # the first record format: one metadata field per paper field
    return Paper(
        id=pid,
        title=meta.get("title", ""),
        abstract=abstract or "",
        authors=tuple(json.loads(meta.get("authors") or "[]")),
        year=meta.get("year") or None,
        url=meta.get("url", ""),
        code_url=meta.get("code_url", ""),
    )
