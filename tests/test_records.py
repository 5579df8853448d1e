"""From a record to a Paper: names, years, links, ids, LaTeX, and the Paper's own hash and dict."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.formats.latex import latex_to_text, slow_latex_to_text
from assistant.formats.names import split_authors
from assistant.ingest.records import (
    find_code_url,
    metadata_text,
    normalize_record,
    parse_papers,
    title_id,
)
from assistant.types import Paper

BASE = {"title": "A Title", "abstract": "An abstract."}


@pytest.mark.parametrize(
    "authors,expected",
    [
        ("Smith, John", ("John Smith",)),  # on main: two authors, "Smith" and "John"
        ("Smith, John and Doe, Jane", ("John Smith", "Jane Doe")),
        ("Smith, John; Doe, Jane", ("John Smith", "Jane Doe")),
        ("Smith, John, Doe, Jane", ("John Smith", "Jane Doe")),
        ("Ada Lovelace, Alan Turing and Grace Hopper", ("Ada Lovelace", "Alan Turing", "Grace Hopper")),
        ("Ada Lovelace; Alan Turing", ("Ada Lovelace", "Alan Turing")),
        ("van der Berg, Anna", ("Anna van der Berg",)),
        ("Smith, Jr., John", ("John Smith Jr.",)),
        (["Smith, John", "Jane Doe"], ("John Smith", "Jane Doe")),
        (
            [{"family": "Doe", "given": "Jane"}, {"literal": "WHO"}, {"name": "A. Turing"}],
            ("Jane Doe", "WHO", "A. Turing"),
        ),
    ],
)
def test_author_names_are_split_and_shown_first_name_first(authors, expected):
    assert normalize_record(BASE | {"authors": authors}).authors == expected


def test_a_csv_author_cell_in_last_first_form_is_one_person():
    res = parse_papers(b'title,abstract,authors\nT,An abstract.,"Smith, John"\n', "p.csv")
    assert res.papers[0].authors == ("John Smith",)
    assert split_authors("") == []


def test_an_unreadable_year_drops_the_year_not_the_record():
    res = parse_papers(json.dumps(BASE | {"id": "x", "year": "soon"}).encode(), "p.jsonl")
    assert [p.id for p in res.papers] == ["x"] and res.papers[0].year is None  # on main: the record was rejected
    assert res.warnings[0].kind == "field" and "'soon' is not a year" in res.warnings[0].message
    with pytest.raises(ValueError, match="not a year"):
        normalize_record(BASE | {"year": "soon"}, strict=True)
    assert normalize_record(BASE | {"year": "2020-00-00 2020"}).year == 2020  # Zotero's stored date
    assert normalize_record(BASE | {"doi": "not-a-doi"}).doi == ""


def test_only_links_to_code_hosts_become_the_code_link():
    assert (
        find_code_url("Data at https://example.org/dataset. Code: https://github.com/a/b.") == "https://github.com/a/b"
    )
    assert (
        find_code_url("Our benchmark is at http://x.org/bench and the demo at https://demo.ai") == ""
    )  # on main: x.org
    assert find_code_url("Project page: https://team.github.io/proj") == "https://team.github.io/proj"
    assert find_code_url("See https://notgithub.com/a/b") == ""
    rec = normalize_record(BASE | {"abstract": "The dataset is at https://zenodo.org/record/1."})
    assert rec.code_url == ""


def test_ids_come_from_the_record_then_key_then_doi_then_arxiv_then_title():
    full = BASE | {"id": "given", "key": "smith2020", "doi": "10.1000/ABC", "arxiv_id": "arXiv:2001.00001v2"}
    assert normalize_record(full).id == "given"
    assert normalize_record({k: v for k, v in full.items() if k != "id"}).id == "smith2020"
    assert normalize_record(BASE | {"doi": "https://doi.org/10.1000/ABC", "arxiv_id": "2001.00001"}).id == "10.1000/abc"
    p = normalize_record(BASE | {"arxiv_id": "arXiv:2001.00001v2"})
    assert p.id == p.arxiv_id == "2001.00001v2" and p.url == "https://arxiv.org/abs/2001.00001v2"
    assert normalize_record(BASE).id == title_id("a title")
    q = normalize_record(BASE | {"doi": "10.48550/arXiv.2001.00001"})  # arXiv's own DOI names the arXiv id
    assert q.arxiv_id == "2001.00001" and q.url == "https://doi.org/10.48550/arXiv.2001.00001"


def test_metadata_fields_are_cleaned():
    p = normalize_record(
        BASE
        | {
            "venue": "  NeurIPS\n",
            "tags": "a; b, a",
            "collections": ["X", "", "Y"],
            "key": "smith 2020",
            "pdf_path": "/x/\x07p.pdf",
            "bibtex": " @misc{k, title={T}} ",
        }
    )
    assert (p.venue, p.tags, p.collections, p.key) == ("NeurIPS", ("a", "b"), ("X", "Y"), "smith2020")
    assert p.pdf_path == "/x/p.pdf" and p.bibtex == "@misc{k, title={T}}"


def test_a_paper_without_an_abstract_is_indexed_from_its_metadata():
    p = normalize_record(
        {
            "title": "Deep Residual Learning for Image Recognition",
            "venue": "CVPR",
            "year": 2016,
            "tags": ["vision", "resnet"],
        }
    )
    assert p.abstract == ""
    assert metadata_text(p) == "Deep Residual Learning for Image Recognition. CVPR, 2016. Keywords: vision, resnet."
    assert metadata_text(Paper("x", "Just a title.", "")) == "Just a title."
    with pytest.raises(ValueError, match="missing abstract"):
        normalize_record({"title": "T"}, require_abstract=True)


def test_content_hash_is_unchanged_for_papers_with_only_the_original_fields():
    p = Paper("p1", "T", "A.", ("Ada Lovelace",), 2024, "https://e.org", "https://github.com/a/b")
    payload = json.dumps([p.title, p.abstract, list(p.authors), p.year, p.url, p.code_url])  # the hash before
    assert p.content_hash() == hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
    with_tags = Paper(**{**p.to_dict(), "authors": p.authors, "tags": ("x",)})
    assert with_tags.content_hash() != p.content_hash()
    assert Paper(**{**p.to_dict(), "authors": p.authors, "doi": "10.1/x"}).content_hash() not in (
        p.content_hash(),
        with_tags.content_hash(),
    )


def test_to_dict_round_trips_and_adds_only_the_metadata_that_is_set():
    old = Paper("p1", "T", "A.", ("Ada",), 2024)
    assert set(old.to_dict()) == {"id", "title", "abstract", "authors", "year", "url", "code_url"}
    full = Paper(
        "p2",
        "T",
        "",
        ("Ada",),
        None,
        "",
        "",
        venue="V",
        doi="10.1/x",
        arxiv_id="2001.00001",
        key="k",
        tags=("a",),
        collections=("c",),
        pdf_path="/p.pdf",
        bibtex="@misc{k}",
    )
    for p in (old, full):
        assert Paper.from_dict(json.loads(json.dumps(p.to_dict()))) == p


@pytest.mark.parametrize(
    "latex,text",
    [
        (r"M{\"u}ller and Garc{\'\i}a", "Müller and García"),
        (r"{BERT} meets $\alpha$-divergence", "BERT meets α-divergence"),
        (r"gains~\cite{x} of 12\% and ~20% at $O(n^2)$.", "gains of 12% and ~20% at O(n^2)."),
        (
            r"we present \ours, and \ours unifies; \ModelName{} wins",
            "we present ours, and ours unifies; ModelName wins",
        ),
        (r"\method{X} with \emph{care} and \url{https://github.com/a/b_c}", "X with care and https://github.com/a/b_c"),
        ("a ``quoted'' word --- and a dash", "a “quoted” word — and a dash"),
        ("plain text, 50% of it, no LaTeX", "plain text, 50% of it, no LaTeX"),
    ],
)
def test_latex_is_made_plain_text(latex, text):
    assert latex_to_text(latex) == text


def test_csv_quotes_escaped_by_doubling_are_read_whatever_the_first_rows_look_like():
    abstract = "An abstract, with commas, and no quotes at all. " * 8
    rows = ["id,title,abstract"] + [f'r{i},Title {i},"{abstract}"' for i in range(12)]  # the first 4 KB
    rows.append('b,Second,"They call it ""sparse"", and it is, mostly."')
    res = parse_papers("\n".join(rows).encode(), "p.csv")  # on main: the last row split into too many cells
    assert len(res.papers) == 13 and res.rejected == []
    assert res.papers[-1].abstract == 'They call it "sparse", and it is, mostly.'


_TOKENS = [
    "a",
    "Z",
    " ",
    "-",
    "'",
    "`",
    "!",
    "?",
    "~",
    "{",
    "}",
    "%",
    "&",
    "#",
    "_",
    "^",
    "1",
    ".",
    ",",
    "é",
    "\n",
    "\\%",
    "\\&",
    "\\_",
    "\\#",
    "\\$",
    "\\{",
    "\\}",
    "\\textasciitilde{}",
    "\\textasciicircum{}",
    "\\textbackslash{}",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=30))
def test_the_fast_latex_path_agrees_with_pylatexenc(tokens):
    text = "{" + "".join(tokens)  # a brace: LaTeX to convert, by the fast path when it is only escapes and braces
    assert " ".join(latex_to_text(text).split()) == " ".join(slow_latex_to_text(text).split())
