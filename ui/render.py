"""Pure rendering for the web UI: answers, sources, papers and ingest reports as Markdown/HTML.

Paper text is data, never markup.  Everything that comes from a papers file or a user
(titles, abstracts, authors, ids, questions, rejection reasons) is escaped here, and only
absolute http(s) URLs become links.  Nothing here imports Gradio, so it is unit-tested
on its own (tests/test_ui_render.py).
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Iterable
from urllib.parse import urlparse

from assistant import Answer, Citation, Hit, IngestReport, Paper

REL = 'target="_blank" rel="noopener noreferrer nofollow"'


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


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

def md_text(text: str) -> str:
    """Plain text as Markdown that renders exactly as the text (no markup, no HTML, no links)."""
    text = html.escape(text, quote=False)
    text = re.sub(r"([\\`*_\[\]|~])", r"\\\1", text)
    text = re.sub(r"(?m)^(\s*)([#+-])", r"\1\\\2", text)  # headings and list bullets at a line start
    return re.sub(r"(?m)^(\s*\d+)([.)])", r"\1\\\2", text)  # numbered-list markers


# One pass over answer text, left to right, so an escape never applies to another's output.
_ANSWER_TOKEN = re.compile(r"\\\\|\\?[<>&]|\\[\[\]]|\[(\d{1,3})\]|[\[\]]")


def answer_markdown(text: str, turn: int, numbers: Iterable[int] | None = None) -> str:
    """Answer text (Markdown from the library or an LLM) made safe to render, with each [n]
    marker a link to its source in the sources panel.

    Raw HTML is shown as text (`<`, `>`, `&` escaped), brackets that are not citation markers
    cannot form links or images, and the library's own escapes (`\\*`, `\\[`) are kept.
    `numbers`: the citation numbers that exist (None while streaming: every marker links).
    """
    known = None if numbers is None else set(numbers)

    def sub(m: re.Match) -> str:
        tok = m.group(0)
        if tok == "\\\\" or tok in ("\\[", "\\]"):
            return tok
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
            line = f"{c.number}. [{md_text(c.paper.title)}](#{source_anchor(turn, c.number)})"
            links = [f"[{label}]({u})" for label, u in (("paper", safe_url(c.paper.url)), ("code", safe_url(c.paper.code_url))) if u]
            refs.append(line + (" · " + " · ".join(links) if links else ""))
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
        out += [esc(text[pos:s]), "<mark>", esc(text[s:e]), "</mark>"]
        pos = e
    out.append(esc(text[pos:]))
    return "".join(out)


def _quote_spans(c: Citation) -> list[tuple[int, int]]:
    if c.spans:
        return list(c.spans)
    i = c.paper.abstract.find(c.quote) if c.quote else -1
    return [(i, i + len(c.quote))] if i >= 0 else []


def paper_links(p: Paper) -> str:
    links = [f'<a href="{esc(u)}" {REL}>{label}</a>'
             for label, u in (("paper", safe_url(p.url)), ("code", safe_url(p.code_url))) if u]
    return f'<span class="pa-links">{" · ".join(links)}</span>' if links else ""


def paper_meta(p: Paper) -> str:
    bits = []
    if p.authors:
        shown = ", ".join(p.authors[:6]) + (" et al." if len(p.authors) > 6 else "")
        bits.append(esc(shown))
    if p.year:
        bits.append(esc(p.year))
    return " · ".join(bits)


def _citation_html(turn: int, c: Citation) -> str:
    p = c.paper
    meta = paper_meta(p)
    return (f'<article class="pa-source" id="{source_anchor(turn, c.number)}">'
            f'<div class="pa-head"><span class="pa-num">[{c.number}]</span> <span class="pa-title">{esc(p.title)}</span></div>'
            + (f'<div class="pa-meta">{meta}</div>' if meta else "")
            + paper_links(p)
            + f'<p class="pa-abstract">{highlight(p.abstract, _quote_spans(c))}</p></article>')


def _turn_body(turn: int, ans: Answer) -> str:
    if not ans.covered:
        weak = "".join(f"<li>{esc(h.paper.title)}</li>" for h in ans.hits[:3])
        return ('<div class="pa-notcovered"><strong>Not covered by the collection.</strong> No paper matches this '
                "question closely enough to answer from, so nothing is cited."
                + (f"<div class='pa-weak'>Closest papers (weak matches, not evidence):<ul>{weak}</ul></div>" if weak else "")
                + "</div>")
    return "".join(_citation_html(turn, c) for c in ans.citations)


SOURCES_PLACEHOLDER = ('<div class="pa-empty">The sources of each answer appear here: every cited paper, '
                       "the quoted sentences highlighted in its abstract, and its links.</div>")


def sources_html(turns: list[tuple[int, Answer]]) -> str:
    """Every answered turn's sources, newest first and open; earlier turns folded."""
    if not turns:
        return SOURCES_PLACEHOLDER
    parts = []
    for i, (turn, ans) in enumerate(reversed(turns)):
        q = ans.question if len(ans.question) <= 90 else ans.question[:87] + "…"
        parts.append(f'<details class="pa-turn" id="turn-{turn}"{" open" if i == 0 else ""}>'
                     f"<summary>Q{turn}: {esc(q)}</summary>{_turn_body(turn, ans)}</details>")
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


def paper_detail_html(p: Paper) -> str:
    meta = paper_meta(p)
    return (f'<div class="pa-detail"><h3 class="pa-title">{esc(p.title)}</h3>'
            + (f'<div class="pa-meta">{meta}</div>' if meta else "")
            + paper_links(p)
            + f'<p class="pa-abstract">{esc(p.abstract)}</p><div class="pa-id">id: <code>{esc(p.id)}</code></div></div>')


PAPER_PLACEHOLDER = '<div class="pa-empty">Click a paper in the table to read its abstract and see the papers most similar to it.</div>'


# --- ingest reports -----------------------------------------------------------------------------

def _id_list(label: str, ids: list[str], titles: dict[str, str], limit: int = 30) -> str:
    if not ids:
        return ""
    items = "".join(f"<li>{esc(titles.get(i, i))}</li>" for i in ids[:limit])
    more = f"<li>… and {len(ids) - limit} more</li>" if len(ids) > limit else ""
    unfold = " open" if len(ids) <= 10 else ""
    return f"<details{unfold}><summary>{label} ({len(ids)})</summary><ul>{items}{more}</ul></details>"


def ingest_report_html(report: IngestReport, titles: dict[str, str], total: int) -> str:
    """What an upload did: counts, then the added/updated papers and each rejected record's reason."""
    ok = report.added or report.updated
    head = (f'<div class="pa-report {"pa-ok" if ok else "pa-warn"}"><strong>{esc(report.source)}</strong>: '
            f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
            f"{len(report.rejected)} rejected · {report.passages_embedded} passages embedded in "
            f"{report.seconds:.1f} s · the collection now has {total} papers.</div>")
    rejected = ""
    if report.rejected:
        rows = "".join(f"<tr><td>{esc(r.record)}</td><td>{esc(r.reason)}</td></tr>" for r in report.rejected[:200])
        more = (f"<tr><td colspan=2>… and {len(report.rejected) - 200} more</td></tr>"
                if len(report.rejected) > 200 else "")
        rejected = (f"<details open><summary>Rejected ({len(report.rejected)})</summary>"
                    f'<table class="pa-rejected"><tr><th>where</th><th>reason</th></tr>{rows}{more}</table></details>')
    return (head + _id_list("Added", report.added, titles) + _id_list("Updated", report.updated, titles)
            + rejected)


def error_html(message: str) -> str:
    return f'<div class="pa-report pa-error">⚠️ {esc(message)}</div>'


# --- BibTeX -------------------------------------------------------------------------------------

_BIB_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "$": r"\$",
                "#": r"\#", "_": r"\_", "^": r"\^{}", "~": r"\~{}"}


def bib_escape(text: str) -> str:
    return "".join(_BIB_SPECIAL.get(ch, ch) for ch in text)


def _ascii_word(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower())


def _bib_key(p: Paper, taken: set[str]) -> str:
    surname = _ascii_word(p.authors[0].split()[-1]) if p.authors and p.authors[0].split() else ""
    words = [w for w in (_ascii_word(w) for w in p.title.split()) if len(w) > 3 and w not in ("with", "from", "towards")]
    base = (surname or "paper") + (str(p.year) if p.year else "") + (words[0] if words else "")
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}{chr(ord('a') + n - 2) if n <= 27 else n}"
    taken.add(key)
    return key


def bibtex(citations: list[Citation]) -> str:
    """@misc entries for the cited papers: title always; authors, year, URL and code link when known."""
    taken: set[str] = set()
    entries = []
    for c in citations:
        p = c.paper
        fields = [("title", "{" + bib_escape(p.title) + "}")]
        if p.authors:
            fields.append(("author", " and ".join(bib_escape(a) for a in p.authors)))
        if p.year:
            fields.append(("year", str(p.year)))
        if safe_url(p.url):
            fields.append(("url", p.url))
        if safe_url(p.code_url):
            fields.append(("note", "Code: \\url{" + p.code_url + "}"))
        body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields)
        entries.append(f"@misc{{{_bib_key(p, taken)},\n{body}\n}}")
    return "\n\n".join(entries) + ("\n" if entries else "")
