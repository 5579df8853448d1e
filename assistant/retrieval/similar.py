"""Papers like a given one: the nearest mean passage vectors."""

from __future__ import annotations

from collections import ChainMap

from assistant.index import Store
from assistant.index.session import SessionPapers
from assistant.types import Hit


def similar(store: Store, paper_id: str, k: int, session: SessionPapers | None = None) -> list[Hit]:
    """The `k` papers whose mean passage vectors are closest to `paper_id`'s (itself excluded)."""
    mine = session if session is not None and len(session) else None
    vec = mine.paper_vector(paper_id) if mine else None
    if vec is None:
        vec = store.paper_vectors([paper_id]).get(paper_id)
    if vec is None or k < 1:
        return []
    papers = ChainMap(mine.papers, store.snapshot.papers) if mine else store.snapshot.papers
    near = store.dense_papers(vec, k + 1) + (mine.dense_papers(vec, k + 1) if mine else [])
    hits = []
    for pid, cos in sorted(near, key=lambda x: -x[1]):
        if pid == paper_id or pid not in papers:
            continue
        p = papers[pid]
        first = store.passage(p, 0) if pid in store.snapshot.papers else store.passages(p)[0]
        hits.append(
            Hit(
                paper=p,
                text=first.text if first else "",
                score=cos,
                signals={"paper": cos},
                page=first.page if first else None,
                section=first.section if first else None,
                passage=first,
            )
        )
    return hits[:k]
