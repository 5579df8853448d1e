"""Index integrity: an ingest that fails partway keeps whole papers only and a rerun completes
it; an index written by another embedding model is refused at start-up with what to do."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from assistant import IndexProblem, IngestInterrupted, PaperAssistant, Settings
from assistant.index import Store
from assistant.ingest.chunking import chunk_paper
from assistant.ingest.records import load_papers
from assistant.settings import BUNDLED_COLLECTION as BUNDLED


def settings(tmp_path, model_cache, **kw) -> Settings:
    return Settings.load(
        env={}, index_dir=str(tmp_path / "index"), model_cache=str(model_cache), collection="", embed_cache="off", **kw
    )


def write(path, papers) -> None:
    path.write_text("\n".join(json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract}) for p in papers))


def passages_of(pa: PaperAssistant) -> int:
    return sum(len(chunk_paper(p, pa.settings.chunk_words)) for p in pa.papers)


def test_an_ingest_failing_midway_keeps_whole_papers_and_a_rerun_completes_it(tmp_path, model_cache):
    six = load_papers(BUNDLED).papers[:6]
    s = settings(tmp_path, model_cache, ingest_batch=2)
    pa = PaperAssistant(s)
    first = tmp_path / "first.jsonl"
    write(first, six[:2] + [six[4]])
    pa.add_papers(first)
    old_abstract = six[4].abstract

    changed = [*six[:4], replace(six[4], abstract="Rewritten: " + old_abstract), six[5]]
    second = tmp_path / "second.jsonl"
    write(second, changed)
    real_embed, calls = pa.embedder.embed, []

    def failing_embed(texts):
        calls.append(len(texts))
        if len(calls) == 2:  # the second batch: papers 4 (a replacement) and 5
            raise MemoryError("simulated: out of memory while embedding")
        return real_embed(texts)

    object.__setattr__(pa.embedder, "embed", failing_embed)  # a pydantic model: no monkeypatch.setattr
    with pytest.raises(IngestInterrupted, match=r"stopped after 2 of 4 new or changed papers \(MemoryError") as err:
        pa.add_papers(second)
    assert (err.value.done, err.value.total) == (2, 4)

    ids = {p.id for p in pa.papers}
    assert ids == {p.id for p in six[:5]}  # the first batch is in, paper 5 is not
    assert pa.paper(six[4].id).abstract == old_abstract  # the paper being replaced kept its old version
    assert pa.store.counts()["passages"] == passages_of(pa)  # no orphan passages, none missing
    assert pa.search(six[2].title, k=1)[0].paper.id == six[2].id
    assert all(h.paper.id != six[5].id for h in pa.search(six[5].title, k=10))  # not in the keyword index either

    reopened = PaperAssistant(s)  # what is on disk agrees with what this process saw
    assert {p.id for p in reopened.papers} == ids and reopened.store.counts() == pa.store.counts()

    object.__setattr__(pa.embedder, "embed", real_embed)
    calls_before = pa.embedder.calls
    report = pa.add_papers(second)
    assert sorted(report.unchanged) == sorted(p.id for p in six[:4])
    assert report.updated == [six[4].id] and report.added == [six[5].id]
    expected = sum(len(chunk_paper(p, s.chunk_words)) for p in changed[4:])
    assert report.passages_embedded == expected and pa.embedder.calls - calls_before == expected
    assert pa.paper(six[4].id).abstract.startswith("Rewritten: ")
    assert pa.store.counts()["passages"] == passages_of(pa) and len(pa.papers) == 6


def test_a_write_failing_midway_leaves_no_half_paper_in_view_or_on_disk(tmp_path, model_cache):
    six = load_papers(BUNDLED).papers[:6]
    s = settings(tmp_path, model_cache, ingest_batch=2)
    pa = PaperAssistant(s)
    f = tmp_path / "six.jsonl"
    write(f, six)
    store = pa.store.chroma.paper_store
    real_add, adds = store.add, []

    def failing_add(nodes, **kw):  # the second batch's passages are written, its paper records are not
        adds.append(len(nodes))
        if len(adds) == 2:
            raise OSError("simulated: disk full")
        return real_add(nodes, **kw)

    object.__setattr__(store, "add", failing_add)
    with pytest.raises(IngestInterrupted, match="disk full"):
        pa.add_papers(f)
    object.__setattr__(store, "add", real_add)

    assert {p.id for p in pa.papers} == {p.id for p in six[:2]}
    assert pa.store.counts()["passages"] == passages_of(pa)  # the cut batch's passages are gone
    assert all(h.paper.id in {p.id for p in six[:2]} for h in pa.search(six[2].title, k=10))
    report = pa.add_papers(f)
    assert sorted(report.added) == sorted(p.id for p in six[2:])
    assert len(pa.papers) == 6 and pa.store.counts()["passages"] == passages_of(pa)


class EightDimensions:
    """An embedding model whose vectors are not MiniLM's 384 numbers."""

    dim, model_key, calls, identity = 8, "eight", 0, "all-MiniLM-L6-v2"

    def embed(self, texts):
        rng = np.random.default_rng(len(texts))
        v = rng.normal(size=(len(texts), 8)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_vectors_of_another_dimension_are_refused_at_start_up(tmp_path, model_cache):
    s = settings(tmp_path, model_cache)
    other = Store(s, EightDimensions())
    other.upsert(load_papers(BUNDLED).papers[:3])
    del other
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # as a new process would
    with pytest.raises(IndexProblem, match="8 dimensions but all-MiniLM-L6-v2 makes 384") as err:
        PaperAssistant(s)
    assert "Delete that index" in str(err.value)
    broken = PaperAssistant(s, allow_broken_index=True)  # the web app starts and shows the problem
    assert "8 dimensions" in broken.store.problem
