"""The evaluation on full-text questions: the gold span and gold page measures on hand-made
answers, baselines scored by their top chunk, questions naming their PDF; the pieces of the
method they measure (passage ranking within a paper, quoting with context, the gate's margin
for full text); and one end-to-end `paper-assistant eval --papers --compare baseline` on the
committed LaTeX PDFs."""

import json
import shutil
from pathlib import Path

import pytest

from assistant.answering.plan import with_context
from assistant.answering.sentences import read_question, score_sentences
from assistant.evaluation.metrics import answer_has_span, contains_span, first_citation_on_page, span_text
from assistant.evaluation.questions import QuestionSetError, load_questions, relevant_ids, title_index
from assistant.evaluation.run import Chunk, QuestionResult, evaluate_system, summarize
from assistant.ingest.chunking import body_sentences
from assistant.retrieval.fusion import best_passages, bm25
from assistant.retrieval.gate import FULL_TEXT_MARGIN, gate
from assistant.text import md_quote, tokenize
from assistant.types import Answer, Citation, Paper, Passage

# --- the gold span ------------------------------------------------------------------------------

SPAN = "in general we will have to approximate them by finite differences, which is expensive"


@pytest.mark.parametrize(
    "text",
    [
        "... but in general we will have to approximate them by finite differences, which is expensive and ...",
        "in general we will have to approxi- mate them by finite differences, which is expensive",  # line-end hyphen
        "in general we will have to approxi-\nmate them by finite differences,\nwhich is expensive",
        "in general we will have to approximate them by \ufb01nite differences, which is expensive",  # fi ligature
        "in general we will have to approximate them by \x1cnite differences, which is expensive",  # TeX's control code
        "IN GENERAL we will have to approximate them by finite differences, which is  expensive",
        "in general we will have to approximate them by finitedifferences, which is expensive",  # a lost space
    ],
)
def test_a_span_is_found_however_a_reader_renders_the_same_words(text):
    assert contains_span([text], SPAN)


@pytest.mark.parametrize(
    "text",
    [
        "in general we will have to approximate them by finite sums, which is expensive",  # another word
        "in general we will have to approximate them by finite differences",  # only part of it
        "",
    ],
)
def test_a_span_is_not_found_in_other_words(text):
    assert not contains_span([text], SPAN)


def test_quotes_and_markdown_escapes_do_not_hide_a_span():
    span = "Steven Johnson’s NLopt C library (Johnson 2014) and a wrapper for Powell’s BOBYQA [algorithm]"
    shown = md_quote("Steven Johnson's NLopt C library (Johnson 2014) and a wrapper for Powell's BOBYQA [algorithm]")
    assert "\\[" in shown and contains_span([shown], span)
    assert span_text("“quoted”") == span_text('"quoted"')
    assert not contains_span(["anything"], "   ")  # an empty span is never found


PAPER = Paper("pdf:lmer", "Fitting Linear Mixed-Effects Models Using lme4", "abstract", pages=51)
OTHER = Paper("pdf:zoo", "zoo", "abstract", pages=30)
BODY = Passage(
    "pdf:lmer",
    5,
    "The first sentence. In general we will have to approximate them by finite differences, "
    "which is expensive and has limited accuracy.",
    100,
    200,
    page=25,
    end_page=25,
    section="4",
)


def cited(text: str, *citations: Citation) -> Answer:
    return Answer("q", text, list(citations), True, [])


def test_the_answer_or_one_of_its_quotes_must_contain_the_span():
    quote = BODY.text[20:]
    in_text = cited(f"From the papers:\n- {quote} [1]", Citation(1, PAPER, quote, page=25, passage=BODY))
    assert answer_has_span(in_text, SPAN)
    only_quoted = cited("They approximate gradients [1].", Citation(1, PAPER, quote, page=25, passage=BODY))
    assert answer_has_span(only_quoted, SPAN)  # an LLM's paraphrase: its citation's quote has the span
    assert not answer_has_span(
        cited("They approximate gradients [1].", Citation(1, PAPER, "The first sentence.")), SPAN
    )


def test_the_first_citation_must_be_the_relevant_paper_on_the_gold_page():
    on_page = Citation(1, PAPER, "q", page=25, passage=BODY)
    assert first_citation_on_page(cited("x", on_page), ["pdf:lmer"], 25)
    assert not first_citation_on_page(cited("x", on_page), ["pdf:lmer"], 24)
    assert not first_citation_on_page(cited("x", Citation(1, OTHER, "q", page=25)), ["pdf:lmer"], 25)
    assert not first_citation_on_page(cited("x", Citation(1, PAPER, "abstract")), ["pdf:lmer"], 25)  # no page
    later = cited("x", Citation(1, OTHER, "q", page=3), on_page)
    assert not first_citation_on_page(later, ["pdf:lmer"], 25)  # only the first citation counts
    assert not first_citation_on_page(
        Answer("q", "The collection does not cover this question.", [], False, []), ["pdf:lmer"], 25
    )


# --- scoring systems on full-text questions -----------------------------------------------------

QUESTIONS = [
    {
        "id": "a",
        "type": "single",
        "question": "Why derivative-free?",
        "relevant": ["Fitting Linear Mixed-Effects Models Using lme4"],
        "pdf": "lmer.pdf",
        "gold_page": 25,
        "gold_span": SPAN,
    },
    {
        "id": "b",
        "type": "single",
        "question": "What is zoo?",
        "relevant": ["zoo"],
        "pdf": "zoo.pdf",
        "gold_page": 3,
        "gold_span": "ordered observations",
    },
    {"id": "n", "type": "none", "question": "Off topic?"},
]


def test_a_baseline_is_scored_on_full_text_by_its_top_chunk():
    qs = load_questions(QUESTIONS)
    tops = {
        "a": Chunk(
            "pdf:lmer",
            25,
            "... approximate them by finite differences, which is expensive ..."
            " in general we will have to approximate them by finite differences, which "
            "is expensive",
        ),
        "b": Chunk("pdf:lmer", 3, "ordered observations"),  # the span and the page, but of another paper
        "n": Chunk("pdf:zoo", 1, "x"),
    }
    res = {
        r.id: r
        for r in evaluate_system(
            qs, title_index([PAPER, OTHER]), lambda q: [tops[q["id"]].paper_id], chunks_fn=lambda q: [tops[q["id"]]]
        )
    }
    assert res["a"].metrics()["page"] == 1.0 and res["a"].metrics()["span"] == 1.0 and res["a"].first_page == 25
    assert res["b"].metrics()["page"] == 0.0 and res["b"].metrics()["span"] == 1.0
    assert res["a"].metrics()["evidence5"] == 1.0  # its top chunks hold the span
    assert res["a"].metrics()["words"] == len(tops["a"].text.split()) and "quoted" not in res["a"].metrics()
    assert "page" not in res["n"].metrics() and "span" not in res["n"].metrics()
    table = summarize(list(res.values()))
    assert table["single"]["page"] == 0.5 and table["overall"]["span"] == 1.0


def test_a_system_that_only_ranks_papers_gets_no_page_or_span_figures():
    qs = load_questions(QUESTIONS)
    res = evaluate_system(qs, title_index([PAPER, OTHER]), lambda q: ["pdf:lmer"])
    assert all("page" not in r.metrics() and "span" not in r.metrics() for r in res)


def test_a_refused_full_text_question_misses_the_page_and_the_span():
    r = QuestionResult("a", "single", "?", ["pdf:lmer"], ["pdf:lmer"], refused=True, page=False, span=False)
    assert r.metrics() == {"r1": 1.0, "r5": 1.0, "mrr10": 1.0, "false_refusal": 1.0, "page": 0.0, "span": 0.0}


def test_a_question_finds_its_paper_by_the_pdf_it_names():
    read_alone = Paper("pdf:lmer", "FITTING LINEAR MIXED-EFFECTS MODELS", "", pages=51)  # the reader's title
    from_entry = Paper(
        "bates2015", "Fitting Linear Mixed-Effects Models Using lme4", "", pages=51, pdf_path="/home/me/papers/lmer.pdf"
    )  # a BibTeX entry with the PDF attached
    abstract_only = Paper("arxiv:1406.5823", "Fitting Linear Mixed-Effects Models Using lme4", "the abstract")
    q = load_questions(QUESTIONS[:1])[0]
    assert relevant_ids(q, title_index([read_alone])) == ["pdf:lmer"]
    assert relevant_ids(q, title_index([from_entry])) == ["bates2015"]
    # the same title as an abstract-only record: the question's page numbers are the PDF's
    assert relevant_ids(q, title_index([abstract_only, read_alone])) == ["pdf:lmer"]
    assert relevant_ids(q, title_index([abstract_only])) == ["arxiv:1406.5823"]  # no such PDF: by title
    with pytest.raises(QuestionSetError, match="nor a PDF named 'lmer.pdf'.*--papers"):
        relevant_ids(q, title_index([OTHER]))


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("gold_page", 0, "'gold_page' must be a page number from 1"),
        ("gold_page", "25", "'gold_page' must be a page number from 1"),
        ("gold_page", True, "'gold_page' must be a page number from 1"),
        ("gold_span", "  ", "'gold_span' must be a non-empty string"),
        ("pdf", 3, "'pdf' must be a file name"),
    ],
)
def test_bad_full_text_fields_are_refused_with_the_question_named(field, value, message):
    with pytest.raises(QuestionSetError, match=f"question 1 \\(a\\): {message}"):
        load_questions([{**QUESTIONS[0], field: value}])


# --- the method: passages of one paper, quotes with context, the gate -----------------------------


def test_bm25_within_a_paper_counts_a_term_every_passage_has_for_little():
    docs = [
        tokenize("the optimizer of the model"),
        tokenize("the model and the optimizer default nelder mead"),
        tokenize("the model fits data"),
    ]
    scores = bm25(tokenize("which default optimizer"), docs)
    assert scores[1] > scores[0] > scores[2] == 0.0
    assert bm25(tokenize("model"), docs)[0] < scores[0]  # "model" is in every passage
    assert bm25(["x"], []) == []


def test_best_passages_fuse_the_dense_and_keyword_views():
    dense = [(7, 0.62), (3, 0.60), (9, 0.40), (4, 0.39)]
    keyword = [(3, 9.0), (4, 8.5), (9, 1.0)]
    # 3 is close in meaning and has the terms: first; 7, the closest in meaning without them, next
    assert best_passages(dense, keyword) == [3, 7, 4, 9]
    assert best_passages(dense, [])[0] == 7 and best_passages([], keyword)[0] == 3


def test_a_body_quote_brings_the_sentence_after_and_a_sentence_it_points_back_to():
    text = "A first claim. The reason is cost.\nThis is why we switched. The default is four. Unrelated."
    spans = body_sentences(text)
    assert [text[s:e] for s, e in spans][1:3] == ["The reason is cost.", "This is why we switched."]
    assert with_context(text, spans, [2]) == [2, 3]  # the previous sentence is in another paragraph
    assert with_context(text, spans, [3, 0]) == [3, 4, 0]  # "The default ..." does not point back
    assert with_context(text, spans, [1]) == [1]  # the paragraph ends after it
    text2 = text.replace("\n", " ")
    assert with_context(text2, spans, [2]) == [1, 2, 3]  # "This is why" points back to its paragraph's sentence


def test_a_question_about_a_default_prefers_the_sentence_that_states_it():
    sentences = [
        "If lag is not given, NeweyWest takes the bandwidth of Newey and West.",
        "If lag is not given, NeweyWest by default takes the bandwidth of Newey and West.",
    ]
    asks_default = score_sentences(
        sentences, read_question("Which lag does NeweyWest use unless I set one?"), lambda t: 1.0, body=True
    )[:, 0]
    plain = score_sentences(sentences, read_question("Which lag does NeweyWest use?"), lambda t: 1.0, body=True)[:, 0]
    assert asks_default[1] - asks_default[0] == pytest.approx(0.3)  # the cue's weight (focus.W_CUE)
    assert plain[1] == pytest.approx(plain[0])
    in_abstract = score_sentences(
        sentences, read_question("Which lag does NeweyWest use unless I set one?"), lambda t: 1.0
    )[:, 0]
    assert in_abstract[1] == pytest.approx(in_abstract[0])  # abstracts are scored as before


def test_a_body_sentence_is_not_marked_down_as_an_abstracts_opening_or_earlier_work():
    q = read_question("What default of C did Lumley and Heagerty suggest?")
    sentences = [
        "Lumley and Heagerty (1999) suggest a default of C = 4 for the truncated weights.",
        "We implement their weights in weave.",
    ]  # the first "we" makes the one before an "opening"
    abstract, body = (score_sentences(sentences, q, lambda t: 1.0, body=b)[:, 0] for b in (False, True))
    assert body[0] > abstract[0] and body[1] == pytest.approx(abstract[1])


class Stats:
    def __len__(self):
        return 100

    def df(self, token):
        return 50

    def idf(self, token):
        return 1.0


def test_the_gate_asks_a_full_text_paper_to_cover_more():
    terms = [set(tokenize("checkpoint interval failure rate"))]
    q = "What bounds the checkpoint interval?"
    abstract = gate(q, q, tokenize(q), 0.5, terms, Stats())
    full = gate(q, q, tokenize(q), 0.5, terms, Stats(), full_text=[True])
    assert full == pytest.approx(abstract - FULL_TEXT_MARGIN)
    assert gate(q, q, tokenize(q), 0.5, terms + [set()], Stats(), full_text=[True, False]) == pytest.approx(full)


# --- end to end -----------------------------------------------------------------------------------

LATEX = Path(__file__).parent / "data" / "pdfs" / "latex"
EXAMPLES = Path(__file__).parent.parent / "examples" / "fulltext_questions.jsonl"


@pytest.mark.server
def test_eval_on_the_latex_pdfs_compares_the_three_systems_on_page_and_span(tmp_path, model_cache, capsys):
    """`paper-assistant eval --papers DIR --compare baseline` on the committed LaTeX papers and
    the questions about them (and the out-of-collection ones): the PDFs are added first, the
    starter reads the index's copies of them with SimpleDirectoryReader, BM25 the assistant's
    passages; every figure is what the per-question results say."""
    from assistant.cli import main

    folder = tmp_path / "pdfs"  # the PDFs without their build files (latex/*.json would be read as bibliographies)
    folder.mkdir()
    for pdf in LATEX.glob("*.pdf"):
        shutil.copy(pdf, folder / pdf.name)
    qs = [json.loads(line) for line in EXAMPLES.open()]
    mine = [q for q in qs if q.get("pdf") in {p.name for p in LATEX.glob("*.pdf")} or q["type"] == "none"][:30]
    (tmp_path / "qs.jsonl").write_text("".join(json.dumps(q) + "\n" for q in mine))
    out = tmp_path / "eval.json"
    code = main(
        [
            "--index-dir",
            str(tmp_path / "index"),
            "--set",
            f"model_cache={model_cache}",
            "--set",
            "collection=",
            "eval",
            str(tmp_path / "qs.jsonl"),
            "--papers",
            str(folder),
            "--compare",
            "baseline",
            "--json",
            str(out),
        ]
    )
    table = capsys.readouterr().out
    assert code == 0 and "first citation on the gold page" in table and "gold span in the answer" in table
    data = json.loads(out.read_text())
    n = len(list(LATEX.glob("*.pdf")))
    assert any(
        n_.startswith(f"added first: pdfs: {n} added, 0 updated, 0 unchanged, 0 rejected") for n_ in data["notes"]
    )
    gold = {q["id"]: q for q in mine}
    systems = {s["name"]: s for s in data["systems"]}
    assert list(systems) == ["paper-assistant", "starter", "BM25"]
    assert "SimpleDirectoryReader" in systems["starter"]["description"]
    for name, s in systems.items():
        answerable = [r for r in s["results"] if r["type"] != "none"]
        for r in answerable:  # the page figure: the first page shown is the gold page, in the relevant paper
            first = r["cited"][:1] if name == "paper-assistant" else r["ranking"][:1]
            assert r["page"] == (r["first_page"] == gold[r["id"]]["gold_page"] and first == r["relevant"]), (name, r)
        share = sum(r["span"] for r in answerable) / len(answerable)
        assert s["summary"]["overall"]["span"] == pytest.approx(share, abs=1e-4)
        assert all(r["first_page"] is None or 1 <= r["first_page"] <= 3 for r in answerable)  # pages of these PDFs
    ours = systems["paper-assistant"]["summary"]
    assert ours["single"]["r1"] == 1.0 and ours["none"]["refusal"] == 1.0
    assert ours["overall"]["page"] >= 0.5 and ours["overall"]["span"] >= 0.5


def test_the_starter_reads_a_pdfs_text_page_by_page():
    """SimpleDirectoryReader without its PDF reader reads a PDF's bytes as one text: the starter
    would then rank raw content streams."""
    from assistant.evaluation.baselines import _pdf_documents

    pdf = sorted(LATEX.glob("*.pdf"))[0]
    docs = _pdf_documents({"pdf:x": (pdf, pdf.name)})
    assert [d.metadata["pdf_page"] for d in docs] == list(range(1, len(docs) + 1))
    assert not any(d.text.lstrip().startswith("%PDF") for d in docs)
    words = " ".join(d.text for d in docs).split()
    assert len(words) > 100 and sum(w.isalpha() for w in words) > 0.5 * len(words)


def test_gold_pages_evidence_and_where_are_scored():
    """A sentence over a page break counts on either of its gold pages; the answering sentence
    must be in the first five passages the answer was written from; figures also per `where`."""
    body = Passage("pdf:lmer", 7, "The default is forty-two iterations.", 0, 36, page=4, end_page=4)
    other = [Passage("pdf:lmer", i, f"filler passage {i}", 0, 15, page=2, end_page=2) for i in range(1, 7)]
    qs = load_questions(
        [
            {
                "id": "late",
                "type": "single",
                "where": "body",
                "question": "How many iterations by default?",
                "relevant": [PAPER.title],
                "pdf": "lmer.pdf",
                "gold_page": 3,
                "gold_pages": [3, 4],
                "gold_span": "default is forty-two iterations",
            },
            {
                "id": "meta",
                "type": "single",
                "where": "metadata",
                "question": "Who wrote the lme4 paper?",
                "relevant": [PAPER.title],
                "pdf": "lmer.pdf",
                "gold_page": 1,
                "gold_span": "Douglas Bates",
            },
        ]
    )
    cite = Citation(1, PAPER, body.text, [(0, 36)], page=4, passage=body)
    answers = {
        "late": Answer("q", "The default is forty-two iterations. [1]", [cite], True, [], evidence=[*other, body]),
        "meta": Answer("q", "Douglas Bates wrote it. [1]", [Citation(1, PAPER, "", [])], True, [], evidence=[body]),
    }
    res = {r.id: r for r in evaluate_system(qs, title_index([PAPER]), lambda q: [PAPER.id], lambda q: answers[q["id"]])}
    late, meta = res["late"].metrics(), res["meta"].metrics()
    assert late["page"] == 1.0 and late["span"] == 1.0
    assert late["evidence5"] == 0.0  # the answering passage is the 7th given
    assert "page" not in meta and meta["span"] == 1.0  # a metadata answer is cited to the record, not a page
    table = summarize(list(res.values()))
    assert table["where:body"]["page"] == 1.0 and table["where:metadata"]["span"] == 1.0
    with pytest.raises(QuestionSetError, match="gold_pages"):
        load_questions([{**qs[0], "gold_pages": [0]}])
