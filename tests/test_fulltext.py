"""Full-text PDFs in the library: ingest (one PDF, a folder with a .bib and bad files),
answers and hits with page and section, unchanged and replaced PDFs, a Chroma server.

Real PDFs: the lme4 paper (fetched from Debian by fixtures/debian_pdfs.py, as in test_pdf.py)
and the two-column LaTeX papers in tests/data/pdfs/latex/; bad files from tests/pdf_samples.py.
Page truths come from the blind full-text question set (examples/fulltext_questions.jsonl)
and from the reader's own text (`PdfDocument.page_of`), never from this code's output.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pdf_samples
import pytest

import assistant.ingest.fulltext as fulltext_mod
import assistant.llm as llm_module
from assistant import PaperAssistant, Settings
from assistant.answering.prompts import NOT_COVERED
from assistant.cli import main as cli_main
from assistant.formats.pdf import PdfDocument, read_pdf
from assistant.ingest.chunking import chunk_body
from assistant.ingest.fulltext import body_start
from assistant.text import tokenize
from assistant.types import reference_line

ROOT = Path(__file__).parent
LATEX = ROOT / "data" / "pdfs" / "latex"
GOLD = {q["id"]: q for q in map(json.loads, (ROOT.parent / "examples" / "fulltext_questions.jsonl").open())}
LME4_Q = "Which optimizer does lme4 use by default for linear mixed models?"
LME4_TITLE = "Fitting Linear Mixed-Effects Models Using lme4"


def page_text(doc: PdfDocument, page: int) -> str:
    end = doc.page_starts[page] if page < len(doc.page_starts) else len(doc.text)
    return doc.text[doc.page_starts[page - 1] : end]


@pytest.fixture(scope="session")
def vectors(tmp_path_factory) -> str:
    """One embedding cache for this module's indexes: each PDF is embedded once."""
    return str(tmp_path_factory.mktemp("ftcache") / "vectors.sqlite")


@pytest.fixture(scope="session")
def lmer_pdf() -> Path:
    from fixtures.debian_pdfs import FetchError, fetch

    try:
        return fetch()["lmer.pdf"]
    except FetchError as e:
        pytest.fail(f"the published-paper PDFs could not be fetched: {e}", pytrace=False)


def make_pa(directory: Path, model_cache, vectors: str, **kw) -> PaperAssistant:
    return PaperAssistant(
        Settings.load(
            env={}, index_dir=str(directory), model_cache=str(model_cache), collection="", embed_cache=vectors, **kw
        )
    )


ABSTRACTS = [
    {
        "id": "a1",
        "title": "Sparse Mixture of Adapters for Speech Recognition",
        "abstract": "We adapt a frozen speech encoder to accented English with a sparse mixture of adapters. "
        "Each adapter specialises on one accent group. Word error rate drops by 12% on L2-ARCTIC.",
    },
    {
        "id": "a2",
        "title": "Graph Transformers for Molecular Property Prediction",
        "abstract": "We study graph transformers that predict molecular properties for drug discovery. "
        "Positional encodings from random walks matter most.",
    },
]


@pytest.fixture(scope="module")
def lme4(tmp_path_factory, model_cache, vectors, lmer_pdf):
    """A mixed collection: the lme4 paper's full text and two abstract-only records."""
    pa = make_pa(tmp_path_factory.mktemp("lme4") / "index", model_cache, vectors)
    report = pa.add_papers(lmer_pdf)
    pa.add_papers(ABSTRACTS)
    return pa, report, read_pdf(lmer_pdf)


# --- body passages ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["checkpoint", "pollinators", "tokenization"])
def test_body_passages_keep_to_sections_and_pages(name):
    doc = read_pdf(LATEX / f"{name}.pdf")
    start = body_start(doc, has_abstract=True)
    passages = chunk_body("x", doc, start=start, chunk_words=60, first_index=2)
    assert [p.index for p in passages] == list(range(2, 2 + len(passages)))
    assert doc.abstract and doc.abstract not in "".join(p.text for p in passages)  # the abstract is its own passage
    heads = [s.start for s in doc.sections]
    for p in passages:
        assert doc.text[p.start : p.end] == p.text and p.start >= start
        assert not any(p.start <= h < p.end for h in heads)  # never runs over a heading
        section = doc.section_of(p.start)
        assert p.section == (None if section is None or section.lower().startswith("abstract") else section)
        assert (p.page, p.end_page) == (doc.page_of(p.start), doc.page_of(p.end - 1))
        for offset in range(0, len(p.text), 11):
            assert p.page_at(offset) == doc.page_of(p.start + offset)
        lo, hi = p.page_part(len(p.text) - 1)
        assert p.text[lo:hi] in page_text(doc, p.end_page)
    covered = " ".join(" ".join(p.text.split()) for p in passages)
    for s in doc.sections:  # every section's text (after the abstract) is in some passage
        if s.start > start:
            nxt = min([h for h in heads if h > s.start] + [len(doc.text)])
            first_words = " ".join(doc.text[s.start + len(s.title) : nxt].split()[:6])
            assert not first_words or first_words in covered, s.title


# --- one PDF: answers and hits with page and section -----------------------------------------------


def test_a_pdf_is_one_full_text_paper(lme4):
    pa, report, doc = lme4
    assert report.added == ["pdf:lmer"] and report.pdfs_read == 1 and report.pages_read == 51 == doc.pages
    paper = pa.paper("pdf:lmer")
    assert paper.title == LME4_TITLE and paper.authors == doc.authors and paper.pages == 51
    assert paper.abstract == " ".join(doc.abstract.split()) and Path(paper.pdf_path).name == "lmer.pdf"
    copy = pa.pdf_file("pdf:lmer")
    assert copy is not None and copy.read_bytes() == Path(paper.pdf_path).read_bytes()
    assert pa.pdf_file("a1") is None
    passages = pa.store.passages(paper)
    assert pa.store.counts()["passages"] == len(passages) + sum(
        len(pa.store.passages(pa.paper(a["id"]))) for a in ABSTRACTS
    )
    body = [p for p in passages if p.in_body]
    assert len(body) > 100 and passages[0].page is None  # the abstract first, then the body
    assert all(doc.text[p.start : p.end] == p.text for p in body)  # (the reader cut the reference list out of it)
    assert [p.index for p in passages] == list(range(len(passages)))


def test_the_lme4_question_is_answered_from_the_body_with_page_and_section(lme4):
    pa, _, doc = lme4
    gold = GOLD["ft-single-001"]  # the blind set's page of lme4's built-in optimizers
    ans = pa.ask(LME4_Q)
    assert ans.covered and ans.backend == "extractive"
    c = ans.citations[0]
    assert c.paper.id == "pdf:lmer" and c.page == gold["gold_page"]
    assert c.quote in page_text(doc, c.page)  # verbatim from that page's extracted text
    assert all(s in page_text(doc, c.page) for s in c.sentences) and "Nelder-Mead" in c.quote
    assert c.section == doc.section_of(doc.text.find(c.quote)) == "4. Nonlinear optimization module"
    assert c.passage is not None and c.context[c.spans[0][0] : c.spans[-1][1]] == c.quote
    assert all(s.strip() in ans.text.replace("\\", "") for s in c.sentences)
    # the link is the DOI its first page prints (a PDF alone gets the DOI it states)
    assert reference_line(c) == f"[1] {LME4_TITLE}, p. {gold['gold_page']}, §4  https://doi.org/10.18637/jss.v067.i01"
    assert json.loads(json.dumps(ans.to_dict()))["citations"][0]["page"] == c.page


def test_hits_carry_the_page_and_section_of_their_best_passage(lme4):
    pa, _, doc = lme4
    gold = GOLD["ft-single-004"]  # the sleep-deprivation study design, in the body
    hit = pa.search(gold["question"], k=3)[0]
    assert hit.paper.id == "pdf:lmer" and hit.page is not None and hit.passage is not None
    assert hit.text in doc.text and doc.page_of(doc.text.find(hit.text)) == hit.page
    assert hit.section == doc.section_of(doc.text.find(hit.text))
    assert hit.to_dict()["page"] == hit.page
    abstract_hit = pa.search("sparse mixture of adapters for accented speech", k=1)[0]
    assert abstract_hit.paper.id == "a1" and abstract_hit.page is None and abstract_hit.section is None


def test_a_full_text_hit_crowded_out_of_the_dense_candidates_still_gets_its_best_passage(lme4):
    """With many PDFs the 100 dense candidates often hold no passage of a paper the keyword or
    paper view ranks high; here the first dense search's passages of the lme4 paper are
    dropped to stand for the crowd, and its hit must still come with a body passage."""
    from assistant.retrieval import search
    from assistant.retrieval.query import dense_query

    pa, _, doc = lme4
    real = pa.store.dense_passages
    asked = []

    def crowded(qvec, k, allowed=None):
        return [d for d in real(qvec, k, allowed) if d.paper_id != "pdf:lmer"]

    def cosines(qvec, paper_ids):
        asked.append(set(paper_ids))
        return pa.store.passage_cosines(qvec, paper_ids)

    class Crowded:
        def __getattr__(self, name):
            return {"dense_passages": crowded, "passage_cosines": cosines}.get(name) or getattr(pa.store, name)

    question = GOLD["ft-single-003"]["question"]  # why derivative-free optimizers: the body, page 25
    searcher = search.Searcher(Crowded(), pa.embedder, pa.settings.candidates, pa.settings.min_relevance)
    r = searcher.run(question, question, 3)
    hit = next(h for h in r.hits if h.paper.id == "pdf:lmer")
    assert "passage" not in hit.signals  # no dense candidate of its own in the first search
    assert asked[0] == {"pdf:lmer"}  # so its passages were scored against the question
    qvec = pa.embedder.embed_query(dense_query(question))  # as Searcher.run embeds it
    best = max(real(qvec, 10_000, {"pdf:lmer"}), key=lambda d: d.similarity)
    assert hit.passage_index == best.passage_index  # the same passage Chroma's own search finds best
    assert hit.page is not None and hit.text in doc.text and doc.page_of(doc.text.find(hit.text)) == hit.page


def test_mixed_collection_abstract_answers_and_refusals_work_as_before(lme4):
    pa, _, _ = lme4
    ans = pa.ask("How much does a sparse mixture of adapters reduce word error rate on accented English?")
    assert ans.covered and ans.citations[0].paper.id == "a1" and ans.citations[0].page is None
    assert ans.citations[0].passage is None and "12%" in ans.text and ans.text.startswith("From the abstracts")
    for question in (
        "Which vision transformer improves ImageNet accuracy with token merging?",
        "What is the boiling point of sea water at high altitude?",
    ):
        assert not pa.ask(question).covered, question


def test_a_question_naming_what_the_paper_never_mentions_is_refused_and_says_so(lme4):
    pa, _, doc = lme4
    assert "Vuong" not in doc.text and "glmmTMB" not in doc.text
    question = "Does lme4 offer a Vuong test to compare linear mixed models?"
    r = pa.retrieve(question)
    assert r.hits[0].paper.id == "pdf:lmer" and r.unmentioned == ["Vuong"]  # the right paper, which never says it
    ans = pa.ask(question)
    assert not ans.covered and ans.citations == []
    assert ans.text.startswith(NOT_COVERED) and "never mentions “Vuong”" in ans.text and LME4_TITLE in ans.text
    assert pa.retrieve("Which optimizer does lme4 use by default for glmmTMB models?").unmentioned == ["glmmTMB"]
    ans = pa.ask(LME4_Q)  # the same paper, asked about what it has
    assert ans.covered and ans.citations[0].paper.id == "pdf:lmer"


def test_the_cli_prints_page_and_section_in_references(lme4, capsys):
    pa, _, _ = lme4
    s = pa.settings  # the same process may open the embedded index again
    code = cli_main(
        [
            "--index-dir",
            s.index_dir,
            "--set",
            f"model_cache={s.model_cache}",
            "--set",
            f"embed_cache={s.embed_cache}",
            "--set",
            "collection=",
            "ask",
            LME4_Q,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    refs = out.split("References", 1)[1].strip().splitlines()
    page = GOLD["ft-single-001"]["gold_page"]
    assert refs[0].strip() == f"[1] {LME4_TITLE}, p. {page}, §4  https://doi.org/10.18637/jss.v067.i01"


class Echo:
    """A fake LLM for prompt tests: cites passage 1 with its own first words."""

    name, model = "openai", "echo"

    def __init__(self):
        self.calls = []

    def stream(self, messages, *, max_tokens, timeout, grammar=None):
        self.calls.append(messages)
        first = messages[-1]["content"].split("[1] ", 1)[1].split("\n")[1]
        yield " ".join(first.split()[:12]) + " [1]."


def test_llm_prompts_carry_page_tagged_passages_and_citations_quote_one_page(lme4, monkeypatch):
    pa, _, doc = lme4

    fake = Echo()
    monkeypatch.setattr(llm_module, "create", lambda s: fake)
    ans = pa.using(backend="openai", api_key="sk-test", min_support=0).ask(LME4_Q)
    prompt = fake.calls[0][-1]["content"]
    assert f"[1] {LME4_TITLE}, p. " in prompt
    assert ans.backend == "openai" and ans.citations
    c = ans.citations[0]
    assert c.page is not None and c.quote in page_text(doc, c.page) and c.passage is not None
    assert f"[1] {LME4_TITLE}, p. {c.passage.page}" in prompt


# --- unchanged, replaced ----------------------------------------------------------------------------


def test_re_adding_an_unchanged_pdf_parses_and_embeds_nothing(lme4, lmer_pdf, monkeypatch):
    pa, _, _ = lme4

    def no(*a, **k):
        raise AssertionError("an unchanged PDF was opened")

    monkeypatch.setattr(fulltext_mod, "read_within", no)
    calls, before = pa.embedder.calls, pa.store.counts()
    report = pa.add_papers(lmer_pdf)
    assert report.unchanged == ["pdf:lmer"] and not report.added and not report.updated
    assert report.passages_embedded == 0 and report.pdfs_read == 0
    assert pa.embedder.calls == calls and pa.store.counts() == before


def test_a_replaced_pdf_replaces_its_passages(tmp_path, model_cache, vectors):
    pa = make_pa(tmp_path / "index", model_cache, vectors)
    pdf = tmp_path / "notes" / "paper.pdf"
    pdf.parent.mkdir()
    shutil.copy(LATEX / "layout.pdf", pdf)
    assert pa.add_papers(pdf).added == ["pdf:paper"]
    old_copy = pa.pdf_file("pdf:paper")
    assert "white space" in " ".join(p.text for p in pa.store.passages(pa.paper("pdf:paper")))

    shutil.copy(LATEX / "tokenization.pdf", pdf)  # a new version under the same name
    report = pa.add_papers(pdf)
    assert report.updated == ["pdf:paper"] and report.pdfs_read == 1
    new = read_pdf(LATEX / "tokenization.pdf")
    paper = pa.paper("pdf:paper")
    assert paper.title == new.title and paper.pages == 3
    passages = pa.store.passages(paper)
    assert all(p.text in new.text for p in passages if p.in_body)
    assert pa.store.counts()["passages"] == len(passages)  # the old version's passages are gone
    assert pa.store.local.body_passages("pdf:paper", paper.content_hash()) == [p for p in passages if p.in_body]
    hit = pa.search("vertical strip of white space between notebook columns", k=1)[0]
    assert "white space" not in hit.text  # no passage of the old text is left to find
    assert pa.pdf_file("pdf:paper").read_bytes() == pdf.read_bytes() and pa.pdf_file("pdf:paper") != old_copy
    again = PaperAssistant(pa.settings)  # the change survives a restart
    assert again.store.passages(again.paper("pdf:paper")) == passages
    calls = again.embedder.calls
    assert again.reindex() == len(passages) and again.embedder.calls == calls  # body passages from the local files
    assert again.store.counts()["passages"] == len(passages)
    assert again.store.passages(again.paper("pdf:paper")) == passages

    for f in again.store.root.glob("local.sqlite*"):  # the local files lost: rebuilt from Chroma's documents
        f.unlink()
    rebuilt = PaperAssistant(pa.settings)
    assert rebuilt.store.passages(rebuilt.paper("pdf:paper")) == passages
    assert rebuilt.store.local.body_passages("pdf:paper", paper.content_hash()) == [p for p in passages if p.in_body]


# --- a folder --------------------------------------------------------------------------------------

BIB = r"""
@article{ramirez2024bees,
  title = {Counting Bees on Camera: A Bayesian Correction},
  author = {Ramirez-Ortega, Sofia and Brandt, Thomas},
  journal = {Journal of Field Ecology},
  year = {2024},
  file = {pdfs/pollinators.pdf}
}
@article{lost2020,
  title = {An Entry Whose Attachment Went Missing},
  author = {Nobody, Anne},
  year = {2020},
  abstract = {We describe soil moisture sensors buried in peat bogs and how their readings drift over winters.},
  file = {pdfs/missing.pdf}
}
"""

BAD = {  # file in the folder -> what its rejection says
    "bad/scan.pdf": "no text layer (scanned?)",
    "bad/locked.pdf": "password-protected",
    "bad/cut.pdf": "truncated or damaged",
    "bad/empty.pdf": "empty file (0 bytes)",
    "bad/login.pdf": "not a PDF (looks like HTML",
    "bad/long.pdf": "1000 pages is over the limit of 300 (setting max_pages)",
    "sub/copy of checkpoint.pdf": "the same file as sub/checkpoint.pdf (identical bytes)",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("folder") / "papers"
    (root / "pdfs").mkdir(parents=True)
    (root / "sub").mkdir()
    (root / "bad").mkdir()
    (root / ".trash").mkdir()
    (root / "library.bib").write_text(BIB)
    shutil.copy(LATEX / "pollinators.pdf", root / "pdfs" / "pollinators.pdf")
    shutil.copy(LATEX / "checkpoint.pdf", root / "sub" / "checkpoint.pdf")
    shutil.copy(LATEX / "layout.pdf", root / ".trash" / "layout.pdf")  # hidden: not read
    (root / "README.txt").write_text("Papers for the review.\n")  # not a bibliography file: not read
    shutil.copy(LATEX / "checkpoint.pdf", root / "sub" / "copy of checkpoint.pdf")  # the same bytes again
    pdf_samples.image_only(root / "bad" / "scan.pdf")
    pdf_samples.encrypted(root / "bad" / "locked.pdf", LATEX / "checkpoint.pdf")
    pdf_samples.truncated(root / "bad" / "cut.pdf", LATEX / "checkpoint.pdf")
    (root / "bad" / "empty.pdf").write_bytes(b"")
    pdf_samples.html_named_pdf(root / "bad" / "login.pdf")
    pdf_samples.long_report(root / "bad" / "long.pdf", pages=1000)
    return root


def test_a_folder_adds_every_pdf_and_bibliography_file_and_rejects_each_bad_file(
    folder, tmp_path, model_cache, vectors, monkeypatch
):
    from assistant import CollectionError

    pa = make_pa(tmp_path / "index", model_cache, vectors)
    with pytest.raises(CollectionError, match=rf"^papers: {len(BAD)} bad record\(s\), nothing added \(strict\)"):
        pa.add_papers(folder, strict=True)
    assert not pa.papers and pa.store.counts() == {"papers": 0, "passages": 0}
    seen = []
    report = pa.add_papers(folder, on_file=lambda name, outcome: seen.append((name, outcome)))
    assert report.format == "folder" and report.source == "papers"
    assert sorted(report.added) == ["lost2020", "pdf:checkpoint", "ramirez2024bees"]
    assert {r.record: r.reason for r in report.rejected}.keys() == BAD.keys()
    for r in report.rejected:
        assert BAD[r.record] in r.reason, r
    assert [(w.paper_id, w.kind) for w in report.warnings] == [("lost2020", "pdf")]
    assert "missing.pdf not found" in report.warnings[0].message
    assert report.pdfs_read == 2 and report.pages_read == 6
    names = [n for n, _ in seen]
    assert "library.bib" in names and "sub/checkpoint.pdf" in names and set(BAD) <= set(names)
    assert not any("layout" in n or "README" in n for n in names)

    # the entry's metadata wins, its PDF gives the body
    bees = pa.paper("ramirez2024bees")
    assert bees.title == "Counting Bees on Camera: A Bayesian Correction" and bees.venue == "Journal of Field Ecology"
    assert bees.pages == 3 and Path(bees.pdf_path) == folder / "pdfs" / "pollinators.pdf" and bees.abstract == ""
    assert pa.paper("lost2020").pages == 0 and pa.paper("pdf:checkpoint").title.startswith("Adaptive Checkpoint")

    # the index holds the good papers only
    assert {p.id for p in pa.papers} == set(report.added)
    assert pa.store.counts()["passages"] == sum(len(pa.store.passages(p)) for p in pa.papers)
    copies = sorted(f.name for f in (pa.store.root / "pdfs").iterdir())
    assert copies == sorted(f"{p.text_hash}.pdf" for p in pa.papers if p.full_text)

    gold = GOLD["ft-single-052"]  # the corrected visitation rate of solitary bees, in the pollinators body
    c = pa.ask(gold["question"]).citations[0]
    doc = read_pdf(folder / "pdfs" / "pollinators.pdf")
    assert c.paper.id == "ramirez2024bees" and c.page == gold["gold_page"] and c.quote in page_text(doc, c.page)

    # again: nothing changed, so no PDF is parsed (the bad ones are tried again) and nothing embedded
    parsed = []
    real = fulltext_mod.read_within
    monkeypatch.setattr(
        fulltext_mod, "read_within", lambda p, *a, **kw: parsed.append(Path(p).name) or real(p, *a, **kw)
    )
    calls = pa.embedder.calls
    again = pa.add_papers(folder)
    assert sorted(again.unchanged) == sorted(report.added) and not again.added and not again.updated
    assert len(again.rejected) == len(BAD) and pa.embedder.calls == calls
    assert set(parsed) <= {Path(b).name for b in BAD}

    # a PDF added again under another name is the paper already indexed, not a second copy
    renamed = tmp_path / "renamed-checkpoint.pdf"
    shutil.copy(folder / "sub" / "checkpoint.pdf", renamed)
    assert pa.add_papers(renamed).unchanged == ["pdf:checkpoint"] and "pdf:renamed-checkpoint" not in pa._papers()


def test_the_cli_ingests_a_folder_with_a_line_per_file(folder, tmp_path, model_cache, vectors, capsys):
    code = cli_main(
        [
            "--index-dir",
            str(tmp_path / "index"),
            "--set",
            f"model_cache={model_cache}",
            "--set",
            f"embed_cache={vectors}",
            "--set",
            "collection=",
            "ingest",
            str(folder),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert "papers: 3 added, 0 updated, 0 unchanged, 7 rejected" in out and "2 PDFs read (6 pages)" in out
    assert "  sub/checkpoint.pdf: 3 pages, " in err and "  bad/scan.pdf: rejected: no text layer" in err
    assert "  library.bib: 2 entries" in err
    assert "rejected bad/long.pdf: 1000 pages is over the limit" in out


def test_a_bad_pdf_alone_is_refused_and_changes_nothing(lme4, tmp_path):
    from assistant import CollectionError

    pa, _, _ = lme4
    before = (pa.store.counts(), dict(pa.store.snapshot.hashes))
    bad = pdf_samples.image_only(tmp_path / "scan.pdf")
    with pytest.raises(CollectionError, match=r"^scan\.pdf: no text layer"):
        pa.add_papers(bad)
    assert (pa.store.counts(), dict(pa.store.snapshot.hashes)) == before


def test_a_session_gets_a_pdf_as_title_and_abstract_only(lme4):
    pa, _, _ = lme4
    view = pa.private()
    report = view.add_papers(LATEX / "checkpoint.pdf")
    paper = view.paper(report.added[0])
    assert paper.title.startswith("Adaptive Checkpoint") and paper.pages == 0 and paper.abstract
    assert paper.id not in pa.store.snapshot.papers
    hit = view.search("adaptive checkpoint scheduling for scientific workflows", k=1)[0]
    assert hit.paper.id == paper.id and hit.page is None


# --- several processes on a Chroma server ----------------------------------------------------------


@pytest.mark.server
def test_a_second_assistant_on_the_server_gets_the_full_text_passages(chroma_server, tmp_path, model_cache, vectors):
    a = make_pa(tmp_path / "a", model_cache, vectors, chroma_url=chroma_server.url)
    b = make_pa(tmp_path / "b", model_cache, vectors, chroma_url=chroma_server.url)  # another process's view
    assert a.add_papers(LATEX / "checkpoint.pdf").added == ["pdf:checkpoint"]
    b.store.catch_up()
    mine, theirs = a.paper("pdf:checkpoint"), b.paper("pdf:checkpoint")
    assert theirs == mine and theirs.pages == 3
    assert b.store.passages(theirs) == a.store.passages(mine)  # from Chroma's documents, into b's local files
    assert b.store.local.body_passages(theirs.id, theirs.content_hash()) == [
        p for p in a.store.passages(mine) if p.in_body
    ]
    gold = GOLD["ft-single-047"]  # the bounds of the checkpoint interval: body only
    doc = read_pdf(LATEX / "checkpoint.pdf")
    c = b.ask(gold["question"]).citations[0]
    assert c.paper.id == "pdf:checkpoint" and c.page == gold["gold_page"] and c.quote in page_text(doc, c.page)
    body = " ".join(p.text for p in b.store.passages(theirs) if p.in_body)
    assert set(tokenize(body)) <= set(b.store.snapshot.keyword.terms(theirs.id))  # the body is in b's keyword index


def test_an_llm_is_given_the_abstract_of_a_full_text_paper_when_the_abstract_answers_best(lme4, monkeypatch):
    pa, _, _ = lme4

    from assistant.answering.passages import Focus

    question = "What is optimized to provide the parameter estimates in lme4?"
    focus = Focus(pa.store, pa.embedder, question, pa._reading.passage_terms)
    assert focus(pa.retrieve(question).hits[0]).passage.in_body  # a body passage ranks first in the paper ...
    extractive = pa.ask(question)
    assert extractive.citations[0].passage is None and extractive.citations[0].section == "Abstract"  # ... abstract
    fake = Echo()
    monkeypatch.setattr(llm_module, "create", lambda s: fake)
    ans = pa.using(backend="openai", api_key="sk-test", min_support=0).ask(question)
    prompt = fake.calls[0][-1]["content"]
    assert "The appropriate criterion is optimized" in prompt
    assert ans.backend == "openai" and ans.citations and ans.citations[0].paper.id == "pdf:lmer"


def test_a_close_sentence_of_another_passage_is_quoted_too_with_its_own_page(lme4):
    pa, _, doc = lme4
    ans = pa.ask("How does lmer handle missing values in the response?")
    first, *more = ans.citations
    assert more, "a second quote of the paper from another passage"
    second = more[0]
    assert [c.number for c in ans.citations] == list(range(1, len(ans.citations) + 1))
    assert first.paper.id == second.paper.id == "pdf:lmer" and second.passage != first.passage
    assert second.passage is not None or (
        second.section == "Abstract" and second.quote in pa.paper("pdf:lmer").abstract
    )
    for c in (first, second):
        assert c.quote in page_text(doc, c.page)  # each verbatim on the page it is cited to
        assert f"[{c.number}]" in ans.text
    assert second.quote.strip() in ans.text.replace("\\", "")
