"""Comparison tables (assistant/tables/): rows from names, a query or filters; cells quoted
verbatim from each paper (abstract or PDF page), "not stated" when the paper does not say;
exports; and the LLM cell writer's prompt and check (a scripted LLM: unit tests of the logic)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from assistant import PaperAssistant, PaperNotFound, Settings, TableError
from assistant.answering import cues
from assistant.llm import LLMError
from assistant.tables import NOT_STATED, Cell, TableJob, extractive, make_table, writer
from assistant.tables.extractive import STATED, SUPPORT, read_aspect
from assistant.types import Citation, Paper

LATEX = Path(__file__).parent / "data" / "pdfs" / "latex"
ZEROTA = "Zero-Shot Dense Video Captioning by Jointly Optimizing Text and Moment"
RITUAL = "RITUAL: Random Image Transformations as a Universal Anti-hallucination Lever in LVLMs"
LOL = "Lower Layer Matters: Alleviating Hallucination via Multi-Layer Fusion Contrastive Decoding with Truthfulness Refocused"
AGLA = (
    "AGLA: Mitigating Object Hallucinations in Large Vision-Language Models with Assembly of Global and Local Attention"
)


def by_title(pa, title: str) -> Paper:
    return next(p for p in pa.papers if p.title == title)


def test_a_table_quotes_each_paper_and_says_not_stated(pa):
    ids = [by_title(pa, t).id for t in (RITUAL, AGLA, ZEROTA)]
    table = pa.table(["Does it need training?", "Is the code released?"], papers=ids)
    assert [r.paper.id for r in table.rows] == ids  # rows in the order named
    assert table.aspects == ["Does it need training?", "Is the code released?"]
    for row in table.rows:
        assert [c.aspect for c in row.cells] == table.aspects
        for c in row.cells:
            if c.stated:  # a stated cell is the paper's own sentence(s), each cited verbatim
                assert c.citations and all(q.quote in row.paper.abstract for q in c.citations)
                assert c.text in row.paper.abstract or all(s in row.paper.abstract for s in c.text.split(". "))
            else:
                assert c.text == NOT_STATED and not c.citations
            assert c.stated == (c.score >= STATED or c.support >= SUPPORT)  # each cell decided alone
    training = table.cell(ids[0], "Does it need training?")  # RITUAL: "a simple, training-free method"
    best = training.text if training.stated else training.nearest.quote
    assert "training-free" in best and (training.stated or training.score < STATED and training.support < SUPPORT)
    assert table.cell(ids[1], "Is the code released?").stated  # AGLA: "Our code will be released at ..."
    assert "github" in table.cell(ids[1], "Is the code released?").quote
    assert not table.cell(ids[0], "Is the code released?").stated  # RITUAL's abstract names no code


@pytest.mark.parametrize(
    "sentence, introduces",
    [
        ("In this paper, we introduce a novel contrastive decoding framework termed LOL.", True),
        ("This article introduces the R package ctmcd, which provides an implementation of methods.", True),
        ("The filehash package for R implements a simple key-value style database.", True),
        ("MNP is a publicly available R package that fits the Bayesian multinomial probit model.", True),
        ("This vignette shows how to use the Brobdingnag package to manipulate very large numbers.", True),
        ("Extensive experiments conducted on two publicly available datasets illustrate the gain.", False),
        ("Other packages use the S4 classes and generics defined in the DBI package.", False),
    ],
)
def test_a_sentence_introducing_the_papers_own_work_is_recognised(sentence, introduces):
    assert bool(cues.INTRODUCES.search(sentence)) == introduces


def test_a_cell_about_the_paper_as_a_whole_leads_with_its_contribution(pa, monkeypatch):
    lol = by_title(pa, LOL).id
    aspect = "How does it reduce hallucination?"
    cell = pa.table([aspect], papers=[lol]).cell(lol, aspect)
    assert cell.stated and cell.text.startswith("In this paper, we introduce a novel contrastive decoding framework")
    monkeypatch.setattr(extractive, "INTRODUCES", 0.0)
    plain = pa.table([aspect], papers=[lol]).cell(lol, aspect)
    assert not plain.text.startswith("In this paper")  # without the preference another sentence leads
    assert plain.stated == cell.stated  # the preference chooses the quote; "stated" reads the plain scores


def test_papers_are_named_by_id_key_or_title_and_an_unknown_one_is_refused(pa):
    p = by_title(pa, RITUAL)
    table = pa.table("What benchmarks?", papers=[RITUAL.upper(), p.id])  # a title in any case; named twice = once
    assert [r.paper.id for r in table.rows] == [p.id]
    with pytest.raises(PaperNotFound, match="RITUAL: Random Image Transformations as a Universal") as e:
        pa.table("What benchmarks?", papers=["RITUAL Random Image Transformation"])
    assert "closest titles" in str(e.value) and "no paper with id, citation key or title" in str(e.value)


def test_rows_from_a_query_are_its_top_papers(pa):
    q = "contrastive decoding against hallucination in vision-language models"
    table = pa.table(["What benchmarks?"], query=q, k=3)
    assert [r.paper.id for r in table.rows] == [h.paper.id for h in pa.search(q, k=3)]


def test_rows_from_filters_and_citation_keys(empty_pa, small_papers):
    records = [dict(small_papers[0], key="lovelace2024"), small_papers[1]]
    empty_pa.add_papers(records)
    table = empty_pa.table(["What data?"], year_from=2024)
    assert [r.paper.id for r in table.rows] == ["p1"]
    assert [r.paper.id for r in empty_pa.table(["What data?"], papers=["LOVELACE2024", "p2"]).rows] == ["p1", "p2"]
    cell = empty_pa.table(["How much does word error rate drop?"], papers=["p1"]).rows[0].cells[0]
    assert cell.stated and "12%" in cell.text and cell.citations[0].page is None  # from the abstract


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(aspects=[]), "at least one aspect"),
        (dict(aspects=["  "]), "at least one aspect"),
        (dict(aspects=[f"aspect {i}?" for i in range(13)]), "13 aspects; the limit is 12"),
        (dict(aspects=["x" * 2001]), "2001 characters long"),
        (dict(aspects=["What data?"], papers=None), "a table needs papers"),
    ],
)
def test_bad_tables_get_clear_errors(pa, kwargs, message):
    with pytest.raises(TableError, match=message):
        pa.table(**kwargs)


def test_too_many_papers_is_refused(pa):
    small = pa.using(table_max_papers=2)
    with pytest.raises(TableError, match="3 papers; a table has at most 2"):
        small.table(["What data?"], papers=[p.id for p in pa.papers[:3]])


def test_exports_keep_every_cell_and_escape_paper_text(pa):
    ids = [by_title(pa, t).id for t in (RITUAL, AGLA)]
    table = pa.table(["Does it need training?", "Is the code released?"], papers=ids)
    rows = list(csv.reader(io.StringIO(table.to_csv())))
    assert rows[0][:4] == ["id", "key", "title", "year"] and "Is the code released? [quote]" in rows[0]
    assert [r[0] for r in rows[1:]] == ids
    assert rows[1][4] == table.rows[0].cells[0].text and rows[1][5] == table.rows[0].cells[0].quote
    md = table.to_markdown().splitlines()
    assert md[0] == "| Paper | Does it need training? | Is the code released? |" and len(md) == 4
    assert md[2].startswith("| RITUAL: Random Image") and "_not stated_" in md[2]
    data = json.loads(table.to_json())
    assert data["aspects"] == table.aspects
    cell = data["rows"][1]["cells"][1]
    assert set(cell) >= {"aspect", "text", "stated", "citations"} and cell["citations"][0]["quote"]
    assert set(cell["citations"][0]) == {"quote", "page", "section"}
    assert set(data["rows"][0]["paper"]) >= {"id", "key", "title"}
    assert table.to_bibtex().count("@") == 2


def test_markdown_and_csv_exports_are_safe_for_hostile_text():
    from assistant.tables import Row, Table

    p = Paper(id="x", title="A | B <script>", abstract="=cmd|' /C calc'!A0 is a formula.")
    c = Citation(number=1, paper=p, quote=p.abstract)
    table = Table(["Q | R?"], [Row(p, [Cell("Q | R?", p.abstract, True, [c])])])
    md = table.to_markdown()
    assert "A \\| B \\<script\\>" in md and "Q \\| R?" in md and md.count("\n") == 3
    line = list(csv.reader(io.StringIO(table.to_csv())))[1]
    assert line[4].startswith("'=cmd")  # a spreadsheet does not run it


def test_a_full_text_cell_cites_its_page_and_section(empty_pa, tmp_path):
    shutil.copy(LATEX / "pollinators.pdf", tmp_path / "pollinators.pdf")
    report = empty_pa.add_papers(tmp_path / "pollinators.pdf")
    pid = (report.added or report.updated)[0]
    table = empty_pa.table(["Which software is the model written in?"], papers=[pid])
    cell = table.rows[0].cells[0]
    c = cell.citations[0] if cell.stated else cell.nearest  # its sentence, or the closest one when not stated
    assert (
        "written in Stan" in c.quote
        and c.page == 2
        and c.section
        and c.section.startswith("3.3")
        and c.quote in c.passage.text
    )


# --- the LLM cell writer: its prompt and its check (a scripted LLM) -------------------------------------


class Scripted:
    """An LLM that replies from a function of the prompt; `calls` are the prompts it got."""

    name, model = "openai", "scripted"

    def __init__(self, reply):
        self.reply, self.calls = reply, []

    def stream(self, messages, *, max_tokens, timeout, grammar=None):
        self.calls.append(messages)
        out = self.reply(messages[-1]["content"])
        if isinstance(out, Exception):
            raise out
        yield out


def _cell(quote: str) -> tuple[Paper, Cell]:
    p = Paper(id="p", title="Sparse Mixture of Adapters for Speech Recognition", abstract=quote)
    return p, Cell("What data?", quote, True, [Citation(number=1, paper=p, quote=quote, spans=[(0, len(quote))])])


QUOTE = "We evaluate on L2-ARCTIC, where word error rate drops by 12% for accented English."


def idf(term: str) -> float:
    return 1.0


def test_the_prompt_holds_the_quote_title_and_aspect_only():
    p, cell = _cell(QUOTE)
    msgs = writer.cell_messages(p, "What data?", QUOTE + " [3] <|im_end|>")
    user = msgs[-1]["content"]
    assert QUOTE in user and p.title in user and "Question: What data?" in user
    assert "[3]" not in user and "<|im_end|>" not in user  # paper text cannot inject markers or template tokens
    assert "not stated" in msgs[0]["content"]


@pytest.mark.parametrize(
    "reply, source, text_or_note",
    [
        ("Answer: L2-ARCTIC accented English.", "llm", "L2-ARCTIC accented English"),
        ("LibriSpeech", "extractive-fallback", "LibriSpeech"),  # a name the quote does not have
        ("word error rate drops by 15%", "extractive-fallback", "15%"),  # a number the quote does not have
        ("not stated", "extractive-fallback", "not stated"),
        ("", "extractive-fallback", "no phrase"),
        ("graph transformers predict molecular toxicity", "extractive-fallback", "of the phrase's terms"),
    ],
)
def test_a_phrase_stands_only_when_its_quote_has_it(reply, source, text_or_note):
    p, cell = _cell(QUOTE)
    out = writer.write_cell(Scripted(lambda prompt: reply), p, cell, idf, timeout=5)
    assert out.source == source and out.citations == cell.citations
    if source == "llm":
        assert out.text == text_or_note
    else:
        assert out.text == cell.text and text_or_note in out.note  # the sentence stays, marked, with the reason


def test_a_failing_call_keeps_the_extractive_cell_and_not_stated_cells_are_not_sent():
    p, cell = _cell(QUOTE)
    out = writer.write_cell(Scripted(lambda prompt: LLMError("the server timed out")), p, cell, idf, timeout=5)
    assert out.source == "extractive-fallback" and "timed out" in out.note and out.text == QUOTE
    llm = Scripted(lambda prompt: "anything")
    silent = Cell("What loss?", NOT_STATED, False)
    assert writer.write_cell(llm, p, silent, idf, timeout=5) is silent and not llm.calls


def test_one_failing_cell_does_not_lose_the_table(pa):
    ids = [by_title(pa, t).id for t in (AGLA, LOL, RITUAL)]

    def reply(prompt: str):
        if "Lower Layer" in prompt:
            raise RuntimeError("a bug in one cell")
        return "released on GitHub"

    seen = []
    llm = Scripted(reply)
    job = TableJob(
        [pa.paper(i) for i in ids], ["Is the code released?"], pa._reading, llm, 5.0, lambda d, t: seen.append((d, t))
    )
    table = make_table(job)
    assert [r.paper.id for r in table.rows] == ids and seen[-1] == (3, 3)
    agla, lol, ritual = (r.cells[0] for r in table.rows)
    assert agla.source == "llm" and agla.text == "released on GitHub" and "github" in agla.quote
    assert lol.source == "extractive-fallback" and "a bug in one cell" in lol.note and "coming soon" in lol.text
    assert not ritual.stated and ritual.source == "extractive" and len(llm.calls) == 2  # not sent


def test_each_aspect_is_read_once_for_every_paper(pa, monkeypatch):
    calls = []
    cls = type(pa.embedder)
    real = cls.embed_query
    monkeypatch.setattr(cls, "embed_query", lambda self, t: calls.append(t) or real(self, t))
    aspect = read_aspect("Does it need training?", pa._reading)
    n = len(calls)
    table = make_table(TableJob(pa.papers[:5], ["Does it need training?"], pa._reading))
    assert len(table.rows) == 5 and aspect.ctx.read.clauses
    assert len(calls) - n <= 1  # read once for the table, not once per paper


def test_a_private_view_tabulates_its_own_papers(pa, small_papers):
    view = pa.private()
    view.add_papers(small_papers[:1])
    table = view.table(["How much does word error rate drop?"], papers=["p1"])
    assert table.rows[0].cells[0].stated and "12%" in table.rows[0].cells[0].text


def test_settings_bound_tables():
    s = Settings.load(env={"ASSISTANT_TABLE_MAX_PAPERS": "7", "ASSISTANT_TABLE_MAX_ASPECTS": "3"})
    assert (s.table_max_papers, s.table_max_aspects) == (7, 3)


def test_the_library_exports_the_table_types():
    import assistant

    assert {"Table", "Row", "Cell", "TableError"} <= set(assistant.__all__)
    assert PaperAssistant.table.__doc__


# --- scoring tables (paper-assistant eval on a table set) ------------------------------------------------

SETS = Path(__file__).parent.parent / "examples" / "tables"


def test_holds_reads_a_gold_sentence_through_pdf_differences():
    from assistant.evaluation.tables import holds

    gold = ["The R package optimParallel provides a parallel version of the L-BFGS-B optimization method of optim()."]
    assert holds(
        "the R package optimParallel provides a parallel version of the L-BFGS-B optimiza-tion method of optim()", gold
    )
    assert not holds("The R package optimParallel is introduced.", gold)
    assert holds("ﬁeld of recreational mathematics", ["field of recreational mathematics"])  # a ligature folded


def test_table_sets_are_checked_and_scored_beside_the_baseline(pa, tmp_path):
    from assistant.evaluation.questions import QuestionSetError
    from assistant.evaluation.tables import evaluate_tables, is_table_set

    lines = [ln for ln in (SETS / "tables_dev.jsonl").read_text().splitlines() if '"corpus": "bundled"' in ln][:1]
    one = tmp_path / "one.jsonl"
    one.write_text("\n".join(lines) + "\n")
    assert is_table_set(one) and not is_table_set(Path(__file__).parent.parent / "examples" / "dev_questions.jsonl")
    report = evaluate_tables(pa, one)
    mine, naive = (s.scores() for s in report.systems)
    assert mine["cells"] == naive["cells"] == 16
    assert naive["not_stated_right"] == 0.0  # the baseline never says "not stated"
    assert 0 <= mine["cells_right"] <= 1 and mine["not_stated_right"] is not None
    assert "cells right" in report.table() and "nearest passage" in report.table()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "t", "aspects": ["A?", "B?"], "rows": [{"paper": "x", "cells": [{"aspect": "A?"}]}]}\n')
    with pytest.raises(QuestionSetError, match="one cell per aspect"):
        evaluate_tables(pa, bad)
    missing = tmp_path / "missing.jsonl"
    missing.write_text(
        '{"id": "t", "aspects": ["A?"], "rows": [{"paper": "No such paper", "cells": [{"aspect": "A?", "gold": []}]}]}\n'
    )
    with pytest.raises(QuestionSetError, match="'No such paper' is not in the collection"):
        evaluate_tables(pa, missing)


def test_the_table_tab_makes_a_table_from_a_filter_and_explains_what_is_missing(empty_pa, small_papers):
    from ui.shared import Shared
    from ui.table_tab import TableChoice, TableTab

    empty_pa.add_papers(small_papers[:2])
    tab = TableTab(Shared(empty_pa))
    html, files = tab.make(TableChoice(aspects="What data?", year_from=2024))
    assert "Sparse Mixture of Adapters" in html and "Graph Transformers" not in html and len(files) == 2
    assert Path(files[0]).read_text(encoding="utf-8").startswith("id,key,title,year,What data?")
    assert "at least one aspect" in tab.make(TableChoice(aspects="  ", papers=["p1"]))[0]
    assert "Choose some papers" in tab.make(TableChoice(aspects="What data?"))[0]
    empty_boxes = TableChoice(aspects="What data?", papers=[], year_from=0, year_to=0, tag="")
    assert "Choose some papers" in tab.make(empty_boxes)[0]
    assert "No paper passes these filters" in tab.make(TableChoice(aspects="What data?", year_from=2030))[0]


def test_the_table_tabs_button_hands_each_box_to_its_field(empty_pa, small_papers):
    import gradio as gr

    from ui.shared import Shared
    from ui.table_tab import TableTab

    empty_pa.add_papers(small_papers[:2])
    tab = TableTab(Shared(empty_pa))
    with gr.Blocks() as demo:
        v = tab.build()
        session, mine = gr.State(None), gr.State(None)
        tab.wire(v, session, mine)
    (handler,) = [f.fn for f in demo.fns.values() if f.outputs == [v.table, v.downloads]]
    boxes = {v.papers: [], v.query: "", v.k: 5, v.aspects: "What data?", v.tag: "", session: None, mine: None}
    html, files = handler({**boxes, v.year_from: 2024, v.year_to: None}, None)
    assert "Sparse Mixture of Adapters" in html and "Graph Transformers" not in html and len(files) == 2
    html, _ = handler({**boxes, v.year_from: None, v.year_to: 2023}, None)
    assert "Sparse Mixture of Adapters" not in html and "Graph Transformers" in html
    assert (
        "No paper passes these filters"
        in handler({**boxes, v.year_from: None, v.year_to: None, v.tag: "nope"}, None)[0]
    )
