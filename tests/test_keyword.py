"""The segmented BM25 index: exact scores after any sequence of changes, and its files."""

import logging
import os
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.index.keyword import KeywordIndex
from assistant.text import tokenize

WORDS = [f"w{i}" for i in range(12)]


def bm25s_top(docs: dict[str, list[str]], query: list[str]) -> dict[str, float]:
    """Reference scores from a fresh bm25s index (the library this index replaced)."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    ids = sorted(docs)
    vocab = {"": 0}
    corpus = [[vocab.setdefault(t, len(vocab)) for t in docs[i]] for i in ids]
    bm = bm25s.BM25()
    bm.index(bm25s.tokenization.Tokenized(ids=corpus, vocab=vocab), show_progress=False)
    qids = [vocab[t] for t in query if t in vocab]
    if not qids:
        return {}
    scores = bm.get_scores_from_ids(qids)
    return {ids[i]: float(s) for i, s in enumerate(scores) if s > 0}


doc = st.lists(st.sampled_from(WORDS), min_size=0, max_size=8)
ops = st.lists(st.tuples(st.sampled_from(["put", "del"]), st.integers(0, 30), doc), min_size=1, max_size=40)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # bm25s divides by a zero mean length on empty papers
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.dictionaries(st.integers(0, 30).map(str), doc, max_size=20),
    changes=ops,
    query=st.lists(st.sampled_from(WORDS + ["zz"]), min_size=1, max_size=4),
)
def test_scores_after_any_changes_equal_a_fresh_bm25s_index(first, changes, query):
    ki = KeywordIndex(first)
    truth = dict(first)
    for op, n, tokens in changes:
        pid = str(n)
        if op == "put":
            ki = ki.with_tokens({pid: tokens})
            truth[pid] = tokens
        else:
            ki = ki.with_tokens({}, remove=[pid])
            truth.pop(pid, None)
    assert sorted(ki.ids) == sorted(truth) and len(ki) == len(truth)
    got = dict(ki.top(query, 100))
    want = bm25s_top(truth, query) if truth else {}
    assert got.keys() == want.keys()
    for pid in want:
        assert got[pid] == pytest.approx(want[pid], rel=1e-5)
    for t in set(query):
        assert ki.df(t) == sum(t in d for d in truth.values())
    for pid, tokens in truth.items():
        assert set(ki.terms(pid)) == set(tokens)


def test_many_small_updates_stay_in_few_segments():
    ki = KeywordIndex()
    for b in range(200):
        ki = ki.with_tokens({f"p{b}-{i}": [f"w{(b + i) % 50}", "common"] for i in range(8)})
    assert len(ki) == 1600
    assert ki.segments <= 12  # geometric merging: O(log N) segments, not one per update
    fresh = KeywordIndex({pid: ki.terms(pid) for pid in ki.ids})
    assert ki.top(["w7", "common"], 20) == fresh.top(["w7", "common"], 20)
    big = max(len(p.seg) for p in ki._parts)
    ki = ki.with_tokens({}, remove=[pid for pid in ki.ids if int(pid[1:].split("-")[0]) % 2])
    assert len(ki) == 800 and max(len(p.seg) for p in ki._parts) < big  # half-dead segments are rewritten
    fresh = KeywordIndex({pid: ki.terms(pid) for pid in ki.ids})
    assert ki.top(["w8", "common"], 900) == fresh.top(["w8", "common"], 900)


def test_update_leaves_the_old_index_untouched_and_filters_work():
    ki = KeywordIndex(
        {
            "a": tokenize("temporal IoU loss for moment masks"),
            "b": tokenize("contrastive decoding"),
            "c": tokenize("moment retrieval in videos"),
        }
    )
    new = ki.updated({"b": ("Moment masks", "moment masks again")}, remove=["a"])
    assert [p for p, _ in ki.top(tokenize("moment masks"), 3)] == ["a", "c"]
    assert new.top(tokenize("masks"), 1)[0][0] == "b" and "a" not in new
    assert [p for p, _ in new.top(tokenize("moment"), 3, allowed={"c", "zzz"})] == ["c"]
    assert new.top(tokenize("moment"), 3, allowed=set()) == []


def test_save_and_load_round_trip_and_unused_segments_go(tmp_path):
    ki = KeywordIndex({f"p{i}": [f"w{i % 7}", f"x{i % 3}"] for i in range(100)})
    ki2 = ki.with_tokens({"p1": ["w1", "new"]}, remove=["p2"])
    state = ki2.save(tmp_path)
    back = KeywordIndex.load(tmp_path, state)
    assert sorted(back.ids) == sorted(ki2.ids)
    for q in (["w1"], ["new", "x2"], ["w3", "w3"]):
        assert back.top(q, 50) == ki2.top(q, 50)
    assert back.df("w2") == ki2.df("w2") and back.idf("nothing") == ki2.idf("nothing")
    # arrays are memory-mapped, not read into memory
    assert isinstance(back._parts[0].seg.t_doc, np.memmap)

    ki3 = back.with_tokens({f"q{i}": ["w1"] for i in range(200)})  # merges everything into a new segment
    state3 = ki3.save(tmp_path)
    keep = {s["name"] for s in state3["segments"]}
    old = {s["name"] for s in state["segments"]} - keep
    assert old
    KeywordIndex.remove_unused(tmp_path, keep, min_age=3600)
    assert all((tmp_path / f"seg-{n}").exists() for n in old)  # too young: a neighbour may still use them
    past = time.time() - 7200
    for n in old:
        os.utime(tmp_path / f"seg-{n}", (past, past))
    KeywordIndex.remove_unused(tmp_path, keep, min_age=3600)
    assert not any((tmp_path / f"seg-{n}").exists() for n in old)
    assert KeywordIndex.load(tmp_path, state3).top(["w1"], 5) == ki3.top(["w1"], 5)
