"""Collections: the papers-page parser, JSONL/JSON/CSV loaders, and bad input."""

import json

import pytest

from assistant.ingest.records import CollectionError, find_code_url, load_papers, parse_papers, title_id
from assistant.settings import BUNDLED_COLLECTION


def test_bundled_collection_parses_to_80_papers():
    res = load_papers(BUNDLED_COLLECTION)
    assert len(res.papers) == 80
    assert res.rejected == []
    first, last = res.papers[0], res.papers[-1]
    assert first.title == "Zero-Shot Dense Video Captioning by Jointly Optimizing Text and Moment"
    assert first.abstract.startswith("Dense video captioning, a task of localizing")
    assert last.title.startswith("ADEM-VL")
    for p in res.papers:
        assert len(p.title) < 300 and len(p.abstract) > 300, p.title
        assert p.title not in ("new", "Subscribe", "Mar 13")  # the page header is skipped
    assert len({p.id for p in res.papers}) == 80


def test_code_urls_are_found_and_trailing_punctuation_dropped():
    papers = {p.title: p for p in load_papers(BUNDLED_COLLECTION).papers}
    with_code = [p for p in papers.values() if p.code_url]
    assert len(with_code) >= 20
    for p in with_code:
        assert p.code_url.startswith("http") and not p.code_url.endswith((".", ","))
        assert p.code_url in p.abstract
    assert find_code_url("Code is at https://github.com/a/b. See also http://x.org") == "https://github.com/a/b"


def test_ids_are_stable_and_given_ids_win(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text(
        json.dumps({"title": "A  Title", "abstract": "x y z."})
        + "\n"
        + json.dumps({"id": 42, "title": "B", "abstract": "b."})
        + "\n"
    )
    a, b = load_papers(f).papers
    assert a.id == title_id("a title") == title_id("A Title")
    assert b.id == "42"


def test_jsonl_json_csv_give_the_same_papers(tmp_path, small_papers):
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in small_papers))
    (tmp_path / "p.json").write_text(json.dumps({"papers": small_papers}))
    rows = ["id,title,abstract,authors,year,url"] + [
        ",".join(
            json.dumps(str(v)) if v else ""
            for v in (
                r.get("id"),
                r["title"],
                r["abstract"],
                "; ".join(r.get("authors", [])),
                r.get("year"),
                r.get("url"),
            )
        )
        for r in small_papers
    ]
    (tmp_path / "p.csv").write_text("\n".join(rows))
    results = [load_papers(tmp_path / n).papers for n in ("p.jsonl", "p.json", "p.csv")]
    for papers in results:
        assert [p.title for p in papers] == [r["title"] for r in small_papers]
        assert papers[0].authors == ("Ada Lovelace", "Alan Turing")
        assert papers[0].year == 2024 and papers[1].year == 2023
        assert papers[1].code_url == "https://github.com/example/gt-mol"
        assert papers[2].id == title_id("Tiny Recipes for Bread Baking")
    assert results[0] == results[1] == results[2]


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty"),
        (b"   \n\n", "no text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"title,abstract\n\xff\xfe bad bytes", "not UTF-8"),
    ],
)
def test_file_level_problems_raise_clear_errors(tmp_path, content, message):
    f = tmp_path / "papers.csv"
    f.write_bytes(content)
    with pytest.raises(CollectionError, match=message):
        load_papers(f)


def test_record_level_problems_reject_only_that_record(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "title": "Good", "abstract": "Fine abstract."}),
                '{"id": "b", "title": "Broken", "abstract": ',
                json.dumps({"id": "c", "title": "No abstract"}),
                json.dumps({"id": "a", "title": "Duplicate", "abstract": "Same id."}),
                json.dumps(["not", "an", "object"]),
                json.dumps({"id": "d", "title": "Bad url", "abstract": "Text.", "url": "javascript:alert(1)"}),
            ]
        )
    )
    res = load_papers(f)
    assert [p.id for p in res.papers] == ["a", "c", "d"]  # no abstract: kept, indexed from its metadata
    assert res.no_abstract == ["c"] and res.warnings[0].record == "line 3"
    reasons = {r.record: r.reason for r in res.rejected}
    assert "malformed JSON" in reasons["line 2"]
    assert "duplicate id 'a'" in reasons["line 4"] and "line 1" in reasons["line 4"]
    assert "expected an object" in reasons["line 5"]
    assert res.papers[2].url == ""  # only http(s) links are kept
    strict = load_papers(f, require_abstract=True)  # what ingest asks for until metadata passages exist
    assert [p.id for p in strict.papers] == ["a", "d"]
    assert {r.record: r.reason for r in strict.rejected}["line 3"] == "missing abstract"


def test_invalid_json_document_and_csv_without_columns(tmp_path):
    (tmp_path / "a.json").write_text('[{"title": "x", "abstract": "y"},')
    with pytest.raises(CollectionError, match="invalid JSON"):
        load_papers(tmp_path / "a.json")
    (tmp_path / "b.csv").write_text("name,summary_text\nx,y\n")
    with pytest.raises(CollectionError, match="title and abstract"):
        load_papers(tmp_path / "b.csv")


def test_page_format_with_a_missing_abstract_rejects_the_orphan_title():
    text = "header\nMar 13\n\nTitle One\n\nAbstract one is here.\n\nTitle Two\n"
    res = parse_papers(text.encode(), "page.txt")
    assert [p.title for p in res.papers] == ["Title One"]
    assert "no abstract" in res.rejected[0].reason


def test_control_characters_and_whitespace_are_cleaned():
    res = parse_papers(json.dumps({"title": "A\x00 B\x07\tC", "abstract": "x\n\ny"}).encode(), "p.jsonl")
    assert res.papers[0].title == "A B C" and res.papers[0].abstract == "x y"


def test_size_and_record_limits(tmp_path):
    f = tmp_path / "big.jsonl"
    f.write_text("\n".join(json.dumps({"title": f"T{i}", "abstract": "a."}) for i in range(20)))
    with pytest.raises(CollectionError, match="over the limit of 10"):
        load_papers(f, max_records=10)
    # JSON lines are streamed: bounded by max_records, not by size (a 2 GB arXiv snapshot is readable)
    assert len(load_papers(f, max_mb=0.0001).papers) == 20
    doc = tmp_path / "big.json"  # read whole into memory: bounded by size
    doc.write_text(json.dumps([{"title": f"T{i}", "abstract": "a."} for i in range(20)]))
    with pytest.raises(CollectionError, match="MB limit"):
        load_papers(doc, max_mb=0.0001)
    res = parse_papers(json.dumps({"title": "T", "abstract": "a" * 50}).encode(), "x.jsonl", max_abstract_chars=10)
    assert "limit 10" in res.rejected[0].reason
