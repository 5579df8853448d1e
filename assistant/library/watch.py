"""Watching sources: a source is synced soon after one of its files stops changing.

Every `interval` seconds each source's files are stat-ed (size and modification time; for a
zotero.sqlite, its -wal file too, where a running Zotero writes first).  When they differ from
what the last sync saw, the source is synced with `settle`: a file modified in the last
`settle` seconds (a PDF still being written) is left for a later poll, so it is never read
half-written.  A sync that fails is reported and tried again at the next change; it never
stops the other sources.  No extra dependency: polling works on every file system (network
shares and synced folders included), and a poll of 1,000 files costs a few milliseconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.ingest.reader import folder_files
from assistant.library.sync import SyncReport, source_key

log = logging.getLogger(__name__)

WATCH_INTERVAL = 2.0  # s between polls
WATCH_SETTLE = 3.0  # s a file must be unchanged before it is read


def signature(source: Path) -> tuple:
    """The sizes and modification times of a source's files (a change means: sync it)."""
    if source.is_dir():
        bibs, pdfs = folder_files(source)
        files = bibs + pdfs
    else:
        files = [source, Path(f"{source}-wal")]
    out = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        out.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(out)


@dataclass
class SourceStatus:
    """What the watcher knows of one source: for the web app's Library tab and the CLI."""

    path: str
    last_sync: float = 0.0
    last: SyncReport | None = None
    error: str = ""  # the last sync failed as a whole (the source is gone, the index is busy...)
    totals: dict[str, int] = field(default_factory=lambda: {"added": 0, "updated": 0, "removed": 0})


class Watcher:
    """Syncs `sources` through `pa` (a PaperAssistant) as their files change; `on_report(report)`
    hears about each sync that changed something or failed."""

    def __init__(
        self,
        pa,
        sources: list[str | Path],
        interval: float = WATCH_INTERVAL,
        settle: float = WATCH_SETTLE,
        on_report: Callable[[SyncReport], None] | None = None,
    ):
        self.pa, self.interval, self.settle, self.on_report = pa, interval, settle, on_report
        self.status = {source_key(s): SourceStatus(source_key(s)) for s in sources}
        self._seen: dict[str, tuple] = {}  # source -> signature its last complete sync saw
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.polls = 0

    def poll(self) -> list[SyncReport]:
        """Sync each source whose files changed since its last complete sync."""
        reports = []
        for key, status in self.status.items():
            now = signature(Path(key))
            if self._seen.get(key) == now and not status.error:
                continue
            try:
                report = self.pa.sync(key, settle=self.settle)[0]
            except Exception as e:  # noqa: BLE001 - one source's failure never stops the others
                error = f"{type(e).__name__}: {e}"
                if error != status.error:  # said once, tried again at every poll
                    log.warning("sync of %s failed: %s", key, error)
                status.error = error
                continue
            status.error, status.last, status.last_sync = "", report, time.time()
            for k in status.totals:
                status.totals[k] += len(getattr(report, k))
            if not report.waiting:
                self._seen[key] = now
            reports.append(report)
            if self.on_report and (report.changed or report.failures):
                self.on_report(report)
        self.polls += 1
        return reports

    def run(self) -> None:
        """Poll until stop() (in the calling thread)."""
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)

    def start(self) -> Watcher:
        """Poll in a background thread."""
        self._thread = threading.Thread(target=self.run, name="library-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
