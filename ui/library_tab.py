"""The Library tab: the sources the collection mirrors (`paper-assistant sync`, `serve --watch`),
each with its papers, last sync, what that sync changed and the files it could not read.
Refreshed every few seconds while the page is open (a watched folder changes on its own)."""

from __future__ import annotations

import html

import gradio as gr

from ui.shared import Shared

REFRESH_SECONDS = 5.0
FAILURES_SHOWN = 10

EMPTY = (
    '<div class="pa-empty">No source is synced yet. From a terminal: <code>paper-assistant sync FOLDER</code> '
    "(PDFs and bibliography files), <code>paper-assistant sync ~/Zotero/zotero.sqlite</code> or "
    "<code>paper-assistant sync refs.bib</code>; <code>serve --watch SOURCE</code> keeps one synced while "
    "the app runs.</div>"
)


class LibraryTab:
    def __init__(self, shared: Shared):
        self.shared = shared

    def build(self) -> gr.HTML:
        panel = gr.HTML(self.render(), elem_id="pa-library")
        timer = gr.Timer(REFRESH_SECONDS)
        timer.tick(self.render, None, panel, queue=False, api_visibility="private", show_progress="hidden")
        return panel

    def render(self) -> str:
        """The sources as an HTML table, every value escaped."""
        sources = self.shared.pa.sources()
        if not sources:
            return EMPTY
        rows = []
        for s in sources:
            d = s.to_dict()
            changes = d["last_changes"]
            rows.append(
                "<tr>"
                f"<td><code>{html.escape(s.path)}</code></td><td>{html.escape(s.kind)}</td><td>{s.papers}</td>"
                f"<td>{html.escape(d['last_sync'] or 'never')}</td>"
                f"<td>+{changes['added']} ~{changes['updated']} -{changes['removed']}</td>"
                f"<td>{s.failures}</td></tr>"
            )
        head = "<tr><th>Source</th><th>Kind</th><th>Papers</th><th>Last sync</th><th>Changes</th><th>Failures</th></tr>"
        out = [f'<table class="pa-rejected" id="pa-sources-table">{head}{"".join(rows)}</table>']
        failures = [(s.path, f) for s in sources for f in s.last_report.get("failures", [])][:FAILURES_SHOWN]
        if failures:
            items = "".join(
                f"<li><code>{html.escape(str(where))}</code> ({html.escape(src)}): {html.escape(str(why))}</li>"
                for src, (where, why) in failures
            )
            out.append(f'<div class="pa-report pa-error"><b>Could not be read</b><ul>{items}</ul></div>')
        return "".join(out)
