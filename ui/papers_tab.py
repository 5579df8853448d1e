"""The Papers tab: the searchable table of the collection, a paper's record and its most
similar papers, "ask about this paper"; and the header and lists that show the collection."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from assistant import PaperNotFound
from assistant.index.session import SessionPapers
from ui import render
from ui.chat import BROWSE_CONCURRENCY
from ui.scope import ScopeInputs, has_metadata, paper_choices
from ui.shared import Shared


@dataclass
class PapersView:
    table: gr.Dataframe
    detail: gr.HTML
    similar: gr.Dataframe
    paper_id: gr.State
    ask: gr.Button
    add: gr.Button
    add_table: gr.Button


class PapersTab:
    def __init__(self, shared: Shared):
        self.shared = shared

    def header(self, mine: SessionPapers | None = None) -> str:
        papers = self.shared.view(None, mine).papers
        if not papers:
            add = "in the **Add papers** tab, or " if self.shared.settings.allow_uploads else ""
            return (
                "## paper-assistant\nYour library is empty. Add papers "
                f"{add}from a terminal: `paper-assistant sync FOLDER` keeps a folder of PDFs and bibliography "
                "files (or a `zotero.sqlite`, a `.bib`) in the library."
            )
        own = f" (**{len(mine)}** of them added by you, visible only to you)" if mine else ""
        where = "a page of a paper's PDF or its abstract" if any(p.full_text for p in papers) else "a paper's abstract"
        return (
            f"## paper-assistant\nAsk questions about **{len(papers)} paper{'s' * (len(papers) != 1)}**{own}. "
            "Every claim in an answer is "
            f"cited to {where} (click a [n] to see the passage), or you are told the library does not cover it."
        )

    def build(self) -> PapersView:
        with gr.Row():
            with gr.Column(scale=3):
                headers, rows = render.paper_table(self.shared.pa.papers)
                table = gr.Dataframe(
                    value=rows,
                    headers=headers,
                    datatype=["str"] * len(headers),
                    column_widths=render.column_widths(headers),
                    interactive=False,
                    show_search="search",
                    max_height=640,
                    wrap=True,
                    elem_id="pa-papers",
                )
            with gr.Column(scale=2):
                with gr.Row():
                    ask = gr.Button("Ask about this paper", size="sm", interactive=False)
                    add = gr.Button("Add to 'Ask only about'", size="sm", variant="secondary", interactive=False)
                    add_table = gr.Button(
                        "Add to table", size="sm", variant="secondary", interactive=False, elem_id="pa-add-table"
                    )
                detail = gr.HTML(render.PAPER_PLACEHOLDER, elem_id="pa-paper", max_height=420)
                gr.Markdown("**Most similar papers**")
                similar = gr.Dataframe(
                    headers=["Title", "Similarity", "ID"],
                    datatype=["str", "number", "str"],
                    column_widths=["68%", "14%", "18%"],
                    interactive=False,
                    wrap=True,
                    elem_id="pa-similar",
                )
        return PapersView(table, detail, similar, gr.State(""), ask, add, add_table)

    def wire(self, v: PapersView, mine: gr.State, scope: ScopeInputs, tabs: gr.Tabs, table_papers=None) -> None:
        browse = dict(concurrency_id="browse", concurrency_limit=BROWSE_CONCURRENCY, api_visibility="private")
        shown = [v.detail, v.similar, v.paper_id, v.ask, v.add, v.add_table]
        v.table.select(self.open_paper, [mine], shown, **browse)
        v.similar.select(self.open_paper, [mine], shown, **browse)
        v.ask.click(self.ask_about, [v.paper_id], [scope.papers, tabs], queue=False, api_visibility="private")
        v.add.click(
            self.add_to_scope, [v.paper_id, scope.papers], [scope.papers], queue=False, api_visibility="private"
        )
        if table_papers is not None:  # the Table tab's rows
            v.add_table.click(
                self.add_to_table,
                [v.paper_id, table_papers, mine],
                [table_papers],
                queue=False,
                api_visibility="private",
            )

    def collection_outputs(self, mine: SessionPapers | None = None) -> tuple:
        """Everything that shows the collection, refreshed after it changes: the header, the
        table, the scope's paper list and whether the scope offers metadata filters."""
        headers, rows = render.paper_table(self.shared.view(None, mine).papers)
        return (
            self.header(mine),
            gr.Dataframe(
                value=rows,
                headers=headers,
                datatype=["str"] * len(headers),
                column_widths=render.column_widths(headers),
            ),
            gr.Dropdown(choices=paper_choices(self.shared, mine)),
            gr.Column(visible=has_metadata(self.shared, mine)),
        )

    def open_paper(self, mine: SessionPapers | None, evt: gr.SelectData) -> tuple:
        row = evt.row_value or []
        pid = str(row[-1]) if row else ""
        view = self.shared.view(None, mine)
        try:
            paper = view.paper(pid)
        except PaperNotFound:
            off = gr.Button(interactive=False)
            return render.PAPER_PLACEHOLDER, [], "", off, off, off
        similar = render.similar_rows(view.similar(pid, k=5))
        return (
            render.paper_detail_html(paper, self.shared.pdf_link(paper)),
            similar,
            pid,
            gr.Button(interactive=True),
            gr.Button(interactive=True),
            gr.Button(interactive=True),
        )

    def ask_about(self, pid: str) -> tuple:
        return (gr.Dropdown(value=[pid] if pid else []), gr.Tabs(selected="chat"))

    def add_to_table(self, pid: str, selected, mine: SessionPapers | None = None) -> gr.Dropdown:
        """The Table tab's rows with this paper added (its choices as the collection is now: papers
        added since the page opened are offered too)."""
        selected = list(selected or [])
        if pid and pid not in selected:
            selected.append(pid)
        return gr.Dropdown(choices=paper_choices(self.shared, mine), value=selected)

    def add_to_scope(self, pid: str, selected) -> gr.Dropdown:
        selected = list(selected or [])
        if pid and pid not in selected:
            selected.append(pid)
        return gr.Dropdown(value=selected)
