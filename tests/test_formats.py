"""Reading a researcher's own library: BibTeX, RIS, CSL JSON, Zotero (database and CSV export),
the arXiv / OpenAlex / Semantic Scholar dumps, and refusing what is none of them.

Fixture files (tests/data/formats/) are written to each format's specification with the
hard cases in them; the Zotero database is built by fixtures/zotero.py."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from assistant.ingest.records import CollectionError, iter_papers, load_papers, parse_papers
from assistant.types import Paper, Rejection
from fixtures.zotero import build_zotero_db

DATA = Path(__file__).parent / "data" / "formats"


def by_id(result) -> dict[str, Paper]:
    return {p.id: p for p in result.papers}


def reasons(result) -> dict[str, str]:
    return {r.record: r.reason for r in result.rejected}


# --- BibTeX ------------------------------------------------------------------------------------


def test_a_three_entry_bib_export_gives_three_papers():
    res = load_papers(DATA / "three_entries.bib")  # on main: read as page text, 11 garbage papers
    assert res.format == "bibtex" and res.rejected == []
    assert [p.id for p in res.papers] == ["vaswani2017attention", "devlin2019bert", "radford2021learning"]
    vaswani, bert, clip = res.papers
    assert vaswani.authors[:2] == ("Ashish Vaswani", "Noam Shazeer") and vaswani.authors[6] == "Łukasz Kaiser"
    assert len(clip.authors) == 10  # "and others" is not an author
    assert bert.title.startswith("BERT: Pre-training") and bert.year == 2019
    assert clip.arxiv_id == "2103.00020" and clip.url == "https://arxiv.org/abs/2103.00020"
    assert res.no_abstract == [p.id for p in res.papers]  # kept, and said so
    assert all(p.key == p.id and p.bibtex.startswith("@") for p in res.papers)


def test_bibtex_hard_cases():
    res = load_papers(DATA / "library.bib")
    papers = by_id(res)
    assert set(papers) == {"mueller2021adapters", "chen2023graphs", "nobody2024titleonly", "lee2022child", "tba2025"}
    m = papers["mueller2021adapters"]
    assert m.title == "Sparse Mixture of Adapters for α-Robust Speech Recognition"  # braces, math, \emph
    assert m.authors == ("Jörg Müller", "María García", "Anna van der Berg")  # accents, "Last, First", {von}
    assert m.venue == "Advances in Neural Information Processing Systems"  # @string macro
    assert m.year == 2021 and m.doi == "10.5555/mueller.2021.7" and m.url == "https://doi.org/10.5555/mueller.2021.7"
    assert "12% on L2-ARCTIC" in m.abstract and "by ~20% on accented" in m.abstract and "O(n log n)" in m.abstract
    assert "cite" not in m.abstract and "houlsby" not in m.abstract and "\\" not in m.abstract
    assert m.code_url == "https://github.com/example/sparse-adapters"
    assert m.tags == ("speech", "adapters", "mixture of experts") and m.collections == ("To read", "Speech")
    assert m.pdf_path == str(DATA.resolve() / "pdfs" / "mueller2021.pdf")  # JabRef "desc:path:type", relative
    c = papers["chen2023graphs"]
    assert c.authors == ("Wei Chen", "John Smith Jr.", "Google Research")
    assert c.venue == "Journal of Chemical Information" and c.year == 2023  # BibLaTeX journaltitle, date
    assert c.arxiv_id == "2305.01234" and c.url == "https://arxiv.org/abs/2305.01234"
    child = papers["lee2022child"]  # crossref: venue and year from the @proceedings, which is not a paper
    assert child.venue == "Proceedings of the Annual Meeting of the ACL Workshop on Inheritance" and child.year == 2022
    assert "crossref parent" in reasons(res)["entry 'ws2022' (line 52)"]
    assert papers["tba2025"].year is None and papers["tba2025"].code_url == "https://gitlab.com/okafor/forthcoming"
    notes = {w.paper_id: w.message for w in res.warnings if w.kind == "field"}
    assert "'forthcoming' is not a year" in notes["tba2025"]
    assert res.no_abstract == ["nobody2024titleonly"]
    # comments: neither the %-commented entry nor the one inside @comment{} is read
    assert all(p.title not in ("Not a paper", "no") for p in res.papers)
    r = reasons(res)
    assert "unbalanced" in r["line 58"] and "Was still looking for field-value closing" in r["line 58"]
    assert "duplicate citation key 'mueller2021adapters'" in r["line 63"]
    assert len(res.rejected) == 3


def test_bibtex_entries_are_kept_for_export_and_stand_alone(tmp_path):
    papers = by_id(load_papers(DATA / "library.bib"))
    plain = papers["chen2023graphs"].bibtex
    assert plain.startswith("@article{chen2023graphs,") and "journaltitle = {Journal of Chemical Information}" in plain
    assert plain in (DATA / "library.bib").read_text()  # the user's own text, as written
    macro = papers["mueller2021adapters"].bibtex  # used @string macros: expanded, so it needs no @string
    assert "booktitle = {Advances in Neural Information Processing Systems}" in macro and "month = dec" in macro
    child = papers["lee2022child"].bibtex  # crossref resolved: it needs no parent
    assert "crossref" not in child and "booktitle = {Proceedings of the Annual Meeting of the ACL" in child
    for p in (papers["mueller2021adapters"], papers["lee2022child"]):
        alone = tmp_path / f"{p.key}.bib"
        alone.write_text(p.bibtex)
        again = load_papers(alone).papers[0]
        assert (again.title, again.venue, again.year, again.authors) == (p.title, p.venue, p.year, p.authors)


def test_reimporting_an_edited_library_changes_only_the_edited_paper(tmp_path):
    library = tmp_path / "library.bib"
    shutil.copy(DATA / "library.bib", library)
    first = by_id(load_papers(library))
    again = by_id(load_papers(library))
    assert {k: p.content_hash() for k, p in first.items()} == {k: p.content_hash() for k, p in again.items()}
    library.write_text(library.read_text().replace("matter most for molecular", "matter most of all for molecular"))
    after = by_id(load_papers(library))
    assert set(after) == set(first)
    changed = {k for k in first if first[k].content_hash() != after[k].content_hash()}
    assert changed == {"chen2023graphs"}


# --- RIS ---------------------------------------------------------------------------------------


def test_ris_export():
    res = load_papers(DATA / "library.ris")  # CRLF line ends, as EndNote writes them
    assert res.format == "ris"
    assert all(not p.title.startswith("TY") for p in res.papers)  # on main: papers titled "TY  - JOUR"
    chen, mueller, preprint = res.papers
    assert chen.title == "Graph Transformers for Molecular Property Prediction"
    assert chen.authors == ("Wei Chen", "John Smith") and chen.venue == "Journal of Chemical Information"
    assert chen.year == 2023 and chen.doi == "10.5555/chen.2023.14" and chen.id == "10.5555/chen.2023.14"
    assert chen.url == "https://example.org/chen2023" and chen.tags == ("graphs", "chemistry")
    assert chen.code_url == "https://github.com/example/gt-mol"
    assert chen.pdf_path == str(DATA.resolve() / "files" / "12" / "chen2023.pdf")
    assert mueller.id == "mueller2021" and mueller.authors == ("Jörg Müller", "Anna van der Berg")
    assert mueller.venue == "Advances in Neural Information Processing Systems" and mueller.year == 2021
    assert mueller.abstract.startswith("We adapt a frozen speech encoder")  # N2
    assert preprint.arxiv_id == "2401.00001" and preprint.id == "2401.00001" and res.no_abstract == ["2401.00001"]
    assert reasons(res) == {"record at line 37": "record has no 'ER  -' line (the file may be cut short)"}


# --- CSL JSON ----------------------------------------------------------------------------------


def test_csl_json_from_zotero_and_better_bibtex():
    res = load_papers(DATA / "library.csl.json")
    assert res.format == "csljson"
    article, preprint = res.papers
    assert article.id == "zotero:ABCD2345"  # Zotero's item URI: the id the database reader gives it too
    assert article.title == "Graph Transformers for Molecular Property Prediction"  # <i> markup dropped
    assert article.authors == ("Wei Chen", "Anna van der Berg", "Google Research")
    assert article.year == 2023 and article.venue == "Journal of Chemical Information"
    assert article.tags == ("graphs", "chemistry") and article.doi == "10.5555/chen.2023.14"
    assert preprint.id == preprint.key == "nobody2024preprint" and preprint.year == 2024
    assert preprint.arxiv_id == "2401.00001"
    assert reasons(res) == {"record 3": "missing title"}


# --- Zotero ------------------------------------------------------------------------------------


def test_zotero_database(tmp_path):
    db = build_zotero_db(tmp_path / "Zotero")
    before = db.read_bytes()
    res = load_papers(db)
    assert res.format == "zotero"
    papers = by_id(res)
    assert set(papers) == {
        "zotero:ABCD2345",
        "zotero:MNOP4567",
        "zotero:IJKL0123",
        "zotero:RELA0001",
        "zotero:2:GRUP0001",
    }  # not: trash, notes, attachments, the RSS feed
    a = papers["zotero:ABCD2345"]
    assert a.title == "Graph Transformers for Molecular Property Prediction"
    assert a.authors == ("Wei Chen", "Anna van der Berg")  # the editor is not an author
    assert (a.year, a.venue, a.doi, a.url) == (
        2023,
        "Journal of Chemical Information",
        "10.5555/chen.2023.14",
        "https://example.org/chen2023",
    )
    assert a.tags == ("chemistry", "graphs") and a.collections == ("Thesis/Chapter 2", "To read")
    assert a.pdf_path == str(tmp_path / "Zotero" / "storage" / "EFGH6789" / "chen2023.pdf")
    m = papers["zotero:MNOP4567"]
    assert m.key == "mueller2021adapters" and m.authors == ("Jörg Müller", "Google Research")
    assert m.venue == "Advances in Neural Information Processing Systems" and m.year == 2021
    assert m.pdf_path == "/data/papers/mueller2021.pdf"  # a linked file; the linked web page is not a PDF
    p = papers["zotero:IJKL0123"]
    assert (p.arxiv_id, p.key, p.venue) == ("2401.00001", "nobody2024preprint", "arXiv")
    assert res.no_abstract == ["zotero:IJKL0123"]
    assert papers["zotero:RELA0001"].pdf_path == ""  # relative to a base folder only Zotero's preferences know
    assert reasons(res) == {"item NOTI0001": "missing title"}
    assert db.read_bytes() == before  # read-only


def test_zotero_database_is_read_while_zotero_holds_its_lock(tmp_path):
    db = build_zotero_db(tmp_path / "Zotero")
    zotero = sqlite3.connect(db)  # Zotero keeps an exclusive lock on the database while it runs
    zotero.execute("PRAGMA locking_mode=EXCLUSIVE")
    zotero.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite3.connect(db, timeout=0).execute("SELECT count(*) FROM items").fetchone()
        assert len(load_papers(db).papers) == 5  # read from a copy
    finally:
        zotero.rollback()
        zotero.close()


def test_zotero_csv_export_gives_the_ids_the_database_gives(tmp_path):
    res = load_papers(DATA / "zotero-export.csv")
    chen, preprint = res.papers
    assert chen.id == "zotero:ABCD2345" and chen.authors == ("Wei Chen", "John Smith")
    assert (chen.year, chen.venue, chen.tags) == (2023, "Journal of Chemical Information", ("graphs", "chemistry"))
    assert chen.pdf_path == "/home/ada/Zotero/storage/EFGH6789/chen2023.pdf"
    assert preprint.year is None and any("'soon' is not a year" in w.message for w in res.warnings)
    db_ids = {p.id for p in load_papers(build_zotero_db(tmp_path / "Zotero")).papers}
    assert {chen.id, preprint.id} <= db_ids


# --- bulk dumps --------------------------------------------------------------------------------


def test_arxiv_snapshot_a_json_file_of_json_lines():
    res = load_papers(DATA / "arxiv-metadata-oai-snapshot.json")  # on main: "invalid JSON"
    assert res.format == "arxiv"
    papers = by_id(res)
    old = papers["0704.0001"]
    assert old.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert old.authors[0] == "C. Balázs" and old.year == 2007  # first version's year, not the update's
    assert old.url == "https://arxiv.org/abs/0704.0001" and old.doi == "10.1103/PhysRevD.76.013009"
    assert old.tags == ("hep-ph",) and old.venue == "Phys.Rev.D76:013009,2007"
    new = papers["2401.01234"]
    assert new.title == "Sparse Adapters with α-Entmax Routing" and new.tags == ("cs.CL", "cs.LG")
    assert new.code_url == "https://github.com/example/entmax-adapters"
    assert papers["hep-th/9901001"].year == 1999
    assert "malformed JSON" in reasons(res)["line 4"] and res.no_abstract == ["2403.00002"]


def test_openalex_works_plain_and_gzipped(tmp_path):
    gz = tmp_path / "part_000.gz"
    gz.write_bytes(gzip.compress((DATA / "openalex-works.jsonl").read_bytes()))
    for source in (DATA / "openalex-works.jsonl", gz):
        res = load_papers(source)
        assert res.format == "openalex"
        work = res.papers[0]
        assert work.id == "openalex:W2741809807"
        assert work.abstract.startswith(
            "Despite growing interest in Open Access (OA) to scholarly literature, there is"
        )
        assert work.abstract.endswith("each of 100,000 articles.")
        assert work.authors == ("Heather Piwowar", "Stefanie Haustein") and work.year == 2018
        assert (work.venue, work.doi, work.arxiv_id) == ("PeerJ", "10.7717/peerj.4375", "1705.04285")
        assert res.papers[1].title == "A Work Without an Abstract" and res.no_abstract == ["openalex:W1000000001"]
        assert "not {word: [positions]}" in reasons(res)["line 3"]


def test_semantic_scholar_api_and_dataset_records():
    res = load_papers(DATA / "s2-papers.jsonl")
    assert res.format == "s2"
    turing, dataset = res.papers
    assert turing.id == "CorpusId:215416146" and turing.authors == ("A. Turing",) and turing.year == 1950
    assert (turing.venue, turing.doi) == ("Mind", "10.5555/turing.1950")
    assert turing.tags == ("Computer Science", "Philosophy")
    assert dataset.id == "CorpusId:250000001" and dataset.arxiv_id == "2207.00001"
    assert dataset.venue == "Journal of Datasets" and dataset.year == 2022
    assert "abstracts' record has no title" in reasons(res)["line 3"]


def test_dumps_stream_and_are_bounded_by_record_count_not_size(tmp_path):
    f = tmp_path / "arxiv.json"
    line = (DATA / "arxiv-metadata-oai-snapshot.json").read_text().splitlines()[1]
    f.write_text("\n".join(line.replace("2401.01234", f"2401.{i:05d}") for i in range(30)) + "\n")
    stream = iter_papers(f, max_file_mb=0.001, max_records=30)  # 0.001 MB: streamed formats ignore it
    assert stream.format == "arxiv"
    first = next(iter(stream))
    assert isinstance(first, Paper) and first.id == "2401.00000"
    assert sum(isinstance(x, Paper) for x in stream) == 29
    with pytest.raises(CollectionError, match="over the limit of 10 records"):
        iter_papers(f, max_records=10)  # refused before any record is given out


# --- detection, and refusing what is not a papers file ----------------------------------------


@pytest.mark.parametrize(
    "source,name,fmt",
    [
        ("library.ris", "export.txt", "ris"),  # RIS saved as .txt
        ("library.bib", "references", "bibtex"),  # no extension
        ("library.csl.json", "items.json", "csljson"),
        ("arxiv-metadata-oai-snapshot.json", "snapshot.json", "arxiv"),
        ("zotero-export.csv", "My Library.csv", "csv"),
    ],
)
def test_format_is_recognised_by_content(source, name, fmt):
    assert parse_papers((DATA / source).read_bytes(), name).format == fmt


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("notes.txt", b"Meeting notes\n- buy milk\n- read the BERT paper\nCall Bob on Monday.\n", "not a papers file"),
        ("refs.bib", b"This file has no entries at all.\nJust words.\n", "no BibTeX entries"),
        ("broken.ris", b"Provider: nobody\nTI  - a title without a TY line\n", "no RIS records"),
        ("items.json", b'[{"title": "x", "issued": ', "invalid JSON"),
        ("snapshot.json", b'{"id": "1", "authors_parsed": [\n{"id": "2", "title": \n', "invalid JSON"),
        ("only-bad.jsonl", b"{not json\n{nor this\n", "no line is valid JSON"),
        ("part.gz", b"\x1f\x8b\x08\x00garbage", "gzip"),
    ],
)
def test_unknown_or_malformed_files_get_a_clear_message(tmp_path, name, content, message):
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(CollectionError, match=message) as e:
        load_papers(f)
    assert name in str(e.value)
    if message == "not a papers file":  # the message says what would have been understood
        assert "BibTeX" in str(e.value) and "RIS" in str(e.value) and "zotero.sqlite" in str(e.value)


def test_an_sqlite_file_that_is_not_zotero(tmp_path):
    f = tmp_path / "other.sqlite"
    sqlite3.connect(f).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(CollectionError, match="not Zotero's"):
        load_papers(f)


def test_a_bib_whose_entries_are_all_broken_rejects_each_with_its_line(tmp_path):
    f = tmp_path / "bad.bib"
    f.write_text("@article{a,\n title = {Open {brace,\n}\n\n@article{b title = {No comma after key}}\n")
    res = load_papers(f)
    assert res.papers == [] and [r.record for r in res.rejected] == ["line 1", "line 5"]
    assert all("unreadable BibTeX entry" in r.reason for r in res.rejected)


def test_page_text_still_needs_its_shape(tmp_path):
    page = tmp_path / "page.txt"
    page.write_text(
        "Title One\n\n" + "An abstract that is clearly longer than its title line. " * 3 + "\n\n"
        "Title Two\n\n" + "Another abstract, also longer than the title above it. " * 3 + "\n"
    )
    assert [p.title for p in load_papers(page).papers] == ["Title One", "Title Two"]
    copy = tmp_path / "copy.bib.txt"
    shutil.copy(DATA / "three_entries.bib", copy)
    assert load_papers(copy).format == "bibtex"  # content, not the .txt name, decides


def test_iteration_yields_papers_rejections_and_warnings_in_file_order():
    items = list(iter_papers(DATA / "arxiv-metadata-oai-snapshot.json"))
    kinds = [type(x).__name__ for x in items]
    assert kinds == ["Paper", "Paper", "Paper", "Rejection", "Paper", "LoadWarning"]
    assert isinstance(items[3], Rejection) and items[3].record == "line 4"
    assert items[5].paper_id == items[4].id == "2403.00002"
    assert json.loads(json.dumps(items[0].to_dict()))["arxiv_id"] == "0704.0001"


def test_ingesting_a_bib_library_keeps_its_metadata_in_the_index(empty_pa, tmp_path):
    library = tmp_path / "library.bib"
    shutil.copy(DATA / "library.bib", library)
    report = empty_pa.add_papers(library)
    # an abstract-less entry is kept, indexed from its title and metadata, and reported as such
    assert sorted(report.added) == [
        "chen2023graphs",
        "lee2022child",
        "mueller2021adapters",
        "nobody2024titleonly",
        "tba2025",
    ]
    assert report.no_abstract == ["nobody2024titleonly"] and "without an abstract" in report.summary()
    only_title = empty_pa.paper("nobody2024titleonly")
    assert empty_pa.search(only_title.title, k=1)[0].paper.id == "nobody2024titleonly"
    ans = empty_pa.ask(only_title.title)
    assert "no abstract of this paper" in ans.text and ans.citations[0].quote == ""  # nothing quoted as if read
    m = empty_pa.paper("mueller2021adapters")
    assert (m.venue, m.doi, m.key) == (
        "Advances in Neural Information Processing Systems",
        "10.5555/mueller.2021.7",
        "mueller2021adapters",
    )
    assert m.tags == ("speech", "adapters", "mixture of experts") and m.bibtex.startswith("@inproceedings{")
    assert empty_pa.search("sparse mixture of adapters for accented speech", k=1)[0].paper.id == "mueller2021adapters"
    again = empty_pa.add_papers(library)  # an unchanged library costs nothing
    assert sorted(again.unchanged) == sorted(report.added) and again.passages_embedded == 0
