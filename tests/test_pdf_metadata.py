"""A PDF alone gets the year, venue, DOI and arXiv id its first pages state; filters and
BibTeX export then work for it.  Real PDFs, read by the ingest's own path."""

from __future__ import annotations

import pytest
from library_samples import paper_pdf

from assistant import PaperAssistant, Settings, references
from assistant.formats.pdf_metadata import pdf_record


@pytest.fixture
def lib(model_cache, tmp_path) -> PaperAssistant:
    pa = PaperAssistant(Settings.load(env={}, index_dir=str(tmp_path / "index"), model_cache=str(model_cache)))
    yield pa
    pa.store.close()


def test_the_record_comes_from_statements_not_from_any_number():
    front = (
        "Journal of Statistical Software\nOctober 2015, Volume 67, Issue 1. doi: 10.18637/jss.v067.i01\n"
        "Fitting Linear Mixed-Effects Models\nDouglas Bates\nAbstract\nWe cite Hamming (1950) and 1984 results."
    )
    r = pdf_record(front, {})
    assert (r.year, r.venue, r.doi) == (2015, "Journal of Statistical Software", "10.18637/jss.v067.i01")
    stamp = "arXiv:2401.01234v2 [cs.CL] 3 Jan 2024\fA Title\nSome text citing Smith (2019)."
    assert (pdf_record(stamp, {}).arxiv_id, pdf_record(stamp, {}).year) == ("2401.01234v2", 2024)
    vignette = "A Package\nRobin Hankin\nAbstract\nThis vignette is based on Hankin (2005), published in R News."
    assert pdf_record(vignette, {}).year == 2005
    # a year that only a citation or a reference gives is not the paper's: no year rather than a wrong one
    assert pdf_record("A Title\nAbstract\nAs shown by Nelder and Wedderburn (1972), models fit.", {}).year is None


def test_a_pdf_alone_is_filtered_by_year_and_exported_with_its_doi(lib, tmp_path):
    pdf = paper_pdf(
        tmp_path / "kelp.pdf",
        "Kelp Forest Recovery after Marine Heatwaves",
        "kelp forest recovery",
        lines=[("author", "Journal of Marine Tests, Volume 12, 2019. doi: 10.5555/kelp.2019.7")],
    )
    old = paper_pdf(tmp_path / "owls.pdf", "Barn Owl Hunting at Dusk", "barn owl hunting")
    lib.add_papers(pdf)
    lib.add_papers(old)
    kelp = lib.paper("pdf:kelp")
    assert (kelp.year, kelp.venue, kelp.doi) == (2019, "Journal of Marine Tests", "10.5555/kelp.2019.7")
    assert lib.paper("pdf:owls").year is None  # nothing printed: no year guessed
    assert lib.select_ids(year_from=2000) == ["pdf:kelp"]
    assert [h.paper.id for h in lib.search("kelp forest recovery", paper_ids=lib.select_ids(year_from=2018))] == [
        "pdf:kelp"
    ]
    bib = references.to_bibtex([kelp])
    assert "year = {2019}" in bib and "doi = {10.5555/kelp.2019.7}" in bib and "Journal of Marine Tests" in bib
