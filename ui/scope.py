"""'Ask only about…': the papers, years, authors, venues and tags answers may draw on."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from assistant.index.session import SessionPapers
from ui.shared import Shared, as_int


@dataclass(frozen=True)
class ScopeChoice:
    """What a visitor chose under 'Ask only about…' (empty: the whole collection)."""

    selected: list[str] | None = None
    year_from: float | None = None
    year_to: float | None = None
    author: str = ""
    venue: str = ""
    tag: str = ""


@dataclass
class ScopeInputs:
    papers: gr.Dropdown
    year_from: gr.Number
    year_to: gr.Number
    author: gr.Textbox
    venue: gr.Textbox
    tag: gr.Textbox
    meta_row: gr.Column

    def components(self) -> list:
        return [self.papers, self.year_from, self.year_to, self.author, self.venue, self.tag]

    def kwargs(self) -> dict[str, gr.Component]:
        """The inputs as keyword arguments of a handler taking `**choice` (ScopeChoice's fields)."""
        names = ["selected", "year_from", "year_to", "author", "venue", "tag"]
        return dict(zip(names, self.components()))


class Scope:
    def __init__(self, shared: Shared):
        self.shared = shared

    def build(self) -> ScopeInputs:
        with gr.Accordion("Ask only about…", open=False):
            papers = gr.Dropdown(
                choices=paper_choices(self.shared),
                multiselect=True,
                value=[],
                label="These papers",
                info="Empty = the whole collection.",
            )
            with gr.Column(visible=has_metadata(self.shared)) as meta_row:
                with gr.Row():
                    year_from = gr.Number(label="Year from", precision=0)
                    year_to = gr.Number(label="Year to", precision=0)
                    author = gr.Textbox(label="Author", placeholder="part of a name")
                with gr.Row():
                    venue = gr.Textbox(label="Venue", placeholder="journal or proceedings")
                    tag = gr.Textbox(label="Tag or collection", placeholder="from your library")
        return ScopeInputs(
            papers=papers, year_from=year_from, year_to=year_to, author=author, venue=venue, tag=tag, meta_row=meta_row
        )

    def ids(self, choice: ScopeChoice, mine: SessionPapers | None = None) -> list[str] | None:
        """The paper ids answers may use, or None for the whole collection."""
        view = self.shared.view(None, mine)
        author, venue, tag = ((x or "").strip() for x in (choice.author, choice.venue, choice.tag))
        filtered = choice.year_from not in (None, "") or choice.year_to not in (None, "") or author or venue or tag
        if not choice.selected and not filtered:
            return None
        ids = set(choice.selected) if choice.selected else {p.id for p in view.papers}
        if filtered:
            ids &= set(
                view.select_ids(
                    year_from=as_int(choice.year_from),
                    year_to=as_int(choice.year_to),
                    author=author or None,
                    venue=venue or None,
                    tag=tag or None,
                )
            )
        return sorted(ids)

    def note(self, choice: ScopeChoice, mine: SessionPapers | None = None) -> str:
        ids = self.ids(choice, mine)
        total = len(self.shared.view(None, mine).papers)
        if ids is None:
            return f"Answers draw on **all {total} papers**."
        if not ids:
            return "⚠️ **No paper matches the current scope**: change it under *Ask only about…*."
        return f"Answers draw on **{len(ids)} of {total} papers** (set under *Ask only about…*)."

    def note_event(self, mine: SessionPapers | None = None, **choice) -> str:
        """`note` as an event handler: the scope's inputs arrive as keyword arguments."""
        return self.note(ScopeChoice(**choice), mine)


def paper_choices(shared: Shared, mine: SessionPapers | None = None) -> list[tuple[str, str]]:
    return [(p.title, p.id) for p in sorted(shared.view(None, mine).papers, key=lambda p: p.title.lower())]


def has_metadata(shared: Shared, mine: SessionPapers | None = None) -> bool:
    return any(p.year or p.authors or p.venue or p.tags or p.collections for p in shared.view(None, mine).papers)
