"""References out: BibTeX / CSL JSON / RIS written by assistant.references and read back by
assistant.papers give the same papers; the user's own BibTeX entries go out as written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import references as refs
from assistant.ingest.records import load_papers, normalize_record, parse_papers
from assistant.settings import BUNDLED_COLLECTION
from assistant.types import Paper

DATA = Path(__file__).parent / "data" / "formats"
WRITERS = {"bib": refs.to_bibtex, "json": refs.to_csl_json, "ris": refs.to_ris}


@pytest.fixture(scope="module")
def bundled() -> list[Paper]:
    return load_papers(BUNDLED_COLLECTION).papers


@pytest.mark.parametrize("ext", ["bib", "json", "ris", "jsonl", "papers.json", "csv"])
def test_the_bundled_collection_round_trips_through_every_format(tmp_path, bundled, ext):
    f = tmp_path / f"collection.{ext}"
    if ext == "jsonl":
        f.write_text("\n".join(json.dumps(p.to_dict()) for p in bundled))
    elif ext == "papers.json":
        f.write_text(json.dumps({"papers": [p.to_dict() for p in bundled]}))
    elif ext == "csv":
        with open(f, "w", newline="", encoding="utf-8") as out:
            w = csv.writer(out)
            w.writerow(["id", "title", "abstract", "authors", "year", "url", "code_url"])
            w.writerows(
                [p.id, p.title, p.abstract, "; ".join(p.authors), p.year or "", p.url, p.code_url] for p in bundled
            )
    else:
        f.write_text(WRITERS[ext](bundled))
    res = load_papers(f)
    assert res.rejected == [] and len(res.papers) == 80
    for field in ("title", "abstract", "authors", "year", "url", "code_url"):
        assert [getattr(p, field) for p in res.papers] == [getattr(p, field) for p in bundled], field
    if ext == "bib":  # in BibTeX the citation key is the id
        assert [p.id for p in res.papers] == refs.citation_keys(bundled)
        assert refs.to_bibtex(res.papers) == f.read_text()  # read back, written again: the same file
    else:
        assert [p.id for p in res.papers] == [p.id for p in bundled]


names = st.sampled_from(["Ada Lovelace", "Anna van der Berg", "Jörg Müller", "Google, Inc.", "Plato", "John Smith Jr."])
text = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S"], exclude_characters="\u00ad")
    | st.sampled_from(list("\\{}%$&#_^~'`-\" !?")),
    min_size=1,
    max_size=120,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=text,
    abstract=text,
    authors=st.lists(names, max_size=3, unique=True),
    venue=text,
    year=st.none() | st.integers(1900, 2030),
    tags=st.lists(st.from_regex(r"[a-z][a-z ]{0,10}[a-z]", fullmatch=True), max_size=3, unique=True),
)
def test_any_paper_round_trips_through_the_three_writers(title, abstract, authors, venue, year, tags):
    rec = {
        "id": "p1",
        "title": title,
        "abstract": abstract,
        "authors": authors,
        "venue": venue,
        "year": year,
        "tags": tags,
        "doi": "10.5555/x.1",
        "arxiv_id": "2401.00001",
        "code_url": "https://github.com/a/b",
    }
    try:
        paper = normalize_record(rec)
    except ValueError:
        return  # e.g. a title that is only spaces: not a paper in the first place
    for ext, write in WRITERS.items():
        back = parse_papers(write([paper]).encode(), f"out.{ext}").papers
        assert len(back) == 1, ext
        b = back[0]
        for field in ("title", "abstract", "authors", "year", "venue", "doi", "arxiv_id", "tags", "code_url", "url"):
            assert getattr(b, field) == getattr(paper, field), (ext, field)


def test_the_users_own_entries_go_out_as_written_with_their_keys():
    papers = load_papers(DATA / "library.bib").papers
    out = refs.to_bibtex(papers)
    for p in papers:
        assert p.bibtex in out and f"{{{p.key}," in out
    plain = next(p for p in papers if p.key == "chen2023graphs")
    assert plain.bibtex in (DATA / "library.bib").read_text()


def test_keys_are_unique_in_one_export(tmp_path):
    a = load_papers(DATA / "three_entries.bib").papers[0]
    other = tmp_path / "other.bib"  # another library with the same key for another paper
    other.write_text("@article{vaswani2017attention,\n  title = {Another Paper Entirely},\n  year = {2017}\n}\n")
    b = load_papers(other).papers[0]
    generated = Paper("t-1", "Attention Is All You Need Again", "x", ("Ashish Vaswani",), 2017)
    keys = refs.citation_keys([a, b, generated])
    assert keys[0] == "vaswani2017attention" and len(set(keys)) == 3
    out = tmp_path / "out.bib"
    out.write_text(refs.to_bibtex([a, b, generated]))
    back = load_papers(out).papers
    assert [p.id for p in back] == keys and back[1].title == "Another Paper Entirely"


def test_generated_entries_carry_the_known_metadata():
    p1 = Paper(
        "p1",
        "Sparse {Adapters} & 100% _fun_",
        "abs",
        ("Ada Lovelace", "Alan Turing"),
        2024,
        "https://example.org/p1",
        "https://github.com/example/adapters",
    )
    p2 = Paper("t-1", "Sparse Adapters Again", "abs")  # title only: still a valid entry
    p3 = Paper("p3", "Sparse {Adapters} & 100% _fun_", "abs", ("Ada Lovelace",), 2024)  # same author, year, word
    entries = refs.to_bibtex([p1, p2, p3], abstracts=False).strip().split("\n\n")
    assert entries[0].startswith("@misc{lovelace2024sparse,")
    assert r"title = {{Sparse \{Adapters\} \& 100\% \_fun\_}}" in entries[0]
    assert "author = {Ada Lovelace and Alan Turing}" in entries[0] and "year = {2024}" in entries[0]
    assert r"note = {Code: \url{https://github.com/example/adapters}}" in entries[0] and "abstract" not in entries[0]
    assert entries[1].startswith("@misc{papersparse,") and "author" not in entries[1]
    assert entries[2].startswith("@misc{lovelace2024sparsea,")
    venue = refs.bibtex_entry(Paper("v", "T", "A", venue="NeurIPS", doi="10.1/x", arxiv_id="2401.00001"), "k")
    assert venue.startswith("@article{k,") and "journal = {NeurIPS}" in venue and "eprint = {2401.00001}" in venue
    assert refs.to_bibtex([]) == "" and refs.to_ris([]) == "" and json.loads(refs.to_csl_json([])) == []


def test_cite_markers_become_cite_commands_with_the_exported_keys():
    papers = load_papers(DATA / "three_entries.bib").papers
    generated = Paper("t-1", "Sparse Adapters", "x", ("Ada Lovelace",), 2024)
    cited = {1: papers[0], 2: generated, 3: papers[2]}
    answer = "Transformers use attention [1][3]. Adapters are sparse [2]. Both [1, 2]. Range [1-3]. Unknown [7]."
    out = refs.cite_markers(answer, cited)
    assert out == (
        r"Transformers use attention~\cite{vaswani2017attention,radford2021learning}. "
        r"Adapters are sparse~\cite{lovelace2024sparse}. Both~\cite{vaswani2017attention,lovelace2024sparse}. "
        r"Range~\cite{vaswani2017attention,lovelace2024sparse,radford2021learning}. Unknown [7]."
    )
    assert refs.cite_markers("A claim [2].", [papers[0], generated], style="pandoc") == "A claim [@lovelace2024sparse]."
    bib = refs.to_bibtex([cited[n] for n in (1, 2, 3)])  # the .bib to go with the snippet has those keys
    assert [p.id for p in parse_papers(bib.encode(), "cited.bib").papers] == [
        "vaswani2017attention",
        "lovelace2024sparse",
        "radford2021learning",
    ]


def test_csl_and_ris_name_forms():
    p = Paper("p", "T", "A", ("Anna van der Berg", "Google, Inc.", "Plato"), 2020, venue="V")
    item = json.loads(refs.to_csl_json([p]))[0]
    assert item["author"] == [
        {"family": "van der Berg", "given": "Anna"},
        {"literal": "Google, Inc."},
        {"literal": "Plato"},
    ]
    assert item["issued"] == {"date-parts": [[2020]]} and item["type"] == "article-journal"
    ris = refs.to_ris([p])
    assert "AU  - van der Berg, Anna" in ris and "T2  - V" in ris and "ID  - p" in ris
    assert parse_papers(ris.encode(), "x.ris").papers[0].authors == p.authors
