"""What intake passes around: the items a file gives (papers, full texts, rejections,
warnings), progress callbacks, and the Destination its papers go to (index/destinations.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from assistant.ingest.fulltext import FullText
from assistant.types import IngestReport, LoadWarning, Paper, Rejection

Progress = Callable[[int, int], None]
Item = Paper | FullText | Rejection | LoadWarning


class Destination(Protocol):
    """What intake needs of where papers go."""

    @property
    def stored(self) -> Mapping[str, Paper]: ...  # what it holds: an unchanged paper is skipped

    full_text: bool  # whether a PDF's body is kept (else its title, authors and abstract only)
    max_records: int  # the most records one file may bring

    def write(self, items: Iterator[Item], report: IngestReport, size: int, total: int, progress: Progress | None):
        """Add the papers among `items` (`size`: bytes read, `total`: papers expected, 0 unknown)."""
