"""What can go wrong with an index, as exceptions whose messages say what to do."""

from __future__ import annotations


class IndexProblem(RuntimeError):
    """The index cannot be used as it is; the message says what to do."""


class StoreUnavailable(IndexProblem):
    """The Chroma server cannot be reached."""


class IndexBusy(IndexProblem):
    """Another process has the embedded index open (`root`: that index's folder, when known)."""

    def __init__(self, message: str, root=None):
        super().__init__(message)
        self.root = root


class IngestInterrupted(IndexProblem):
    """An ingest failed partway: the papers of finished batches are in the index, whole; the
    others are not (the index stays usable, and rerunning the ingest completes it)."""

    def __init__(self, message: str, done: int, total: int):
        super().__init__(message)
        self.done, self.total = done, total
