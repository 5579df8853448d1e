"""What the index remembers about its sources (library.sqlite in the index folder): each
source synced, and for each of its files the size and modification time it was read at, the
papers it gave, the PDFs its entries claimed and why it could not be read.

A file whose size and modification time are as recorded is not read again, so a sync of a
folder where nothing changed costs one `stat` per file.  Several processes may share the file
(SQLite, WAL); a sync changes it in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

REGISTRY_FILE = "library.sqlite"


@dataclass(frozen=True)
class FileState:
    """One file of a source as it was last synced."""

    size: int
    mtime_ns: int
    papers: tuple[str, ...] = ()  # the ids of the papers it gave
    claims: tuple[str, ...] = ()  # a bibliography: the PDFs its entries attached (resolved paths)
    error: str = ""  # why it could not be read ("" = read); it is read again when it changes

    def same_file(self, size: int, mtime_ns: int) -> bool:
        return (self.size, self.mtime_ns) == (size, mtime_ns)


@dataclass
class SourceInfo:
    """A source the library mirrors, with what its last sync did."""

    path: str
    kind: str  # "folder", "zotero", or the bibliography format ("file")
    added_at: float = 0.0
    last_sync: float = 0.0  # 0: never synced
    last_report: dict = field(default_factory=dict)  # SyncReport.to_dict() of the last sync
    papers: int = 0  # papers it holds now
    failures: int = 0  # files it could not read at the last sync

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "kind": self.kind,
            "papers": self.papers,
            "failures": self.failures,
            "last_sync": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.last_sync)) if self.last_sync else "",
            "last_changes": {k: len(self.last_report.get(k, [])) for k in ("added", "updated", "removed")},
        }


class Registry:
    def __init__(self, root: Path):
        self.path = root / REGISTRY_FILE

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS sources (path TEXT PRIMARY KEY, kind TEXT NOT NULL, added REAL NOT NULL, "
            "last_sync REAL NOT NULL DEFAULT 0, report TEXT NOT NULL DEFAULT '{}')"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS files (source TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, "
            "mtime_ns INTEGER NOT NULL, papers TEXT NOT NULL, claims TEXT NOT NULL, error TEXT NOT NULL, "
            "PRIMARY KEY (source, path))"
        )
        return db

    def sources(self) -> list[SourceInfo]:
        """Every source, in the order they were added, with its current paper and failure counts."""
        if not self.path.exists():
            return []
        with closing(self._connect()) as db:
            rows = db.execute("SELECT path, kind, added, last_sync, report FROM sources ORDER BY added").fetchall()
            out = []
            for path, kind, added, last, report in rows:
                files = self._files(db, path)
                papers = {pid for f in files.values() for pid in f.papers}
                failures = sum(1 for f in files.values() if f.error)
                out.append(SourceInfo(path, kind, added, last, json.loads(report), len(papers), failures))
        return out

    def files(self, source: str) -> dict[str, FileState]:
        if not self.path.exists():
            return {}
        with closing(self._connect()) as db:
            return self._files(db, source)

    @staticmethod
    def _files(db: sqlite3.Connection, source: str) -> dict[str, FileState]:
        rows = db.execute("SELECT path, size, mtime_ns, papers, claims, error FROM files WHERE source=?", (source,))
        return {
            path: FileState(size, mtime_ns, tuple(json.loads(papers)), tuple(json.loads(claims)), error)
            for path, size, mtime_ns, papers, claims, error in rows
        }

    def held_elsewhere(self, source: str) -> set[str]:
        """Ids of the papers other sources hold (a paper two sources give stays while either has it)."""
        if not self.path.exists():
            return set()
        with closing(self._connect()) as db:
            rows = db.execute("SELECT papers FROM files WHERE source<>?", (source,)).fetchall()
        return {pid for (papers,) in rows for pid in json.loads(papers)}

    def save(self, source: str, kind: str, files: dict[str, FileState], report: dict) -> None:
        """Record a source's files after a sync (in one transaction)."""
        now = time.time()
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT INTO sources (path, kind, added, last_sync, report) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET kind=excluded.kind, last_sync=excluded.last_sync, "
                "report=excluded.report",
                (source, kind, now, now, json.dumps(report)),
            )
            db.execute("DELETE FROM files WHERE source=?", (source,))
            db.executemany(
                "INSERT INTO files (source, path, size, mtime_ns, papers, claims, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (source, path, f.size, f.mtime_ns, json.dumps(list(f.papers)), json.dumps(list(f.claims)), f.error)
                    for path, f in files.items()
                ],
            )
            db.execute("COMMIT")

    def forget(self, source: str) -> None:
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM files WHERE source=?", (source,))
            db.execute("DELETE FROM sources WHERE path=?", (source,))
            db.execute("COMMIT")
