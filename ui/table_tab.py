"""The Table tab: pick papers (by name, a search, or "Add to table" in the Papers tab), type the
aspects, get a comparison table whose cells show their quote on hover and on click, and
download it as CSV or Markdown."""

from __future__ import annotations

import html
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from assistant import Table, TableError
from assistant.index.session import SessionPapers
from assistant.tables.export import NOT_STATED, where
from ui.chat import ANSWER_CONCURRENCY
from ui.scope import paper_choices
from ui.sessions import SessionSettings, client_key
from ui.shared import Shared, as_int

PLACEHOLDER = (
    '<div class="pa-empty">Choose papers (or type a search), write one aspect per line '
    '("What training data?", "What loss?"), then <b>Make table</b>. Each cell quotes its paper: '
    "hover over it, or click it, to see the quote and where it is.</div>"
)


@dataclass
class TableChoice:
    """What the tab was given: the papers (or a search's top k) as rows, the filters, the aspects."""

    aspects: str = ""
    papers: list[str] | None = None
    query: str = ""
    k: Any = 5
    year_from: Any = None
    year_to: Any = None
    tag: str = ""


@dataclass
class TableView:
    papers: gr.Dropdown
    query: gr.Textbox
    k: gr.Number
    year_from: gr.Number
    year_to: gr.Number
    tag: gr.Textbox
    aspects: gr.Textbox
    make: gr.Button
    table: gr.HTML
    downloads: gr.File

    def inputs(self) -> set:
        """The components a TableChoice is read from (Gradio hands their values over as one dict)."""
        return {self.aspects, self.papers, self.query, self.k, self.year_from, self.year_to, self.tag}

    def choice(self, values: dict) -> TableChoice:
        """The TableChoice in the values of an event whose inputs include `inputs()`."""
        return TableChoice(
            aspects=values[self.aspects],
            papers=values[self.papers],
            query=values[self.query],
            k=values[self.k],
            year_from=values[self.year_from],
            year_to=values[self.year_to],
            tag=values[self.tag],
        )


class TableTab:
    def __init__(self, shared: Shared):
        self.shared = shared

    def build(self) -> TableView:
        with gr.Row():
            with gr.Column(scale=3):
                papers = gr.Dropdown(
                    choices=paper_choices(self.shared),
                    multiselect=True,
                    value=[],
                    label="Papers (rows)",
                    info="Type to search titles; or use 'Add to table' in the Papers tab.",
                    elem_id="pa-table-papers",
                )
                with gr.Row():
                    query = gr.Textbox(
                        label="…or the top papers for a search",
                        placeholder="e.g. contrastive decoding against hallucination",
                        elem_id="pa-table-query",
                    )
                    k = gr.Number(value=5, label="Papers", precision=0, minimum=1, maximum=20)
                with gr.Row():
                    year_from = gr.Number(label="Year from", precision=0)
                    year_to = gr.Number(label="Year to", precision=0)
                    tag = gr.Textbox(label="Tag or collection", placeholder="…or every paper a filter leaves")
            with gr.Column(scale=2):
                aspects = gr.Textbox(
                    label="Aspects (columns), one per line",
                    lines=4,
                    placeholder="What training data?\nWhat loss?\nDoes it need training?",
                    elem_id="pa-table-aspects",
                )
                make = gr.Button("Make table", variant="primary", elem_id="pa-table-make")
        table = gr.HTML(PLACEHOLDER, elem_id="pa-table")
        downloads = gr.File(label="Download", file_count="multiple", interactive=False, elem_id="pa-table-files")
        return TableView(papers, query, k, year_from, year_to, tag, aspects, make, table, downloads)

    def wire(self, v: TableView, session: gr.State, mine: gr.State) -> None:
        def make(values: dict, request: gr.Request) -> tuple[str, list[str] | None]:
            return self.make(v.choice(values), values[session], values[mine], request)

        v.make.click(
            make,
            {*v.inputs(), session, mine},
            [v.table, v.downloads],
            concurrency_id="answer",
            concurrency_limit=ANSWER_CONCURRENCY,
            api_visibility="private",
        )

    def make(
        self,
        choice: TableChoice,
        session: SessionSettings | None = None,
        mine: SessionPapers | None = None,
        request: gr.Request = None,
    ) -> tuple[str, list[str] | None]:
        """The table as HTML and its CSV and Markdown files; a clear message when it cannot be made.
        The year and tag filters narrow the papers chosen or searched, or alone give the rows."""
        columns = [a.strip() for a in (choice.aspects or "").splitlines() if a.strip()]
        if not columns:
            return _message("Write at least one aspect (a question asked of every paper), one per line."), None
        # an empty number box can arrive as 0: no year is 0
        filters = {
            "year_from": as_int(choice.year_from) or None,
            "year_to": as_int(choice.year_to) or None,
            "tag": (choice.tag or "").strip() or None,
        }
        filters = {k: v for k, v in filters.items() if v is not None}
        if not choice.papers and not (choice.query or "").strip() and not filters:
            return _message("Choose some papers, type a search whose top papers become the rows, or a filter."), None
        who = client_key(request, self.shared.settings.trusted_proxies)
        view = self.shared.answering_view(session, mine, who)
        if self.shared.settings.public:
            view = view.without_llm("tables are extractive on a public deployment")
        try:
            table = view.table(
                columns, papers=choice.papers or None, query=choice.query or None, k=_k(choice.k), **filters
            )
        except (TableError, KeyError, ValueError) as e:
            return _message(self.shared.message(e)), None
        if not table.rows:
            return _message("No paper passes these filters."), None
        return table_html(table), _files(table)


def _k(value) -> int:
    try:
        return max(1, min(20, int(value or 5)))
    except (TypeError, ValueError):
        return 5


def _message(text: str) -> str:
    return f'<div class="pa-report pa-error">{html.escape(text)}</div>'


def _files(table: Table) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="pa-table-"))
    csv_path, md_path = folder / "table.csv", folder / "table.md"
    csv_path.write_text(table.to_csv(), encoding="utf-8")
    md_path.write_text(table.to_markdown(), encoding="utf-8")
    return [str(csv_path), str(md_path)]


def table_html(table: Table) -> str:
    """The table as HTML, every piece of paper text escaped: a stated cell is its text with the
    quote in its title (hover) and in a <details> (click); "not stated" is shown as such."""
    e = html.escape
    head = "".join(f"<th>{e(a)}</th>" for a in table.aspects)
    rows = []
    for row in table.rows:
        p = row.paper
        name = f"<td class='pa-table-paper'><b>{e(p.title)}</b>" + (f" ({p.year})" if p.year else "") + "</td>"
        cells = [_cell_html(c) for c in row.cells]
        rows.append("<tr>" + name + "".join(cells) + "</tr>")
    note = ""
    fell = sum(c.source == "extractive-fallback" for c in table.cells)
    if fell:
        note = f"<p class='pa-meta'>{fell} cell(s) quote the paper: the {e(table.backend)} phrase failed its check.</p>"
    return (
        f"<div class='pa-table-wrap'><table class='pa-table'><thead><tr><th>Paper</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>{note}"
    )


def _cell_html(c) -> str:
    e = html.escape
    if not c.stated:
        return f"<td class='pa-cell pa-not-stated'><i>{NOT_STATED}</i></td>"
    at = where(c)
    quote = c.quote
    hover = e(f"{quote} ({at})" if at else quote, quote=True)
    mark = " <span class='pa-meta'>(quoted)</span>" if c.source == "extractive-fallback" else ""
    return (
        f"<td class='pa-cell' title=\"{hover}\"><details><summary>{e(c.text)}{mark}</summary>"
        f"<blockquote class='pa-quote'>{e(quote)}</blockquote><div class='pa-meta'>{e(at)}</div></details></td>"
    )
