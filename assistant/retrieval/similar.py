"""Papers like a given one: the nearest mean passage vectors."""

from __future__ import annotations

from assistant.retrieval.candidates import Candidates
from assistant.types import Hit


def similar(source: Candidates, paper_id: str, k: int) -> list[Hit]:
    """The `k` papers whose mean passage vectors are closest to `paper_id`'s (itself excluded)."""
    vec = source.paper_vector(paper_id)
    if vec is None or k < 1:
        return []
    papers = source.papers
    hits = []
    for pid, cos in source.dense_papers(vec, k + 1):
        if pid == paper_id or pid not in papers:
            continue
        p = papers[pid]
        first = source.passage(p, 0)
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
