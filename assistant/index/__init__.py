"""The persisted index: Chroma (embedded or a server) plus local files for a fast start.

store.py is the face the rest of the library uses; chroma.py talks to Chroma; sync.py is
the protocol that keeps several processes' views in step; ingest.py writes papers in
batches; local.py and keyword.py are the local files (paper records, BM25 segments);
vectors.py caches passage vectors by text.
"""

from assistant.index.errors import IndexBusy, IndexProblem, IngestInterrupted, StoreUnavailable
from assistant.index.local import Snapshot
from assistant.index.store import DenseHit, Store

__all__ = ["Store", "Snapshot", "DenseHit", "IndexProblem", "IndexBusy", "StoreUnavailable", "IngestInterrupted"]
