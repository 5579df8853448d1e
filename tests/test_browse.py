"""Browsing helpers the web UI's papers view uses: similar papers and metadata selection."""

import numpy as np
import pytest

HALLUCINATION = "RITUAL: Random Image Transformations as a Universal Anti-hallucination Lever in LVLMs"


def _id(pa, title):
    return next(p.id for p in pa.papers if p.title == title)


def test_similar_ranks_other_papers_by_the_cosine_of_their_paper_vectors(pa):
    pid = _id(pa, HALLUCINATION)
    hits = pa.similar(pid, k=5)
    assert len(hits) == 5
    assert pid not in {h.paper.id for h in hits}
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    # the scores are the cosines of the stored paper vectors, and no other paper is closer
    vecs = pa.store.paper_vectors([p.id for p in pa.papers])
    cos = {q: float(np.dot(vecs[pid], v)) for q, v in vecs.items() if q != pid}
    best5 = sorted(cos, key=cos.get, reverse=True)[:5]
    assert [h.paper.id for h in hits] == best5
    for h in hits:
        assert h.score == pytest.approx(cos[h.paper.id], abs=1e-4)
        assert h.text and h.paper.abstract.startswith(h.text[:40])


def test_similar_papers_share_the_topic(pa):
    titles = [h.paper.title.lower() for h in pa.similar(_id(pa, HALLUCINATION), k=5)]
    assert sum("hallucination" in t for t in titles) >= 2


def test_similar_rejects_unknown_ids_and_forgets_removed_papers(fresh_pa):
    with pytest.raises(KeyError, match="no paper"):
        fresh_pa.similar("no-such-id")
    pid = _id(fresh_pa, HALLUCINATION)
    nearest = fresh_pa.similar(pid, k=1)[0].paper.id
    fresh_pa.remove_papers([nearest])
    assert nearest not in {h.paper.id for h in fresh_pa.similar(pid, k=10)}
    assert fresh_pa.similar(pid, k=0) == []


def test_select_ids_filters_by_year_and_author(empty_pa, small_papers):
    empty_pa.add_papers(small_papers)
    no_meta = next(p.id for p in empty_pa.papers if p.title.startswith("Tiny Recipes"))
    assert sorted(empty_pa.select_ids()) == sorted(p.id for p in empty_pa.papers)
    assert empty_pa.select_ids(year_from=2024) == ["p1"]
    assert empty_pa.select_ids(year_to=2023) == ["p2"]
    assert sorted(empty_pa.select_ids(year_from=2023, year_to=2024)) == ["p1", "p2"]
    assert empty_pa.select_ids(year_from=2025) == []
    assert empty_pa.select_ids(author="  TURING ") == ["p1"]
    assert empty_pa.select_ids(author="turing", year_to=2023) == []
    assert no_meta not in empty_pa.select_ids(author="a")
    # the selection feeds paper_ids=: a question about p2's topic, limited to p1, cannot reach p2
    hits = empty_pa.search("graph transformers for molecules", paper_ids=empty_pa.select_ids(author="lovelace"))
    assert [h.paper.id for h in hits] == ["p1"]
