"""The web app: a Gradio Blocks UI over the library's public API (no retrieval logic here).

Tabs: Chat (streamed answers, numbered citations linked to a sources panel, scope and
export), Papers (searchable table, abstract and similar papers, "ask about this paper"),
Add papers (upload with progress and a report) and Settings (per-session backend, model,
base URL, key, passages).  Named API endpoints for `gradio_client`: /ask and /search
(and /add_papers when uploads are allowed), and the agent tools of ui/mcp.py
(/search_papers, /ask_papers, /get_paper), also served over MCP.

One PaperAssistant serves every session.  A session's own settings (including an API key
typed into the page) live in a server-side gr.State and reach the library through
`pa.using(...)`, a view sharing the index; the key is never sent back to the page,
printed or logged.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import gradio as gr

from assistant import (Answer, CollectionError, IndexError, IngestInterrupted, PaperAssistant, QuestionError,
                       Settings, StoreUnavailable)

from . import mcp, render

log = logging.getLogger(__name__)

# Concurrency: answers and searches are separate queues, so a long (LLM) answer never holds up
# a search or a paper view.  Extractive answers take ~50 ms of CPU; LLM answers mostly wait on
# the network, so a few run at once.  Writes are serialised by the library; one at a time here.
ANSWER_CONCURRENCY = 4
BROWSE_CONCURRENCY = 8
QUEUE_MAX = 256
VIEW_CACHE = 32  # distinct session settings kept ready
HISTORY_TURNS = 3  # earlier turns passed to the library for follow-up questions
STREAM_EVERY = 0.04  # while an answer streams, the chat updates at most this often (and at each line end)

# Shown in the empty chat when their paper is in the collection (a custom collection gets none).
EXAMPLES = [
    ("Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?",
     "Zero-Shot Dense Video Captioning by Jointly Optimizing Text and Moment"),
    ("Which papers reduce hallucinations of vision-language models at decoding time?",
     "RITUAL: Random Image Transformations as a Universal Anti-hallucination Lever in LVLMs"),
    ("How can CLIP be taught to count objects?", "Teaching CLIP to Count to Ten"),
    ("Is there a benchmark that tests vision-language models in many languages?",
     "MVL-SIB: A Massively Multilingual Vision-Language Benchmark for Cross-Modal Topical Matching"),
]

BACKEND_CHOICES = [
    ("Extractive: quotes the abstracts, no LLM", "extractive"),
    ("Hosted: an OpenAI-compatible API", "openai"),
    ("Local: a GGUF model with llama.cpp", "local"),
    ("Auto: hosted when a key or base URL is set", "auto"),
]

UPLOAD_TYPES = [".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".txt"]


@dataclass(frozen=True)
class SessionSettings:
    """One browser session's answer settings; empty fields keep the server's.

    Lives server-side in a gr.State.  The key is never returned to the page, and repr()
    (tracebacks, logs) shows only whether one is set.
    """

    backend: str = ""
    model: str = ""
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    top_k: int = 0

    def changes(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.changes().items() if k != "api_key"}
        return f"SessionSettings({shown}, api_key={'<set>' if self.api_key else '<none>'})"


class WebApp:
    """Event handlers: each turns UI values into library calls and library results into render.* output."""

    def __init__(self, pa: PaperAssistant):
        self.pa = pa
        self.files = Path(tempfile.mkdtemp(prefix="paper-assistant-ui-"))
        # Views by session settings: sessions with the same settings share one (and whatever LLM
        # client it holds) instead of building one per request.  Server memory only.
        self._views: OrderedDict[SessionSettings, PaperAssistant] = OrderedDict()
        self._views_lock = threading.Lock()

    # -- helpers -------------------------------------------------------------------------------
    def view(self, session: SessionSettings | None) -> PaperAssistant:
        """The assistant as this session's settings configure it (the shared one when it has none)."""
        if not session or not session.changes():
            return self.pa
        with self._views_lock:
            view = self._views.pop(session, None) or self.pa.using(**session.changes())
            self._views[session] = view
            while len(self._views) > VIEW_CACHE:
                self._views.popitem(last=False)
            return view

    def header(self) -> str:
        n = len(self.pa.papers)
        return (f"## paper-assistant\nAsk questions about **{n} papers**. Every claim in an answer is cited to a "
                "paper's abstract (click a [n] to see the passage), or you are told the collection does not cover it.")

    def has_metadata(self) -> bool:
        return any(p.year or p.authors for p in self.pa.papers)

    def paper_choices(self) -> list[tuple[str, str]]:
        return [(p.title, p.id) for p in sorted(self.pa.papers, key=lambda p: p.title.lower())]

    def examples(self) -> list[dict]:
        titles = {p.title for p in self.pa.papers}
        return [{"text": q} for q, title in EXAMPLES if title in titles]

    def scope_ids(self, selected, year_from, year_to, author) -> list[str] | None:
        """The paper ids answers may use, or None for the whole collection."""
        author = (author or "").strip()
        filtered = year_from not in (None, "") or year_to not in (None, "") or author
        if not selected and not filtered:
            return None
        ids = set(selected) if selected else {p.id for p in self.pa.papers}
        if filtered:
            ids &= set(self.pa.select_ids(year_from=_int(year_from), year_to=_int(year_to), author=author or None))
        return sorted(ids)

    def scope_note(self, selected, year_from, year_to, author) -> str:
        ids = self.scope_ids(selected, year_from, year_to, author)
        total = len(self.pa.papers)
        if ids is None:
            return f"Answers draw on **all {total} papers**."
        if not ids:
            return "⚠️ **No paper matches the current scope**: change it under *Ask only about…*."
        return f"Answers draw on **{len(ids)} of {total} papers** (set under *Ask only about…*)."

    def _history(self, answers: list[Answer]) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for a in answers[-HISTORY_TURNS:]:
            out += [{"role": "user", "content": a.question}, {"role": "assistant", "content": a.text}]
        return out

    def _export_files(self, ans: Answer) -> tuple[str, str | None]:
        """Write the answer's .md (and .bib when it cites papers) for the download buttons."""
        cutoff = time.time() - 3600  # Gradio copies outputs into its own cache; ours are short-lived
        for old in self.files.iterdir():
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        d = self.files / uuid.uuid4().hex
        d.mkdir()
        md = d / "answer.md"
        md.write_text(render.export_markdown(ans), encoding="utf-8")
        bib = None
        if ans.citations:
            bib = d / "references.bib"
            bib.write_text(render.bibtex(ans.citations), encoding="utf-8")
        return str(md), (str(bib) if bib else None)

    # -- chat ----------------------------------------------------------------------------------
    def user_turn(self, question: str, chat: list) -> tuple:
        """Show the question at once (no queue); the answer follows in `answer`."""
        question = (question or "").strip()
        if not question:
            return gr.skip(), chat, ""
        return "", chat + [{"role": "user", "content": render.md_text(question)}], question

    def example_turn(self, chat: list, evt: gr.SelectData) -> tuple:
        return self.user_turn(evt.value.get("text", ""), chat)

    def answer(self, question: str, chat: list, answers: list[Answer], session: SessionSettings,
               selected, year_from, year_to, author):
        """Stream the answer into the chat, then fill the sources panel and the export box."""
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        chat = list(chat)
        turn = len(answers) + 1
        ids = self.scope_ids(selected, year_from, year_to, author)
        if ids == []:
            chat.append({"role": "assistant", "content": render.error_message(
                "No paper is in the current scope (see 'Ask only about…'), so there is nothing to answer from.")})
            yield chat, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        try:
            stream = self.view(session).stream(question, history=self._history(answers), paper_ids=ids)
            chat.append({"role": "assistant", "content": ""})
            text, last = "", 0.0
            for piece in stream:
                text += piece
                now = time.monotonic()
                if now - last >= STREAM_EVERY or piece.endswith("\n"):  # LLM tokens: throttled; extractive: per line
                    chat[-1] = {"role": "assistant", "content": render.answer_markdown(text, turn)}
                    last = now
                    yield chat, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            ans = stream.answer
        except (QuestionError, IndexError, StoreUnavailable, ValueError) as e:
            if chat and chat[-1]["role"] == "assistant" and not chat[-1]["content"]:
                chat.pop()
            chat.append({"role": "assistant", "content": render.error_message(str(e))})
            yield chat, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        chat[-1] = {"role": "assistant", "content": render.answer_message(ans, turn)}
        answers = answers + [ans]
        md, bib = self._export_files(ans)
        yield (chat, render.sources_html(list(enumerate(answers, 1))), answers, render.export_markdown(ans),
               gr.DownloadButton(value=md, visible=True),
               gr.DownloadButton(value=bib, visible=bib is not None))

    def new_chat(self) -> tuple:
        return ([], render.SOURCES_PLACEHOLDER, [], "", gr.DownloadButton(value=None, visible=False),
                gr.DownloadButton(value=None, visible=False))

    # -- named API endpoints (gradio_client) ------------------------------------------------------
    def api_ask(self, question: str, history: list[dict] | None = None) -> str:
        """Answer a question from the collection: Markdown with [n] markers and the numbered reference list.
        `history` is the earlier conversation as [{"role": "user"|"assistant", "content": ...}]."""
        if history is not None and not (isinstance(history, list) and all(
                isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)
                for m in history)):
            raise gr.Error('history must be a list of {"role": "user" | "assistant", "content": "..."} messages')
        try:
            return self.pa.ask(question, history=history or None).to_markdown()
        except (QuestionError, IndexError, StoreUnavailable) as e:
            raise gr.Error(str(e)) from None

    def api_search(self, query: str, k: int = 10) -> list[dict]:
        """The papers that best match a query, best first: rank, id, title, score, best passage, links."""
        try:
            hits = self.pa.search(query, k=max(1, min(int(k), 100)))
        except (QuestionError, IndexError, StoreUnavailable) as e:
            raise gr.Error(str(e)) from None
        return [{"rank": i, "id": h.paper.id, "title": h.paper.title, "score": round(h.score, 4),
                 "passage": h.text, "url": h.paper.url, "code_url": h.paper.code_url}
                for i, h in enumerate(hits, 1)]

    # -- papers --------------------------------------------------------------------------------
    def open_paper(self, evt: gr.SelectData) -> tuple:
        row = evt.row_value or []
        pid = str(row[-1]) if row else ""
        try:
            paper = self.pa.paper(pid)
        except KeyError:
            return render.PAPER_PLACEHOLDER, [], "", gr.Button(interactive=False), gr.Button(interactive=False)
        similar = render.similar_rows(self.pa.similar(pid, k=5))
        return (render.paper_detail_html(paper), similar, pid, gr.Button(interactive=True),
                gr.Button(interactive=True))

    def ask_about(self, pid: str) -> tuple:
        return (gr.Dropdown(value=[pid] if pid else []), gr.Tabs(selected="chat"))

    def add_to_scope(self, pid: str, selected) -> Any:
        selected = list(selected or [])
        if pid and pid not in selected:
            selected.append(pid)
        return gr.Dropdown(value=selected)

    # -- uploads ---------------------------------------------------------------------------------
    def collection_outputs(self) -> tuple:
        """Everything that shows the collection, refreshed after it changes."""
        headers, rows = render.paper_table(self.pa.papers)
        return (self.header(), gr.Dataframe(value=rows, headers=headers, datatype=["str"] * len(headers),
                                            column_widths=render.column_widths(headers)),
                gr.Dropdown(choices=self.paper_choices()), gr.Row(visible=self.has_metadata()))

    def add_papers(self, path: str | None, progress=gr.Progress()) -> tuple:
        unchanged = (gr.skip(),) * 4
        if not path:
            return (render.error_html("Choose a papers file first (JSONL, JSON, CSV or papers-page text)."),) + unchanged
        limit = self.pa.settings.max_file_mb
        size = os.path.getsize(path)
        if size > limit * 1024 * 1024:  # before reading a byte of it
            return (render.error_html(f"{Path(path).name}: {size / 1e6:.1f} MB is over the {limit:g} MB limit "
                                      "(setting max_file_mb); nothing was added."),) + unchanged
        progress(0, desc="Reading the file")
        try:
            report = self.pa.add_papers(path, progress=lambda done, total: progress((done, total), desc="Embedding papers",
                                                                                   unit="papers"))
        except IngestInterrupted as e:  # the finished papers are in: show them
            return (render.error_html(str(e)),) + self.collection_outputs()
        except (CollectionError, IndexError, StoreUnavailable) as e:
            return (render.error_html(f"{e} Nothing was added."),) + unchanged
        titles = {p.id: p.title for p in self.pa.papers}
        return (render.ingest_report_html(report, titles, len(titles)),) + self.collection_outputs()

    # -- settings --------------------------------------------------------------------------------
    def settings_status(self, session: SessionSettings) -> str:
        v = self.view(session)
        model = f" · model `{v.model}`" if v.model else ""
        key = "a key entered for this session (not shown)" if session.api_key else "none entered here"
        return (f"Answers by **{v.backend}**{model} · {v.settings.top_k} passages retrieved · API key: {key}. "
                "These settings apply to this browser session only.")

    def apply_settings(self, backend: str, model: str, base_url: str, api_key: str, top_k, session: SessionSettings):
        new = SessionSettings(backend=backend or "", model=(model or "").strip(), base_url=(base_url or "").strip(),
                              api_key=(api_key or "").strip() or session.api_key, top_k=_int(top_k) or 0)
        try:
            self.view(new)  # validates (an unknown backend, a bad number)
        except ValueError as e:
            gr.Warning(f"Settings not applied: {e}")
            return session, "", self.settings_status(session)
        return new, "", self.settings_status(new)

    def forget_key(self, session: SessionSettings):
        new = SessionSettings(**{**session.changes(), "api_key": ""})
        return new, "", self.settings_status(new)


def _int(value) -> int | None:
    if value in (None, ""):
        return None
    return int(float(value))


def build_app(pa: PaperAssistant) -> gr.Blocks:
    """The Blocks app over `pa` (queue configured); launch it with `launch()` for the theme and CSS."""
    app = WebApp(pa)
    s = pa.settings
    # Public mode (setting `public`, when present): nothing can change the collection.
    uploads = s.allow_uploads and not getattr(s, "public", False)
    # delete_cache: uploads and answer downloads are removed from Gradio's cache after an hour.
    with gr.Blocks(title="paper-assistant", analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        header = gr.Markdown(app.header(), elem_id="pa-header")
        session = gr.State(SessionSettings())
        answers = gr.State([])
        pending = gr.State("")
        paper_id = gr.State("")
        with gr.Tabs(selected="chat") as tabs:
            with gr.Tab("Chat", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        # The chat's own copy buttons would copy the citation-link syntax; this one copies
                        # the last answer as clean Markdown with its references (the export box below).
                        copy_answer = gr.Button("Copy answer", size="sm", render=False, elem_id="pa-copy")
                        chatbot = gr.Chatbot(show_label=False, height=560, elem_id="pa-chat", buttons=[copy_answer],
                                             examples=app.examples() or None,
                                             placeholder="Ask a question about the papers, or start from an example.")
                        question = gr.Textbox(placeholder="Ask about the papers… (Enter to send)", show_label=False,
                                              submit_btn=True, elem_id="pa-question", autofocus=True)
                        with gr.Row():
                            scope_note = gr.Markdown(app.scope_note(None, None, None, ""), elem_id="pa-scope-note")
                            new_chat = gr.Button("New conversation", size="sm", variant="secondary", scale=0)
                        with gr.Accordion("Copy or download the last answer", open=False):
                            export_box = gr.Textbox(label="Answer with references (Markdown)", lines=8, max_lines=20,
                                                    interactive=False, buttons=["copy"], elem_id="pa-export")
                            with gr.Row():
                                dl_md = gr.DownloadButton("Download Markdown", visible=False, size="sm")
                                dl_bib = gr.DownloadButton("Download BibTeX", visible=False, size="sm")
                    with gr.Column(scale=2):
                        with gr.Accordion("Ask only about…", open=False):
                            scope_papers = gr.Dropdown(choices=app.paper_choices(), multiselect=True, value=[],
                                                       label="These papers", info="Empty = the whole collection.")
                            with gr.Row(visible=app.has_metadata()) as meta_row:
                                year_from = gr.Number(label="Year from", precision=0)
                                year_to = gr.Number(label="Year to", precision=0)
                                author = gr.Textbox(label="Author", placeholder="part of a name")
                        gr.Markdown("**Sources**")
                        sources = gr.HTML(render.SOURCES_PLACEHOLDER, elem_id="pa-sources", max_height=640)

            with gr.Tab("Papers", id="papers"):
                with gr.Row():
                    with gr.Column(scale=3):
                        headers, rows = render.paper_table(pa.papers)
                        table = gr.Dataframe(value=rows, headers=headers, datatype=["str"] * len(headers),
                                             column_widths=render.column_widths(headers), interactive=False,
                                             show_search="search", max_height=640, wrap=True, elem_id="pa-papers")
                    with gr.Column(scale=2):
                        with gr.Row():
                            ask_btn = gr.Button("Ask about this paper", size="sm", interactive=False)
                            add_btn = gr.Button("Add to 'Ask only about'", size="sm", variant="secondary",
                                                interactive=False)
                        detail = gr.HTML(render.PAPER_PLACEHOLDER, elem_id="pa-paper", max_height=420)
                        gr.Markdown("**Most similar papers**")
                        similar = gr.Dataframe(headers=["Title", "Similarity", "ID"], datatype=["str", "number", "str"],
                                               column_widths=["68%", "14%", "18%"], interactive=False, wrap=True,
                                               elem_id="pa-similar")

            if uploads:
                with gr.Tab("Add papers", id="add"):
                    gr.Markdown(
                        "Add or update papers: **JSONL**, a **JSON** array, **CSV** with a header, or the Hugging Face "
                        "papers-page **text** format. Each record needs `title` and `abstract`; `id`, `authors`, `year`, "
                        "`url` and `code_url` are optional. Re-adding a paper updates it; bad records are listed with "
                        f"the reason and the rest are added. Limit: {s.max_file_mb:g} MB. New papers are used by the "
                        "chat as soon as they are added.")
                    upload = gr.File(label="Papers file", file_types=UPLOAD_TYPES, type="filepath", elem_id="pa-upload")
                    add_papers = gr.Button("Add to the collection", variant="primary")
                    report = gr.HTML(elem_id="pa-report")

            with gr.Tab("Settings", id="settings"):
                gr.Markdown("How answers are written, for **this browser session only**. A key typed here is kept on "
                            "the server for this session, never shown again and never logged; the server's own "
                            "settings come from its environment variables.")
                backend = gr.Radio(BACKEND_CHOICES, value=s.backend, label="Answer backend")
                model = gr.Textbox(label="Model", placeholder="server default (e.g. gpt-4o-mini)")
                base_url = gr.Textbox(label="Base URL of an OpenAI-compatible server",
                                      placeholder="server default (e.g. http://localhost:11434/v1)")
                api_key = gr.Textbox(label="API key", type="password", placeholder="used for this session only",
                                     elem_id="pa-api-key")
                top_k = gr.Slider(1, 30, value=s.top_k, step=1, label="Passages retrieved per question")
                with gr.Row():
                    apply = gr.Button("Apply", variant="primary")
                    forget = gr.Button("Forget the key", variant="secondary")
                status = gr.Markdown(app.settings_status(SessionSettings()), elem_id="pa-settings-status")

        # -- wiring --------------------------------------------------------------------------
        scope_inputs = [scope_papers, year_from, year_to, author]
        answer_outputs = [chatbot, sources, answers, export_box, dl_md, dl_bib]
        answer_kw = dict(fn=app.answer, inputs=[pending, chatbot, answers, session] + scope_inputs,
                         outputs=answer_outputs, concurrency_id="answer", concurrency_limit=ANSWER_CONCURRENCY,
                         api_visibility="private", show_progress="hidden")
        question.submit(app.user_turn, [question, chatbot], [question, chatbot, pending], queue=False,
                        api_visibility="private").then(**answer_kw)
        chatbot.example_select(app.example_turn, [chatbot], [question, chatbot, pending], queue=False,
                               api_visibility="private").then(**answer_kw)
        copy_answer.click(None, [export_box], None, js="(md) => { if (md) navigator.clipboard.writeText(md); }",
                          api_visibility="private")
        new_chat.click(app.new_chat, None, answer_outputs[:3] + [export_box, dl_md, dl_bib], queue=False,
                       api_visibility="private")
        chatbot.clear(app.new_chat, None, answer_outputs[:3] + [export_box, dl_md, dl_bib], queue=False,
                      api_visibility="private")
        for c in scope_inputs:
            c.change(app.scope_note, scope_inputs, scope_note, concurrency_id="browse",
                     concurrency_limit=BROWSE_CONCURRENCY, api_visibility="private", show_progress="hidden")

        gr.api(app.api_ask, api_name="ask", concurrency_id="answer", concurrency_limit=ANSWER_CONCURRENCY)
        gr.api(app.api_search, api_name="search", concurrency_id="browse", concurrency_limit=BROWSE_CONCURRENCY)
        # Agent tools (ui/mcp.py): /search_papers, /ask_papers, /get_paper; the MCP server lists only these.
        mcp.add_endpoints(pa, answer_queue=dict(concurrency_id="answer", concurrency_limit=ANSWER_CONCURRENCY),
                          browse_queue=dict(concurrency_id="browse", concurrency_limit=BROWSE_CONCURRENCY))

        browse = dict(concurrency_id="browse", concurrency_limit=BROWSE_CONCURRENCY, api_visibility="private")
        paper_outputs = [detail, similar, paper_id, ask_btn, add_btn]
        table.select(app.open_paper, None, paper_outputs, **browse)
        similar.select(app.open_paper, None, paper_outputs, **browse)
        ask_btn.click(app.ask_about, [paper_id], [scope_papers, tabs], queue=False, api_visibility="private")
        add_btn.click(app.add_to_scope, [paper_id, scope_papers], [scope_papers], queue=False,
                      api_visibility="private")

        # A page opened after papers were added shows the collection as it is now.
        demo.load(app.collection_outputs, None, [header, table, scope_papers, meta_row], queue=False,
                  api_visibility="private").then(app.scope_note, scope_inputs, scope_note, queue=False,
                                                 api_visibility="private")
        if uploads:
            add_papers.click(app.add_papers, [upload], [report, header, table, scope_papers, meta_row],
                             api_name="add_papers", concurrency_id="ingest", concurrency_limit=1
                             ).then(app.scope_note, scope_inputs, scope_note, queue=False, api_visibility="private")

        apply.click(app.apply_settings, [backend, model, base_url, api_key, top_k, session], [session, api_key, status],
                    queue=False, api_visibility="private")
        forget.click(app.forget_key, [session], [session, api_key, status], queue=False, api_visibility="private")

    demo.queue(max_size=QUEUE_MAX, default_concurrency_limit=BROWSE_CONCURRENCY)
    demo.paper_assistant = pa  # for launch(): upload limit
    return demo


THEME = gr.themes.Soft(primary_hue="indigo", neutral_hue="slate")

CSS = """
.pa-turn > summary { cursor: pointer; font-weight: 600; margin: 4px 0; }
.pa-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 12px; margin: 8px 0;
             transition: box-shadow .3s; scroll-margin: 12px; }
.pa-source.pa-flash { box-shadow: 0 0 0 3px var(--color-accent); }
.pa-num { font-weight: 700; color: var(--color-accent); }
.pa-title { font-weight: 600; }
.pa-meta, .pa-links, .pa-id, .pa-weak { font-size: .85em; color: var(--body-text-color-subdued); }
.pa-abstract { font-size: .9em; line-height: 1.5; margin: 6px 0 0; }
.pa-abstract mark { background: #fde68a; color: #111; border-radius: 2px; padding: 0 1px; }
.pa-notcovered, .pa-report { border-left: 4px solid #f59e0b; padding: 8px 12px; border-radius: 4px;
                             background: var(--background-fill-secondary); }
.pa-report.pa-ok { border-left-color: #10b981; }
.pa-report.pa-error { border-left-color: #ef4444; }
.pa-rejected td, .pa-rejected th { padding: 2px 8px; font-size: .85em; text-align: left; }
.pa-empty { color: var(--body-text-color-subdued); font-size: .9em; padding: 8px 0; }
#pa-scope-note { font-size: .9em; }
#pa-papers .cell-wrap, #pa-similar .cell-wrap, #pa-papers th, #pa-similar th { font-family: var(--font); }
"""

# Citation markers link to "#src-<turn>-<n>": scroll the sources panel to that source (opening its
# turn) and flash it, instead of letting the browser treat the link as a navigation.
HEAD = """
<script>
document.addEventListener("click", function (e) {
  var a = e.target.closest && e.target.closest('a[href^="#src-"]');
  if (!a) return;
  var el = document.getElementById(a.getAttribute("href").slice(1));
  e.preventDefault(); e.stopPropagation();
  if (!el) return;
  var turn = el.closest("details"); if (turn) turn.open = true;
  el.scrollIntoView({behavior: "smooth", block: "nearest"});
  el.classList.add("pa-flash"); setTimeout(function () { el.classList.remove("pa-flash"); }, 1600);
}, true);
</script>
"""


def launch(demo: gr.Blocks, server_name: str | None = None, server_port: int | None = None, **kwargs: Any):
    """Serve the app.  Host and port default to GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (then 127.0.0.1:7860).
    With the setting `mcp` on, the agent tools are also served over MCP at /gradio_api/mcp/."""
    pa: PaperAssistant = demo.paper_assistant
    kwargs = {**mcp.launch_options(demo, pa.settings), **kwargs}
    return demo.launch(server_name=server_name, server_port=server_port, theme=THEME, css=CSS, head=HEAD,
                       max_file_size=int(pa.settings.max_file_mb * 1024 * 1024), show_error=True, **kwargs)


def open_assistant(settings: Settings | None = None) -> PaperAssistant:
    """The assistant a server starts with, its index made current with the configured collection.

    An empty or missing index is built; a vector store that lost its files is re-embedded from
    the stored paper records; then the collection file is re-read so papers added to or changed
    in it since the index was built are embedded (unchanged papers cost nothing).  A Space's disk
    is ephemeral, so this runs at every start there.
    """
    settings = settings or Settings.load()
    t0 = time.perf_counter()
    pa = PaperAssistant(settings, allow_broken_index=True)
    problem = pa.index_problem
    if problem:
        log.warning("the index cannot be used as it is (%s); re-embedding the stored papers", problem)
        try:
            pa.reindex()
        except IndexError as e:
            log.warning("cannot reindex (%s); rebuilding from the collection file", e)
    if settings.collection:
        try:
            report = pa.add_papers(settings.collection)
            if report.added or report.updated:
                log.info("index updated from %s: %s", settings.collection, report.summary())
        except CollectionError as e:
            log.warning("cannot read the collection %s (%s); serving the index as it is", settings.collection, e)
    log.info("%d papers ready in %.1f s (index %s)", len(pa.papers), time.perf_counter() - t0, pa.info()["index"])
    return pa


def main(server_name: str | None = None, server_port: int | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for name in ("chromadb", "httpx", "onnxruntime"):
        logging.getLogger(name).setLevel(logging.WARNING)
    pa = open_assistant()
    launch(build_app(pa), server_name=server_name, server_port=server_port)
