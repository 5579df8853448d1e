"""Pure rendering for the web UI: answers, sources, papers and ingest reports as Markdown/HTML.

Paper text is data, never markup.  Everything that comes from a papers file or a user
(titles, abstracts, authors, ids, questions, rejection reasons) is escaped here, and only
absolute http(s) URLs become links.  Nothing here imports Gradio, so it is unit-tested
on its own (tests/test_ui_render.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import urlparse

from assistant import Answer, Citation, Hit, IngestReport, Paper
from assistant.answering import prompts
from assistant.text import CITATION, html, md_text

REL = 'target="_blank" rel="noopener noreferrer nofollow"'


def safe_url(url: object) -> str:
    """`url` if it is an absolute http(s) URL, else "" (javascript:, data:, relative, odd characters)."""
    if not isinstance(url, str):
        return ""
    u = url.strip()
    if not u or re.search(r"[\s\"'<>`\\{}]", u):
        return ""
    try:
        parsed = urlparse(u)
    except ValueError:
        return ""
    return u if parsed.scheme.lower() in ("http", "https") and parsed.netloc else ""


def source_anchor(turn: int, number: int) -> str:
    """Element id of citation `number` of answer `turn` in the sources panel."""
    return f"src-{turn}-{number}"


# --- Markdown for the chat ----------------------------------------------------------------------

# One pass over answer text, left to right, so an escape never applies to another's output.
_ANSWER_TOKEN = re.compile(r"\\\\|\\?[<>&]|\\[\[\]]|" + CITATION.pattern + r"|[\[\]]|://|@|(?i:\bwww\.)")


def answer_markdown(text: str, turn: int, numbers: Iterable[int] | None = None) -> str:
    """Answer text (Markdown from the library or an LLM) made safe to render, with each [n]
    marker a link to its source in the sources panel.

    Raw HTML is shown as text (`<`, `>`, `&` escaped), brackets that are not citation markers
    cannot form links or images, bare URLs and addresses are not made links, and the library's
    own escapes (`\\*`, `\\[`) are kept.
    `numbers`: the citation numbers that exist (None while streaming: every marker links).
    """
    known = None if numbers is None else set(numbers)

    def sub(m: re.Match) -> str:
        tok = m.group(0)
        if tok == "\\\\" or tok in ("\\[", "\\]"):
            return tok
        if tok in ("://", "@") or tok[-1] == ".":  # bare URLs, www. names and addresses stay text, not links
            return {"://": ":\\/\\/", "@": "\\@"}.get(tok, tok[:-1] + "\\.")
        if tok[-1] in "<>&":
            return {"<": "&lt;", ">": "&gt;", "&": "&amp;"}[tok[-1]]
        if m.group(1):
            n = int(m.group(1))
            if known is None or n in known:
                return f"[\\[{n}\\]](#{source_anchor(turn, n)})"
            return f"\\[{n}\\]"
        return "\\" + tok

    return _ANSWER_TOKEN.sub(sub, text)


def answer_message(ans: Answer, turn: int) -> str:
    """A finished answer as the chat shows it: text with linked markers, then its references."""
    body = answer_markdown(ans.text, turn, [c.number for c in ans.citations])
    if not ans.covered:
        body = "> " + body.replace("\n", "\n> ")
    if ans.fallback:
        body += f"\n\n*{md_text('Note: ' + ans.fallback)}*"
    elif ans.verification and ans.verification.dropped:
        body += f"\n\n*{md_text('Note: ' + ans.verification.summary())}*"
    if ans.citations:
        refs = []
        for c in ans.citations:
            # The title is plain text, never inside a link: Gradio's chat renders the text of a link
            # as Markdown again, so a title's escaped [x](url) would become a live link there.
            links = [f"[source](#{source_anchor(turn, c.number)})"] + [
                f"[{label}]({u})"
                for label, u in (("paper", safe_url(c.paper.url)), ("code", safe_url(c.paper.code_url)))
                if u
            ]
            refs.append(f"{c.number}. {md_text(c.paper.title)} · " + " · ".join(links))
        body += "\n\n**References**\n\n" + "\n".join(refs)
    return body


def error_message(message: str) -> str:
    return f"> ⚠️ {md_text(message)}"


def export_markdown(ans: Answer) -> str:
    """The answer with its numbered reference list, for copying or downloading as a .md file."""
    return f"**Question:** {md_text(ans.question)}\n\n{ans.to_markdown()}\n"


# --- the sources panel ------------------------------------------------------------------------


def highlight(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` escaped, with the (start, end) character spans wrapped in <mark>."""
    spans = sorted((max(0, int(s)), min(len(text), int(e))) for s, e in spans)
    out, pos = [], 0
    for s, e in spans:
        s = max(s, pos)
        if e <= s:
            continue
        out += [html(text[pos:s]), "<mark>", html(text[s:e]), "</mark>"]
        pos = e
    out.append(html(text[pos:]))
    return "".join(out)


def _quote_spans(c: Citation) -> list[tuple[int, int]]:
    if c.spans:
        return list(c.spans)
    i = c.paper.abstract.find(c.quote) if c.quote else -1
    return [(i, i + len(c.quote))] if i >= 0 else []


def paper_links(p: Paper) -> str:
    links = [
        f'<a href="{html(u)}" {REL}>{label}</a>'
        for label, u in (("paper", safe_url(p.url)), ("code", safe_url(p.code_url)))
        if u
    ]
    return f'<span class="pa-links">{" · ".join(links)}</span>' if links else ""


def paper_meta(p: Paper) -> str:
    bits = []
    if p.authors:
        shown = ", ".join(p.authors[:6]) + (" et al." if len(p.authors) > 6 else "")
        bits.append(html(shown))
    if p.venue:
        bits.append(f"<em>{html(p.venue)}</em>")
    if p.year:
        bits.append(html(p.year))
    if p.tags or p.collections:
        bits.append("tags: " + html(", ".join(list(p.collections) + list(p.tags))))
    return " · ".join(bits)


def _citation_html(turn: int, c: Citation, pdf_link: Callable[[Paper], str | None] | None = None) -> str:
    p = c.paper
    meta = paper_meta(p)
    return (
        f'<article class="pa-source" id="{source_anchor(turn, c.number)}">'
        f'<div class="pa-head"><span class="pa-num">[{c.number}]</span> <span class="pa-title">{html(p.title)}</span></div>'
        + (f'<div class="pa-meta">{meta}</div>' if meta else "")
        + paper_links(p)
        + (
            _passage_html(c, pdf_link(p) if pdf_link else None)
            if c.passage is not None
            else _where_html(c, pdf_link(p) if pdf_link else None)
            + f'<p class="pa-abstract">{highlight(p.abstract, _quote_spans(c))}</p>'
            if p.abstract
            else NO_ABSTRACT_HTML
        )
        + "</article>"
    )


def _passage_html(c: Citation, link: str | None = None) -> str:
    """A quote from a PDF's body: where it is, and its passage with the quoted sentences marked."""
    return _where_html(c, link) + f'<p class="pa-abstract">{highlight(c.context, c.spans)}</p>'


def _where_html(c: Citation, link: str | None = None) -> str:
    """Where in its PDF a quote is (a link opening the PDF at that page, when the app serves it); "" for no page."""
    if c.page is None:
        return ""
    where = html(f"p. {c.page}" + (f" · {c.section}" if c.section else ""))
    if link:
        where += (
            f' · <a class="pa-pdf" href="{html(link)}#page={int(c.page)}" {REL}>open the PDF at p. {int(c.page)}</a>'
        )
    return f'<div class="pa-meta">{where}</div>'


def _turn_body(turn: int, ans: Answer, pdf_link=None) -> str:
    if not ans.covered:
        weak = "".join(f"<li>{html(h.paper.title)}</li>" for h in ans.hits[:3])
        return (
            f'<div class="pa-notcovered"><strong>{html(prompts.NOT_COVERED)}</strong> '
            f"{html(prompts.NOT_COVERED_DETAIL)}"
            + (f"<div class='pa-weak'>{html(prompts.CLOSEST_PAPERS)}<ul>{weak}</ul></div>" if weak else "")
            + "</div>"
        )
    return "".join(_citation_html(turn, c, pdf_link) for c in ans.citations)


SOURCES_PLACEHOLDER = (
    '<div class="pa-empty">The sources of each answer appear here: every cited paper, '
    "the quoted sentences highlighted in its abstract, and its links.</div>"
)


def sources_html(turns: list[tuple[int, Answer]], pdf_link: Callable[[Paper], str | None] | None = None) -> str:
    """Every answered turn's sources, newest first and open; earlier turns folded.
    `pdf_link(paper)`: where a paper's PDF opens (body quotes link to their page)."""
    if not turns:
        return SOURCES_PLACEHOLDER
    parts = []
    for i, (turn, ans) in enumerate(reversed(turns)):
        q = ans.question if len(ans.question) <= 90 else ans.question[:87] + "…"
        parts.append(
            f'<details class="pa-turn" id="turn-{turn}"{" open" if i == 0 else ""}>'
            f"<summary>Q{turn}: {html(q)}</summary>{_turn_body(turn, ans, pdf_link)}</details>"
        )
    return "".join(parts)


# --- the papers view ----------------------------------------------------------------------------


def paper_table(papers: Iterable[Paper]) -> tuple[list[str], list[list]]:
    """Headers and rows (plain-text cells, by title) of the papers table.  Authors and Year columns
    appear only when some paper has them; the last column is always the paper id."""
    papers = sorted(papers, key=lambda p: p.title.lower())
    with_authors = any(p.authors for p in papers)
    with_year = any(p.year for p in papers)
    headers = ["Title"] + (["Authors"] if with_authors else []) + (["Year"] if with_year else []) + ["Code", "ID"]
    rows = []
    for p in papers:
        row: list = [p.title]
        if with_authors:
            row.append(", ".join(p.authors[:3]) + (" et al." if len(p.authors) > 3 else ""))
        if with_year:
            row.append(p.year or "")
        code = safe_url(p.code_url)
        rows.append(row + [re.sub(r"^https?://(www\.)?", "", code), p.id])
    return headers, rows


_COLUMN_SHARE = {"Title": 52, "Authors": 16, "Year": 6, "Code": 16, "ID": 10}


def column_widths(headers: list[str]) -> list[str]:
    total = sum(_COLUMN_SHARE[h] for h in headers)
    return [f"{100 * _COLUMN_SHARE[h] / total:.0f}%" for h in headers]


def similar_rows(hits: list[Hit]) -> list[list]:
    return [[h.paper.title, round(h.score, 3), h.paper.id] for h in hits]


def paper_detail_html(p: Paper, pdf: str | None = None) -> str:
    meta = paper_meta(p)
    pages = (
        f'<div class="pa-meta">Full text indexed: {p.pages} pages'
        + (f' · <a class="pa-pdf" href="{html(pdf)}" {REL}>open the PDF</a>' if pdf else "")
        + "</div>"
        if p.pages
        else ""
    )
    return (
        f'<div class="pa-detail"><h3 class="pa-title">{html(p.title)}</h3>'
        + (f'<div class="pa-meta">{meta}</div>' if meta else "")
        + paper_links(p)
        + pages
        + (f'<p class="pa-abstract">{html(p.abstract)}</p>' if p.abstract else NO_ABSTRACT_HTML)
        + f'<div class="pa-id">id: <code>{html(p.id)}</code></div></div>'
    )


NO_ABSTRACT_HTML = (
    '<p class="pa-abstract pa-empty">No abstract in the collection: this paper is found by its '
    "title and metadata only, so it ranks low and answers cannot quote it.</p>"
)
PAPER_PLACEHOLDER = (
    '<div class="pa-empty">Click a paper in the table to read its abstract and see the papers most similar to it.</div>'
)


# --- ingest reports -----------------------------------------------------------------------------


def _id_list(label: str, ids: list[str], titles: dict[str, str], limit: int = 30) -> str:
    if not ids:
        return ""
    items = "".join(f"<li>{html(titles.get(i, i))}</li>" for i in ids[:limit])
    more = f"<li>… and {len(ids) - limit} more</li>" if len(ids) > limit else ""
    unfold = " open" if len(ids) <= 10 else ""
    return f"<details{unfold}><summary>{label} ({len(ids)})</summary><ul>{items}{more}</ul></details>"


def ingest_report_html(report: IngestReport, titles: dict[str, str], total: int, note: str = "") -> str:
    """What an upload did: counts, then the added/updated papers and each rejected record's reason."""
    ok = report.added or report.updated
    head = (
        f'<div class="pa-report {"pa-ok" if ok else "pa-warn"}"><strong>{html(report.source)}</strong>: '
        f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.rejected)} rejected · {report.passages_embedded} passages embedded in "
        f"{report.seconds:.1f} s · the collection now has {total} papers.{html(note)}</div>"
    )
    rejected = ""
    if report.rejected:
        rows = "".join(f"<tr><td>{html(r.record)}</td><td>{html(r.reason)}</td></tr>" for r in report.rejected[:200])
        more = (
            f"<tr><td colspan=2>… and {len(report.rejected) - 200} more</td></tr>" if len(report.rejected) > 200 else ""
        )
        rejected = (
            f"<details open><summary>Rejected ({len(report.rejected)})</summary>"
            f'<table class="pa-rejected"><tr><th>where</th><th>reason</th></tr>{rows}{more}</table></details>'
        )
    if report.warnings:
        rows = "".join(f"<tr><td>{html(w.record)}</td><td>{html(w.message)}</td></tr>" for w in report.warnings[:200])
        rejected += (
            f"<details><summary>Kept, with a note ({len(report.warnings)})</summary>"
            f'<table class="pa-rejected"><tr><th>where</th><th>note</th></tr>{rows}</table></details>'
        )
    return head + _id_list("Added", report.added, titles) + _id_list("Updated", report.updated, titles) + rejected


def error_html(message: str) -> str:
    return f'<div class="pa-report pa-error">⚠️ {html(message)}</div>'
