"""The web UI's pure rendering: escaping, citation links, highlighted sources, exports."""

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant import Answer, Citation, Hit, IngestReport, Paper, Rejection
from assistant.answering.prompts import NOT_COVERED
from ui import render

EVIL = '<script>alert(1)</script> <img src=x onerror="alert(2)"> & [x](javascript:alert(3))'


def paper(**kw):
    base = dict(
        id="p1",
        title="Sparse Adapters",
        abstract="First sentence here. We propose sparse adapters. Last one.",
        authors=("Ada Lovelace", "Alan Turing"),
        year=2024,
        url="https://example.org/p1",
        code_url="https://github.com/example/adapters",
    )
    base.update(kw)
    return Paper(**base)


def answer(p=None, covered=True, text=None):
    p = p or paper()
    cit = Citation(1, p, "We propose sparse adapters.", spans=[(21, 49)])
    return Answer(
        question="What is proposed?",
        text=text or "From the abstracts:\n\n- We propose sparse adapters. [1]",
        citations=[cit] if covered else [],
        covered=covered,
        hits=[Hit(p, "x", 1.0)],
    )


def test_safe_url_keeps_only_absolute_http_urls():
    assert render.safe_url("https://github.com/a/b") == "https://github.com/a/b"
    assert render.safe_url(" http://x.org/p?q=1 ") == "http://x.org/p?q=1"
    for bad in [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<script>",
        "//evil.org/x",
        "/rel",
        'https://x.org/"onmouseover=alert(1)',
        "https://x.org/<script>",
        "file:///etc/passwd",
        "",
        None,
        3,
        "http://",
        "https://x.org/a b",
    ]:
        assert render.safe_url(bad) == "", bad


def test_citation_markers_become_links_to_their_sources():
    md = render.answer_markdown("A claim. [1] Another. [2]", turn=3, numbers=[1, 2])
    assert "[\\[1\\]](#src-3-1)" in md and "[\\[2\\]](#src-3-2)" in md
    # a marker with no citation behind it stays text, and while streaming every marker links
    assert render.answer_markdown("Odd. [7]", turn=1, numbers=[1]) == "Odd. \\[7\\]"
    assert "(#src-1-7)" in render.answer_markdown("Odd. [7]", turn=1)


def test_answer_markdown_shows_html_and_link_syntax_as_text():
    md = render.answer_markdown(EVIL + " [1]", turn=1, numbers=[1])
    assert "<" not in md.replace("](#src", "") and ">" not in md
    assert "&lt;script&gt;" in md and "&lt;img src=x onerror=" in md and "&amp;" in md
    assert "[x](javascript" not in md and "\\[x\\](javascript" in md  # cannot form a link
    assert "![" not in render.answer_markdown("![i](https://x.org/i.png)", 1)


def test_answer_markdown_keeps_the_librarys_own_escapes():
    # the library escapes titles as \< \> \* \[ ; those must still show as the literal characters
    md = render.answer_markdown("**A \\<b\\> title \\[v2\\] \\*x\\*** [1]", 1, [1])
    assert md.startswith("**A &lt;b&gt; title \\[v2\\] \\*x\\***")
    assert render.answer_markdown("a \\\\ b", 1) == "a \\\\ b"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>&[]()\\!*_`'\"=:/ ab1\n")), max_size=60))
def test_no_raw_html_survives_answer_markdown(text):
    md = render.answer_markdown(text, 1, [1])
    assert "<" not in md and ">" not in md
    assert not re.search(r"(?<!\\)&(?!lt;|gt;|amp;)", md)  # every & is part of an escape


def test_md_text_renders_literally():
    md = render.md_text("# Title *with* _marks_ [and](links) <b>tags</b> & 1. lists")
    assert md.startswith("\\#") and "\\*with\\*" in md and "\\_marks\\_" in md and "\\[and\\](links)" in md
    assert "&lt;b&gt;" in md and "&amp;" in md
    assert render.md_text("2024. A year") == "2024\\. A year"


def test_answer_message_lists_references_with_safe_links():
    p = paper(url="javascript:alert(1)")
    msg = render.answer_message(answer(p), turn=2)
    assert "[\\[1\\]](#src-2-1)" in msg
    refs = msg.split("**References**")[1]
    assert "1. Sparse Adapters · [source](#src-2-1)" in refs  # the title is text, never a link's text
    assert "[code](https://github.com/example/adapters)" in refs and "javascript" not in refs


def test_an_llm_answer_says_which_of_its_sentences_were_not_shown():
    from assistant.types import Dropped, Verification

    ans = answer(text="We propose sparse adapters [1].")
    ans.backend, ans.verification = "local", Verification(2, 1, [Dropped(f"It beats {EVIL} by 40%", "names 40%")])
    msg = render.answer_message(ans, 1)
    note = msg.split("**References**")[0].strip().split("\n\n")[-1]
    assert note.startswith("*Note: 1 of 2 sentences verified; not shown:") and "names 40%" in note
    assert "<script>" not in msg and "[x](javascript" not in msg  # shown as text, not markup
    ans.verification.dropped = []
    assert "Note:" not in render.answer_message(ans, 1)


def test_not_covered_answers_are_quoted_and_cite_nothing():
    ans = answer(covered=False, text=f"{NOT_COVERED} No paper matches.\n\nClosest papers: *A*")
    msg = render.answer_message(ans, 1)
    assert msg.startswith("> " + NOT_COVERED) and "\n> \n> Closest" in msg
    assert "References" not in msg
    html_ = render.sources_html([(1, ans)])
    assert (
        "The collection does not cover this question." in html_
        and "Sparse Adapters" in html_
        and "pa-source" not in html_
    )


def test_highlight_marks_the_spans_and_escapes_everything():
    text = "a <b> c & d"
    assert render.highlight(text, [(2, 5)]) == "a <mark>&lt;b&gt;</mark> c &amp; d"
    # overlapping, unsorted and out-of-range spans are merged and clipped
    assert render.highlight("abcdef", [(3, 9), (0, 2), (1, 4)]) == "<mark>ab</mark><mark>cd</mark><mark>ef</mark>"
    assert render.highlight("abc", []) == "abc"


def test_sources_panel_shows_title_highlighted_quote_and_links():
    p = paper(title=EVIL, abstract="Intro. " + EVIL + " End.", authors=("Eve <b>",), url="javascript:alert(1)")
    cit = Citation(1, p, EVIL, spans=[(7, 7 + len(EVIL))])
    ans = Answer("q <i>", "x [1]", [cit], True, [])
    out = render.sources_html([(1, ans)])
    assert 'id="src-1-1"' in out
    assert "<script" not in out and "<img" not in out and "<b>" not in out and "<i>" not in out
    assert html.escape(EVIL) in out
    assert f"<mark>{html.escape(EVIL)}</mark>" in out
    assert re.findall(r'href="([^"]*)"', out) == [
        "https://github.com/example/adapters"
    ]  # the javascript: URL is not a link
    assert 'rel="noopener noreferrer nofollow"' in out


def test_sources_panel_falls_back_to_finding_the_quote():
    p = paper()
    cit = Citation(1, p, "Last one.")
    out = render.sources_html([(1, Answer("q", "t [1]", [cit], True, []))])
    assert "<mark>Last one.</mark>" in out


def test_sources_panel_keeps_earlier_turns_folded():
    out = render.sources_html([(1, answer()), (2, answer())])
    assert out.index('id="turn-2" open') < out.index('id="turn-1"')
    assert 'id="turn-1" open' not in out
    assert render.sources_html([]) == render.SOURCES_PLACEHOLDER


def test_paper_table_shows_metadata_columns_only_when_present():
    bare = Paper("b", "Zeta <paper>", "abs")
    headers, rows = render.paper_table([bare, paper(code_url="javascript:x")])
    assert headers == ["Title", "Authors", "Year", "Code", "ID"]
    assert rows[0] == ["Sparse Adapters", "Ada Lovelace, Alan Turing", 2024, "", "p1"]
    assert rows[1] == ["Zeta <paper>", "", "", "", "b"]  # the table renders cells as text (browser-tested)
    headers, rows = render.paper_table([bare])
    assert headers == ["Title", "Code", "ID"] and rows == [["Zeta <paper>", "", "b"]]
    assert render.column_widths(["Title", "Code", "ID"]) == ["67%", "21%", "13%"]


def test_paper_detail_is_escaped():
    out = render.paper_detail_html(paper(title=EVIL, abstract=EVIL, id="<x>"))
    assert "<script" not in out and "<img" not in out and "&lt;x&gt;" in out


def test_ingest_report_lists_added_and_rejected_with_reasons():
    r = IngestReport(
        source="mine<1>.jsonl",
        added=["a", "b"],
        updated=["c"],
        unchanged=["d"],
        rejected=[Rejection("line 3", "missing abstract"), Rejection("line 4", "<b>bad</b>")],
        passages_embedded=5,
        seconds=1.25,
    )
    out = render.ingest_report_html(r, {"a": "Paper <A>", "b": "Paper B"}, total=90)
    assert "2 added, 1 updated, 1 unchanged, 2 rejected" in out and "90 papers" in out
    assert "Paper &lt;A&gt;" in out and "<li>c</li>" in out
    assert "<td>line 3</td><td>missing abstract</td>" in out and "&lt;b&gt;bad&lt;/b&gt;" in out
    assert "mine&lt;1&gt;.jsonl" in out and "pa-ok" in out
    assert "pa-warn" in render.ingest_report_html(IngestReport("x", unchanged=["d"]), {}, 1)


def test_export_markdown_has_question_answer_and_references():
    out = render.export_markdown(answer())
    assert out.startswith("**Question:** What is proposed?")
    assert "We propose sparse adapters. [1]" in out
    assert "1. **Sparse Adapters** — <https://example.org/p1> (code: <https://github.com/example/adapters>)" in out
