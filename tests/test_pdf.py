"""assistant.formats.pdf on real PDFs.

* tests/data/pdfs/latex/: four two-column papers typeset with pdflatex, each with the source
  sentences of every page (NAME.json, written by build.py from the .tex source);
* tests/data/pdfs/cache/: published papers from Debian's R packages, fetched once per session
  by fixtures/debian_pdfs.py (a failed download fails these tests; it never skips them);
* bad files made at test time by tests/pdf_samples.py.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pdf_samples
import pytest

from assistant.formats.pdf import PdfDocument, PdfError, read_pdf

DATA = Path(__file__).parent / "data" / "pdfs"
LATEX = sorted(p.stem for p in (DATA / "latex").glob("*.json"))
MANIFEST = json.loads((DATA / "manifest.json").read_text())["pdfs"]
READABLE = [e["file"] for e in MANIFEST if not e.get("unreadable")]


def page_text(doc: PdfDocument, page: int) -> str:
    end = doc.page_starts[page] if page < len(doc.page_starts) else len(doc.text)
    return doc.text[doc.page_starts[page - 1] : end]


def has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


_docs: dict[Path, PdfDocument] = {}


def read(path: Path) -> PdfDocument:
    if path not in _docs:  # each file is read once per session; PdfDocument is immutable
        _docs[path] = read_pdf(path)
    return _docs[path]


@pytest.fixture(params=LATEX)
def paper(request) -> tuple[dict, PdfDocument]:
    truth = json.loads((DATA / "latex" / f"{request.param}.json").read_text())
    return truth, read(DATA / "latex" / truth["pdf"])


@pytest.fixture(scope="session")
def vignettes() -> dict[str, Path]:
    from fixtures.debian_pdfs import FetchError, fetch

    try:
        return fetch()
    except FetchError as e:
        pytest.fail(f"the published-paper PDFs could not be fetched: {e}", pytrace=False)


# --- two-column LaTeX papers against their source ----------------------------------------------


def test_every_source_sentence_is_verbatim_on_its_page_in_reading_order(paper):
    truth, doc = paper
    assert doc.pages == len(doc.page_starts) == truth["pages"]
    for number, sentences in truth["sentences_by_page"].items():
        text = page_text(doc, int(number))
        positions = [text.find(s) for s in sentences]
        missing = [s for s, p in zip(sentences, positions) if p < 0]
        assert not missing, f"{truth['pdf']} p{number}: not found verbatim: {missing}"
        assert positions == sorted(positions), f"{truth['pdf']} p{number}: sentences out of order"


def test_a_sentence_broken_by_a_page_break_continues_on_the_next_page(paper):
    truth, doc = paper
    joined = doc.text.replace("\n\n", " ")
    for sentence in truth["spanning_pages"]:
        assert sentence in joined


def test_line_end_hyphens_are_undone_but_compound_hyphens_kept(paper):
    truth, doc = paper
    for item in truth["hyphenated"] + truth["compounds"]:
        assert has_word(page_text(doc, item["page"]), item["word"]), item
    assert "\ufffe" not in doc.text and "\u00ad" not in doc.text


def test_ligatures_expanded_and_text_is_nfc(paper):
    _, doc = paper
    assert not re.search("[\ufb00-\ufb06]", doc.text)
    assert unicodedata.is_normalized("NFC", doc.text)


@pytest.mark.parametrize("name", [n for n in LATEX if n != "layout"])
def test_running_headers_and_page_numbers_are_dropped(name):
    truth = json.loads((DATA / "latex" / f"{name}.json").read_text())
    doc = read(DATA / "latex" / truth["pdf"])
    for running in truth["running"]:
        assert running not in doc.text
    for page in range(1, doc.pages + 1):
        for line in page_text(doc, page).split("\n"):
            assert not re.fullmatch(r"(Page )?\d+", line.strip()), (page, line)


def test_page_number_of_a_one_page_paper_is_dropped():
    doc = read(DATA / "latex" / "layout.pdf")
    assert not re.search(r"(^|\n)1(\n|$)", doc.text)


def test_reference_list_is_cut_and_what_follows_it_kept(paper):
    truth, doc = paper
    if not truth["references"]:
        assert doc.references_start is None
        return
    squashed = re.sub(r"\W", "", doc.text)
    for ref in truth["references"]:
        assert re.sub(r"\W", "", ref)[:40] not in squashed, ref
    assert doc.references_start is not None
    assert doc.page_of(doc.references_start) == truth["pages"]
    assert all(s.title != "References" for s in doc.sections)
    if truth["pdf"] == "tokenization.pdf":  # an appendix after the references
        appendix = next(s for s in doc.sections if s.title == "A Annotation guidelines")
        assert appendix.start >= doc.references_start and appendix.page == 3
        assert "Annotators marked a boundary wherever a reader would pause" in doc.text[appendix.start :]


def test_footnotes_are_kept_whole_on_their_page(paper):
    truth, doc = paper
    for note in truth["footnotes"]:
        assert note["text"] in page_text(doc, note["page"])


def test_table_rows_and_listings_in_floats_are_left_out_but_captions_and_display_code_kept(paper):
    truth, doc = paper
    for line in truth["code"]:  # a captioned listing is a figure
        assert line not in doc.text
    lines = doc.text.split("\n")
    for line in truth.get("display_code", []):  # code set between paragraphs stays, a line of its own
        assert line in lines
    for row in truth["table_rows"]:
        assert row not in " ".join(doc.text.split())
    for caption in re.findall(r"(?:Table|Listing) \d+: [^\n]*", doc.text):
        assert caption.endswith(".")  # a caption comes out whole, not cut by the float's body


def test_sections_have_their_titles_pages_and_offsets(paper):
    truth, doc = paper
    titles = [s.title for s in doc.sections]
    assert [t for t in titles if t in truth["headings"]] == truth["headings"]
    by_title = {s.title: s for s in doc.sections}
    for expected in truth["sections"]:
        assert by_title[expected["title"]].page == expected["page"], expected
    for s in doc.sections:
        assert doc.text[s.start : s.start + len(s.title)] == s.title
        assert doc.page_of(s.start) == s.page
    for sentence, heading in truth["section_of"].items():
        at = doc.text.find(sentence)
        if at >= 0 and heading:
            assert doc.section_of(at) == heading, sentence


def test_title_authors_and_abstract(paper):
    truth, doc = paper
    assert doc.title == truth["title"]
    assert doc.authors == tuple(truth["authors"])
    if truth["abstract"]:
        assert doc.abstract.startswith(truth["abstract"][0])
        assert doc.abstract.endswith(truth["abstract"][-1])
        assert doc.abstract in page_text(doc, 1)
    else:
        assert doc.abstract == ""


def test_offsets(paper):
    _, doc = paper
    assert doc.page_starts[0] == 0
    for page, start in enumerate(doc.page_starts[1:], 2):
        assert doc.text[start - 2 : start] == "\n\n"
        assert doc.page_of(start) == page and doc.page_of(start - 1) == page - 1
    assert doc.page_of(len(doc.text)) == doc.pages
    assert doc.section_of(0) is None
    with pytest.raises(IndexError):
        doc.page_of(len(doc.text) + 1)


def test_columns_written_row_by_row_are_read_column_by_column(tmp_path):
    path = pdf_samples.two_column_rows(tmp_path / "rows.pdf")
    doc = read_pdf(path)
    positions = [doc.text.find(s) for s in pdf_samples.FIELD_NOTES]
    assert -1 not in positions and positions == sorted(positions)
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        raw = pdf[0].get_textpage().get_text_range()
    finally:
        pdf.close()
    assert pdf_samples.column_break_sentence() not in " ".join(raw.split())  # the file's order breaks it


def test_reading_from_several_threads_gives_the_same_text():
    from concurrent.futures import ThreadPoolExecutor

    paths = [DATA / "latex" / f"{name}.pdf" for name in LATEX] * 3
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = list(pool.map(lambda p: read_pdf(p).text, paths))
    assert texts == [read(p).text for p in paths]


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("ﬁrst", "first"),
        ("eﬀect", "effect"),
        ("ﬂow", "flow"),  # Unicode ligatures (NFKC)
        ("modi\x1ced", "modified"),
        ("\x1ductuation", "fluctuation"),  # T1 codes of fonts without a Unicode map
        ("Universit\u00a8at", "Universität"),
        ("Ma\u0308chler", "Mächler"),  # spacing and combining accents -> NFC
        ("optimi\ufffe", "optimi-"),  # PDFium's line-end hyphen
    ],
)
def test_characters_are_normalised(raw, clean):
    from assistant.formats.pdf_layout import clean as clean_word

    assert clean_word(raw) == clean


@pytest.mark.parametrize(
    "left, right, joined",
    [
        ("optimi-", "zation", "optimization"),
        ("tran-", "sect", "transect"),
        ("re-", "training", "retraining"),
        ("mixed-", "effects", "mixed-effects"),
        ("long-", "run", "long-run"),
        ("de-", "identification", "de-identification"),
        ("state-of-the-", "art", "state-of-the-art"),
        ("Friedrich-", "Alexander", "Friedrich-Alexander"),
        ("trade-", "off.", "trade-off."),  # the paper spells it "trade-off" elsewhere
        ("work-", "flow", "workflow"),
    ],
)
def test_line_end_hyphen_decisions(left, right, joined):
    from assistant.formats.pdf_paragraphs import Hyphens

    hyphens = Hyphens(["Choosing the interval is a trade-off between speed and cost."])
    assert hyphens.join(left, right) == joined


# --- published papers (Debian R vignettes) -------------------------------------------------------


@pytest.mark.parametrize("name", READABLE)
def test_published_paper(vignettes, name):
    entry = next(e for e in MANIFEST if e["file"] == name)
    doc = read(vignettes[name])
    assert doc.pages == len(doc.page_starts) == entry["pages"]
    assert doc.title == entry["title"]
    assert doc.authors == tuple(entry["authors"])
    if entry["abstract_start"]:
        assert doc.abstract.startswith(entry["abstract_start"])
    else:
        assert doc.abstract == ""
    for known in entry["known"]:
        at = doc.text.find(known["sentence"])
        assert at >= 0, known["sentence"]
        assert doc.page_of(at) == known["page"]
    assert doc.references_start is not None
    assert [s.page for s in doc.sections] == sorted(s.page for s in doc.sections)


def test_lme4_paper_sections_and_running_heads(vignettes):
    doc = read(vignettes["lmer.pdf"])
    by_title = {s.title: s.page for s in doc.sections}
    assert by_title["1. Introduction"] == 1
    assert by_title["2. Formula module"] == 5
    assert by_title["3.6. Penalized least squares algorithm"] == 19
    assert by_title["A. Modularization examples"] == 44  # after the reference list
    assert "Linear Mixed Models with lme4" not in doc.text  # the even pages' running head
    assert "Douglas Bates, Martin Mächler, Ben Bolker, Steve Walker" not in doc.text  # the odd pages'
    assert "> fm1 <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy)" in doc.text.split("\n")  # code, as printed


def test_a_text_layer_without_unicode_is_refused(vignettes):
    with pytest.raises(PdfError, match=r"^PLSvGLS\.pdf: text layer is unreadable"):
        read_pdf(vignettes["PLSvGLS.pdf"])


# --- files that cannot be read, and big ones -----------------------------------------------------


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: (d / "empty.pdf").write_bytes(b"") and None or d / "empty.pdf", r"^empty\.pdf: empty file"),
        (lambda d: pdf_samples.html_named_pdf(d / "paper.pdf"), r"^paper\.pdf: not a PDF \(looks like HTML"),
        (
            lambda d: (d / "notes.pdf").write_text("just some notes\n") and d / "notes.pdf",
            r"^notes\.pdf: not a PDF \(no %PDF",
        ),
        (
            lambda d: pdf_samples.truncated(d / "cut.pdf", DATA / "latex" / "checkpoint.pdf"),
            r"^cut\.pdf: truncated or damaged",
        ),
        (
            lambda d: (
                (d / "junk.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n") and d / "junk.pdf"
            ),
            r"^junk\.pdf: truncated or damaged",
        ),
        (
            lambda d: pdf_samples.encrypted(d / "lmer.pdf", DATA / "latex" / "checkpoint.pdf"),
            r"^lmer\.pdf: password-protected",
        ),
        (lambda d: pdf_samples.image_only(d / "scan.pdf"), r"^scan\.pdf: no text layer \(scanned\?\)"),
        (lambda d: d / "missing.pdf", r"^missing\.pdf: cannot be read"),
    ],
    ids=["empty", "html", "text", "truncated", "damaged", "password", "scanned", "missing"],
)
def test_bad_files_get_a_clear_error(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(PdfError, match=message):
        read_pdf(path)
    assert issubclass(PdfError, ValueError)


def test_an_owner_password_alone_does_not_stop_reading(tmp_path):
    path = pdf_samples.encrypted(tmp_path / "restricted.pdf", DATA / "latex" / "checkpoint.pdf", user_password="")
    assert read_pdf(path).text == read(DATA / "latex" / "checkpoint.pdf").text


@pytest.fixture(scope="module")
def long_report(tmp_path_factory) -> Path:
    return pdf_samples.long_report(tmp_path_factory.mktemp("long") / "report.pdf", pages=1000)


def test_a_thousand_pages(long_report):
    doc = read_pdf(long_report)
    assert doc.pages == len(doc.page_starts) == 1000
    for page in (1, 2, 777, 1000):
        at = doc.text.find(pdf_samples.page_sentence(page))
        assert at >= 0 and doc.page_of(at) == page
    assert "Annual Field Survey Report" not in doc.text
    assert not re.search(r"(^|\n)\d+(\n|$)", doc.text)


def test_max_pages_reads_the_first_pages_only(long_report):
    doc = read_pdf(long_report, max_pages=50)
    assert doc.pages == 1000 and len(doc.page_starts) == 50
    assert pdf_samples.page_sentence(50) in doc.text and pdf_samples.page_sentence(51) not in doc.text


def test_text_as_printed_inline_code_display_code_and_a_sentence_over_a_page_break():
    """Words in a code font inside a sentence stay in it; code set between paragraphs stays as
    lines of its own; a sentence a page break (and the running head) interrupts is one sentence."""
    from assistant.ingest.chunking import body_sentences, chunk_body

    truth = json.loads((DATA / "latex" / "printed.json").read_text())
    doc = read(DATA / "latex" / "printed.pdf")
    flat = " ".join(doc.text.split())
    inline = "For panel data, vcovPL() based on meatPL() computes sandwich covariances that are robust to correlation over time."
    assert inline in flat and "glm(y ~ x, family = poisson)" in flat
    [spanning] = truth["spanning_pages"]
    sentences = [" ".join(doc.text[s:e].split()) for s, e in body_sentences(doc.text)]
    assert spanning in sentences  # one sentence, not two halves
    passages = chunk_body("pdf:printed", doc, start=0, chunk_words=100, first_index=1)
    [holder] = [p for p in passages if spanning in " ".join(p.text.split())]
    at = holder.text.index("When the number")
    assert holder.page_at(at) == 1 and holder.page_at(holder.text.index("than about twenty")) == 2
    assert "Software" not in holder.text  # the running head between the halves is gone


def test_characters_outside_the_basic_plane_come_out_whole():
    """PDFium gives a character outside the BMP (a math italic x) as a UTF-16 pair; half a pair
    cannot be stored (UTF-8), so it becomes U+FFFD rather than stopping an ingest."""
    from assistant.formats.pdf_layout import clean

    assert clean("a\ud835\udc65b") == "a𝑥b"
    assert clean("x\ud835y") == "x\ufffdy"
    assert clean("x\ud835y").encode("utf-8")
