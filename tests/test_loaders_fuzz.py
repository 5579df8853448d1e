"""Loaders never crash on hostile input: every file either loads (with per-record
rejections) or raises CollectionError with a specific message."""

import codecs
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.ingest.records import CollectionError, parse_papers

NAMES = ["p.jsonl", "p.json", "p.csv", "p.txt", "papers", "p.bib", "p.ris", "p.sqlite", "p.json.gz"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=2000), name=st.sampled_from(NAMES))
def test_arbitrary_bytes_load_or_raise_collection_error(raw, name):
    try:
        res = parse_papers(raw, name)
    except CollectionError as e:
        assert name in str(e) or "papers" in str(e)
        return
    for p in res.papers:
        assert p.title and p.id
    for r in res.rejected:
        assert r.reason and r.record


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
records = st.dictionaries(
    st.sampled_from(
        [
            "id",
            "title",
            "abstract",
            "authors",
            "year",
            "url",
            "code_url",
            "x",
            "doi",
            "tags",
            "venue",
            "key",
            "bibtex",
            # keys that send a record to the CSL JSON and dump mappers
            "abstract_inverted_index",
            "authorships",
            "primary_location",
            "corpusid",
            "externalIds",
            "authors_parsed",
            "categories",
            "update_date",
            "versions",
            "issued",
            "author",
            "container-title",
        ]
    ),
    json_values,
    max_size=9,
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recs=st.lists(records, max_size=8))
def test_arbitrary_json_records_are_added_or_rejected_with_a_reason(recs):
    raw = "\n".join(json.dumps(r) for r in recs).encode()
    try:
        res = parse_papers(raw, "p.jsonl")
    except CollectionError:
        assert recs == []  # only an empty file is a file-level error here: every line is valid JSON
        return
    assert len(res.papers) + len(res.rejected) == len(recs)
    assert len({p.id for p in res.papers}) == len(res.papers)


@settings(max_examples=200, deadline=None)
@given(title=st.text(min_size=1, max_size=80), abstract=st.text(min_size=1, max_size=400))
def test_text_with_control_characters_round_trips_cleanly(title, abstract):
    res = parse_papers(json.dumps({"title": title, "abstract": abstract}).encode(), "p.jsonl")
    for p in res.papers:
        assert not any(ord(c) < 32 for c in p.title + p.abstract)
        assert p.title == " ".join(p.title.split())


GOOD = {"id": "g1", "title": "A good paper", "abstract": "It has a perfectly fine abstract."}


@pytest.mark.parametrize(
    "name,raw,expect",
    [
        ("truncated.json", json.dumps([GOOD, GOOD | {"id": "g2"}]).encode()[:-20], "invalid JSON"),
        ("latin1.csv", "title,abstract\nCaf\u00e9 paper,R\u00e9sum\u00e9 of it\n".encode("latin-1"), "not UTF-8"),
        ("nul.jsonl", json.dumps(GOOD).encode() + b"\x00\x00garbage", "binary"),
        ("nocols.csv", b"name,text\na,b\n", "title and abstract"),
        ("empty.json", b"[]", "no paper records"),
        ("number.json", b"42", "expected a JSON array"),
    ],
)
def test_fuzz_corpus_file_errors_are_specific(name, raw, expect):
    with pytest.raises(CollectionError, match=expect):
        parse_papers(raw, name)


def test_fuzz_corpus_record_errors_keep_the_good_records():
    huge_line = json.dumps({"id": "huge", "title": "Huge", "abstract": "word " * 2_100_000})  # ~10 MB line
    lines = [
        json.dumps(GOOD),
        huge_line,
        json.dumps({"id": "empty", "title": "Empty abstract", "abstract": "   "}),
        json.dumps({"id": "g1", "title": "Duplicate id", "abstract": "Another abstract."}),
        json.dumps({"id": "ctl", "title": "Control\x07 chars\x1b[31m in title", "abstract": "Fine."}),
        json.dumps({"id": "big-title", "title": "T" * 1000, "abstract": "Fine."}),
        json.dumps({"id": "bad-year", "title": "Bad year", "abstract": "Fine.", "year": "soon"}),
        json.dumps({"id": "authors-num", "title": "Numeric authors", "abstract": "Fine.", "authors": 7}),
    ]
    res = parse_papers("\n".join(lines).encode(), "mixed.jsonl")
    assert [p.id for p in res.papers] == ["g1", "empty", "ctl", "bad-year"]
    assert res.papers[2].title == "Control chars[31m in title"  # BEL and ESC removed
    reasons = {r.record: r.reason for r in res.rejected}
    assert "limit" in reasons["line 2"]
    assert "duplicate id" in reasons["line 4"]
    assert "title is 1000 characters" in reasons["line 6"]
    assert "authors must be" in reasons["line 8"]
    # kept, with what was left out said: no abstract, and a year that is not a year
    notes = {(w.record, w.kind): w.message for w in res.warnings}
    assert res.no_abstract == ["empty"] and ("line 3", "no_abstract") in notes
    assert res.papers[3].year is None and "not a year" in notes[("line 7", "field")]
    strict = parse_papers("\n".join(lines).encode(), "mixed.jsonl", strict=True)
    assert [p.id for p in strict.papers] == ["g1", "ctl"]
    assert "not a year" in {r.record: r.reason for r in strict.rejected}["line 7"]


def test_utf16_with_bom_is_read():
    raw = codecs.BOM_UTF16_LE + "title,abstract\nUTF-16 paper,Written by a Windows editor.\n".encode("utf-16-le")
    res = parse_papers(raw, "win.csv")
    assert res.papers[0].title == "UTF-16 paper"


def test_csv_rows_with_extra_cells_are_rejected():
    raw = b'title,abstract\nGood,"Fine, really."\nBad,too,many,cells\n'
    res = parse_papers(raw, "x.csv")
    assert [p.title for p in res.papers] == ["Good"]
    assert "cells but the header has 2 columns" in res.rejected[0].reason


def test_strict_ingest_adds_nothing_when_a_record_is_bad(empty_pa, tmp_path):
    f = tmp_path / "mixed.jsonl"
    f.write_text(json.dumps(GOOD) + "\n{broken\n")
    with pytest.raises(CollectionError, match="1 bad record.*line 2"):
        empty_pa.add_papers(f, strict=True)
    assert empty_pa.papers == []
    assert [p.id for p in empty_pa.papers] == [] and empty_pa.add_papers(f).added == ["g1"]


_BIB_TOKENS = [
    "@article{",
    "@string{",
    "@comment{",
    "@misc(",
    "key,",
    "key2,",
    " title = ",
    " author = ",
    " year = ",
    " abstract = ",
    " crossref = ",
    "{",
    "}",
    "(",
    ")",
    '"',
    "#",
    ",",
    "=",
    "macro",
    "2020",
    "jan",
    "Smith, John and Doe",
    " and others",
    '\\"u',
    "$\\alpha$",
    "%",
    "\n",
    "\n% @article{x,",
    "\\cite{a}",
]
_RIS_TOKENS = [
    "TY  - JOUR\n",
    "TI  - A title\n",
    "AU  - Smith, John\n",
    "AB  - An abstract.\n",
    "PY  - 2020\n",
    "ER  - \n",
    "KW  - x\n",
    "DO  - 10.1/x\n",
    "L1  - a.pdf\n",
    "garbage\n",
    "\n",
    "ID  - 7\n",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tokens=st.lists(st.sampled_from(_BIB_TOKENS), max_size=40), ris=st.lists(st.sampled_from(_RIS_TOKENS), max_size=30)
)
def test_bib_and_ris_shaped_input_loads_or_raises_collection_error(tokens, ris):
    for raw, name in (("".join(tokens), "p.bib"), ("".join(ris), "p.ris")):
        try:
            res = parse_papers(raw.encode(), name)
        except CollectionError as e:
            assert name in str(e)
            continue
        for p in res.papers:
            assert p.title and p.id and "\n" not in p.title
        for r in res.rejected:
            assert r.reason and r.record
