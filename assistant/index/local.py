"""The local, derived part of an index: paper records and the keyword index on disk.

Chroma is the source of truth; these files let a process start in a second instead of
reading every paper back from Chroma and re-tokenising it.  They are updated in place,
a few papers at a time (never rewritten whole), which is what keeps start-up and
ingest cheap at 50k papers:

    local.sqlite    papers (id, content hash, record), passages (the body passages of
                    full-text papers: they cannot be derived from the record, unlike an
                    abstract's) and meta (fingerprint, Chroma state token, sync time,
                    keyword state, version), changed in one transaction
    keyword/        immutable keyword segments (see keyword.py); meta says which are live

Each save checks the version it started from: if another process sharing the directory
saved in between, this one rewrites the paper table from memory instead of patching it,
so the files always match one process's complete view.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from assistant.index.keyword import KeywordIndex
from assistant.types import Paper, Passage

log = logging.getLogger(__name__)

try:  # orjson (a chromadb dependency) reads the records faster
    import orjson

    _loads, _dumps = orjson.loads, lambda o: orjson.dumps(o).decode()
except ImportError:  # pragma: no cover
    _loads, _dumps = json.loads, lambda o: json.dumps(o, ensure_ascii=False)


@dataclass(frozen=True)
class Snapshot:
    """What searches read: replaced as a whole after each change, so readers never see a mix."""

    papers: dict[str, Paper] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    keyword: KeywordIndex = field(default_factory=KeywordIndex)
    state: str = ""  # Chroma's state token this view matches ("" = none yet)
    synced_at: float = 0.0  # Chroma clock when this view last read Chroma's changes
    version: int = 0  # local files version it was loaded from or saved as


class LocalIndex:
    def __init__(self, root: Path, fingerprint: dict):
        self.root = root
        self.fingerprint = json.dumps(fingerprint, sort_keys=True)
        self.db_path = root / "local.sqlite"
        self.keyword_dir = root / "keyword"
        self._tidied = -1e9  # when unused files were last looked for
        self._readers = threading.local()  # one read connection per thread (searches run on several)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS papers (id TEXT PRIMARY KEY, hash TEXT NOT NULL, record TEXT NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        # `hash`: the content hash of the paper version the passages belong to (see body_passages)
        db.execute(
            "CREATE TABLE IF NOT EXISTS passages (paper_id TEXT NOT NULL, idx INTEGER NOT NULL, "
            "hash TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, page INTEGER NOT NULL, "
            "end_page INTEGER NOT NULL, section TEXT, text TEXT NOT NULL, PRIMARY KEY (paper_id, idx))"
        )
        return db

    def fingerprint_on_disk(self) -> str | None:
        if not self.db_path.exists():
            return None
        with self._closing() as db:
            row = db.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
        return row[0] if row else None

    def _closing(self):
        from contextlib import closing

        return closing(self._connect())

    def load(self) -> Snapshot | None:
        """The saved view, or None if there is none (or it is unreadable: rebuilt from Chroma)."""
        if not self.db_path.exists():
            return None
        try:
            with self._closing() as db:
                db.execute("BEGIN")  # one consistent read of papers and meta
                meta = dict(db.execute("SELECT key, value FROM meta"))
                if "version" not in meta:
                    return None
                papers, hashes = {}, {}
                for pid, h, rec in db.execute("SELECT id, hash, record FROM papers"):
                    papers[pid] = Paper.from_dict(_loads(rec))
                    hashes[pid] = h
                db.execute("COMMIT")
            keyword_state = json.loads(meta["keyword"])
            keyword = KeywordIndex.load(self.keyword_dir, keyword_state)
            if set(keyword.ids) != set(papers):
                raise ValueError("keyword index and paper records disagree")
            self._tidy(keyword_state)
            return Snapshot(
                papers, hashes, keyword, meta.get("state", ""), float(meta.get("synced_at", 0)), int(meta["version"])
            )
        except (sqlite3.Error, OSError, ValueError, KeyError) as e:
            log.warning("local index files in %s are damaged (%s); rebuilding them from Chroma", self.root, e)
            return None

    def save(
        self,
        snap: Snapshot,
        upserted: Iterable[Paper] = (),
        removed: Iterable[str] = (),
        bodies: Mapping[str, list[Passage]] | None = None,
    ) -> int | None:
        """Write the changes that turned the saved view into `snap` (`bodies`: the body passages
        of upserted full-text papers); returns the new version (None if the files could not be
        written: the view stays valid in memory)."""
        bodies = bodies or {}
        upserted, removed = list(upserted), list(removed)
        try:
            keyword_state = snap.keyword.save(self.keyword_dir)
            with self._closing() as db:
                db.execute("BEGIN IMMEDIATE")
                row = db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
                on_disk = int(row[0]) if row else 0
                if on_disk != snap.version:  # someone else saved since we loaded: write our whole view
                    upserted, removed = _whole_view(db, snap)
                _write_papers(db, snap, upserted, removed, bodies)
                version = on_disk + 1
                meta = {
                    "fingerprint": self.fingerprint,
                    "version": str(version),
                    "state": snap.state,
                    "synced_at": repr(snap.synced_at),
                    "keyword": json.dumps(keyword_state),
                    "papers": str(len(snap.papers)),
                }
                db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta.items())
                db.execute("COMMIT")
        except (sqlite3.Error, OSError) as e:
            log.warning(
                "could not save the local index files in %s (%s); they will be rebuilt from Chroma", self.root, e
            )
            return None
        self._tidy(keyword_state)
        return version

    def _tidy(self, keyword_state: dict) -> None:
        """Delete files no state uses (at most once a minute: not at every batch of a long ingest)."""
        if time.monotonic() - self._tidied < 60:
            return
        self._tidied = time.monotonic()
        KeywordIndex.remove_unused(self.keyword_dir, {s["name"] for s in keyword_state["segments"]}, min_age=120)
        self._remove_legacy()

    # -- body passages ------------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        db = getattr(self._readers, "db", None)
        if db is None:
            db = self._readers.db = self._connect()
        return db

    def body_passages(self, paper_id: str, content_hash: str, index: int | None = None) -> list[Passage] | None:
        """The stored body passages of a paper version (only passage `index` if given: [] when it
        has none such); None when the files hold none of that version (another process sharing
        the directory rewrote them meanwhile: the caller reads Chroma)."""
        try:
            db = self._reader()
            if index is not None:
                held = db.execute("SELECT hash FROM passages WHERE paper_id=? LIMIT 1", (paper_id,)).fetchone()
                if held is None or held[0] != content_hash:
                    return None
            rows = db.execute(
                "SELECT idx, hash, start, end, page, end_page, section, text FROM passages WHERE paper_id=?"
                + (" AND idx=?" if index is not None else " ORDER BY idx"),
                (paper_id, index) if index is not None else (paper_id,),
            ).fetchall()
        except sqlite3.Error as e:
            log.warning("could not read passages from %s (%s)", self.db_path, e)
            return None
        if any(h != content_hash for _, h, *_ in rows) or (not rows and index is None):
            return None
        return [
            Passage(
                paper_id=paper_id,
                index=i,
                text=text,
                start=start,
                end=end,
                page=page,
                end_page=end_page,
                section=section,
            )
            for i, _, start, end, page, end_page, section, text in rows
        ]

    def papers_on_disk(self) -> dict[str, Paper]:
        """The saved paper records only (what `reindex` re-embeds when Chroma's copy is gone)."""
        if not self.db_path.exists():
            return {}
        with self._closing() as db:
            return {pid: Paper.from_dict(_loads(rec)) for pid, rec in db.execute("SELECT id, record FROM papers")}

    def _remove_legacy(self) -> None:
        """Files of the first index format (whole-file rewrites per change)."""
        for old in self.root.glob("papers-*.jsonl"):
            old.unlink(missing_ok=True)
        for old in self.root.glob("keyword-*"):
            shutil.rmtree(old, ignore_errors=True)
        (self.root / "manifest.json").unlink(missing_ok=True)


def _whole_view(db: sqlite3.Connection, snap: Snapshot) -> tuple[list[Paper], list[str]]:
    """(upserted, removed) that rewrite the paper table as `snap`: every paper in it, and the
    passages of papers outside it removed."""
    db.execute("DELETE FROM papers")
    stale = {pid for (pid,) in db.execute("SELECT DISTINCT paper_id FROM passages")} - set(snap.papers)
    # Passages are not in memory: those of papers outside this view go; the rest stay,
    # and a reader checks their hash (body_passages).
    return list(snap.papers.values()), sorted(stale)


def _write_papers(
    db: sqlite3.Connection,
    snap: Snapshot,
    upserted: list[Paper],
    removed: list[str],
    bodies: Mapping[str, list[Passage]],
) -> None:
    """Paper records and body passages changed as `upserted` and `removed` say, in the open transaction."""
    db.executemany("DELETE FROM papers WHERE id=?", [(pid,) for pid in removed])
    db.executemany(
        "INSERT OR REPLACE INTO papers (id, hash, record) VALUES (?, ?, ?)",
        [(p.id, snap.hashes[p.id], _dumps(p.to_dict())) for p in upserted],
    )
    replaced = set(removed) | {p.id for p in upserted if not p.full_text or p.id in bodies}
    db.executemany("DELETE FROM passages WHERE paper_id=?", [(pid,) for pid in replaced])
    db.executemany(
        "INSERT INTO passages (paper_id, idx, hash, start, end, page, end_page, section, text) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (ps.paper_id, ps.index, snap.hashes[pid], ps.start, ps.end, ps.page, ps.end_page, ps.section, ps.text)
            for pid, body in bodies.items()
            if pid in snap.hashes
            for ps in body
        ],
    )
