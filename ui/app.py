"""The web app: a Gradio Blocks UI over the library's public API -- layout and wiring only.

Tabs: Chat (streamed answers, numbered citations linked to a sources panel, scope and
export), Papers (searchable table, abstract and similar papers, "ask about this paper"),
Add papers (upload with progress and a report) and Settings (per-session backend, model,
base URL, key, passages).  Named API endpoints for `gradio_client`: /ask and /search (and
/add_papers when uploads are allowed), and the agent tools of ui/mcp.py (/search_papers,
/ask_papers, /get_paper), also served over MCP.

handlers.py holds what each event does; sessions.py what a visitor may do (and, on a
public deployment, may not); render.py turns results into escaped Markdown/HTML.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gradio as gr

from assistant import CollectionError, IndexError, PaperAssistant, Settings
from ui import mcp, render
from ui.handlers import UPLOAD_TYPES, UPLOAD_TYPES_OWNER, WebApp
from ui.sessions import SessionSettings, client_key

log = logging.getLogger(__name__)

# Concurrency: answers and searches are separate queues, so a long (LLM) answer never holds up
# a search or a paper view.  Extractive answers take ~50 ms of CPU; LLM answers mostly wait on
# the network, so a few run at once.  Writes are serialised by the library; one at a time here.
ANSWER_CONCURRENCY = 4
BROWSE_CONCURRENCY = 8
QUEUE_MAX = 256

BACKEND_CHOICES = [
    ("Extractive: quotes the abstracts, no LLM", "extractive"),
    ("Hosted: an OpenAI-compatible API", "openai"),
    ("Local: a GGUF model with llama.cpp", "local"),
    ("Auto: hosted when a key or base URL is set", "auto"),
]


def build_app(pa: PaperAssistant) -> gr.Blocks:
    """The Blocks app over `pa` (queue configured); launch it with `launch()` for the theme and CSS."""
    app = WebApp(pa)
    s = pa.settings
    # Public mode (setting `public`, when present): nothing can change the collection.
    uploads = s.allow_uploads  # on a public deployment each visitor's papers stay in their session
    # delete_cache: uploads and answer downloads are removed from Gradio's cache after an hour.
    with gr.Blocks(title="paper-assistant", analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        header = gr.Markdown(app.header(), elem_id="pa-header")
        session = gr.State(SessionSettings())
        answers = gr.State([])
        pending = gr.State("")
        paper_id = gr.State("")
        # A visitor's own papers on a public deployment: forgotten session_minutes after their last
        # change, and when the tab closes (app.end_session, run by demo.unload below).
        mine = gr.State(None, time_to_live=s.session_minutes * 60)
        with gr.Tabs(selected="chat") as tabs:
            with gr.Tab("Chat", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        # The chat's own copy buttons would copy the citation-link syntax; this one copies
                        # the last answer as clean Markdown with its references (the export box below).
                        copy_answer = gr.Button("Copy answer", size="sm", render=False, elem_id="pa-copy")
                        chatbot = gr.Chatbot(
                            show_label=False,
                            height=560,
                            elem_id="pa-chat",
                            buttons=[copy_answer],
                            examples=app.examples() or None,
                            placeholder="Ask a question about the papers, or start from an example.",
                        )
                        question = gr.Textbox(
                            placeholder="Ask about the papers… (Enter to send)",
                            show_label=False,
                            submit_btn=True,
                            elem_id="pa-question",
                            autofocus=True,
                        )
                        with gr.Row():
                            scope_note = gr.Markdown(
                                app.scope_note(None, None, None, "", "", ""), elem_id="pa-scope-note"
                            )
                            new_chat = gr.Button("New conversation", size="sm", variant="secondary", scale=0)
                        with gr.Accordion("Copy or download the last answer", open=False):
                            export_box = gr.Textbox(
                                label="Answer with references (Markdown)",
                                lines=8,
                                max_lines=20,
                                interactive=False,
                                buttons=["copy"],
                                elem_id="pa-export",
                            )
                            with gr.Row():
                                dl_md = gr.DownloadButton("Download Markdown", visible=False, size="sm")
                                dl_bib = gr.DownloadButton("Download BibTeX", visible=False, size="sm")
                            dl_more = gr.File(
                                label="References as CSL JSON and RIS, and the answer with \\cite{key}",
                                file_count="multiple",
                                visible=False,
                                interactive=False,
                                elem_id="pa-more-downloads",
                            )
                    with gr.Column(scale=2):
                        with gr.Accordion("Ask only about…", open=False):
                            scope_papers = gr.Dropdown(
                                choices=app.paper_choices(),
                                multiselect=True,
                                value=[],
                                label="These papers",
                                info="Empty = the whole collection.",
                            )
                            with gr.Column(visible=app.has_metadata()) as meta_row:
                                with gr.Row():
                                    year_from = gr.Number(label="Year from", precision=0)
                                    year_to = gr.Number(label="Year to", precision=0)
                                    author = gr.Textbox(label="Author", placeholder="part of a name")
                                with gr.Row():
                                    venue = gr.Textbox(label="Venue", placeholder="journal or proceedings")
                                    tag = gr.Textbox(label="Tag or collection", placeholder="from your library")
                        gr.Markdown("**Sources**")
                        sources = gr.HTML(render.SOURCES_PLACEHOLDER, elem_id="pa-sources", max_height=640)

            with gr.Tab("Papers", id="papers"):
                with gr.Row():
                    with gr.Column(scale=3):
                        headers, rows = render.paper_table(pa.papers)
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
                            ask_btn = gr.Button("Ask about this paper", size="sm", interactive=False)
                            add_btn = gr.Button(
                                "Add to 'Ask only about'", size="sm", variant="secondary", interactive=False
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

            if uploads:
                with gr.Tab("Add papers", id="add"):
                    gr.Markdown(
                        "Add or update papers: **PDFs** (their full text, cited to the page), or your library as a "
                        "**BibTeX**, **RIS** or **CSL JSON** export "
                        "(Zotero, Mendeley, EndNote, JabRef)"
                        + ("" if s.public else ", Zotero's own **zotero.sqlite**")
                        + ", **JSON lines** (arXiv, OpenAlex or Semantic Scholar dumps too), **JSON**, **CSV**, or "
                        "papers-page **text**. Entries without an abstract are kept and found by their title and "
                        "metadata. Re-adding a library updates what changed; bad records are listed with the reason "
                        f"and the rest are added. Limit: {s.max_file_mb:g} MB. New papers are used by the chat as "
                        "soon as they are added."
                        + (
                            f" **On this public deployment the papers you add are visible only to you**, for this "
                            f"session (at most {s.session_papers} papers, {s.session_mb:g} MB)."
                            if s.public
                            else ""
                        )
                    )
                    upload = gr.File(
                        label="PDFs, a bibliography or a papers file (one or several)",
                        file_count="multiple",
                        file_types=UPLOAD_TYPES if s.public else UPLOAD_TYPES_OWNER,
                        type="filepath",
                        elem_id="pa-upload",
                    )
                    add_papers = gr.Button(
                        "Add to my papers" if s.public else "Add to the collection", variant="primary"
                    )
                    report = gr.HTML(elem_id="pa-report")

            with gr.Tab("Settings", id="settings"):
                gr.Markdown(
                    "How answers are written, for **this browser session only**. A key typed here is kept on "
                    "the server for this session, never shown again and never logged, and is sent only to "
                    "the server named beside it; the server's own key is never sent to a base URL you "
                    "choose."
                    + (
                        " This is a public deployment: LLM answers are limited to "
                        f"{s.llm_answers_per_session} per minute, and servers and models only "
                        "from the owner's lists."
                        if s.public
                        else ""
                    )
                )
                backend = gr.Radio(BACKEND_CHOICES, value=s.backend, label="Answer backend")
                model = gr.Textbox(label="Model", placeholder="server default (e.g. gpt-4o-mini)")
                base_url = gr.Textbox(
                    label="Base URL of an OpenAI-compatible server",
                    placeholder="server default (e.g. http://localhost:11434/v1)",
                )
                api_key = gr.Textbox(
                    label="API key", type="password", placeholder="used for this session only", elem_id="pa-api-key"
                )
                top_k = gr.Slider(1, 30, value=s.top_k, step=1, label="Passages retrieved per question")
                with gr.Row():
                    apply = gr.Button("Apply", variant="primary")
                    forget = gr.Button("Forget the key", variant="secondary")
                status = gr.Markdown(app.settings_status(SessionSettings()), elem_id="pa-settings-status")

        # -- wiring --------------------------------------------------------------------------
        scope_inputs = [scope_papers, year_from, year_to, author, venue, tag]
        answer_outputs = [chatbot, sources, answers, export_box, dl_md, dl_bib, dl_more]
        scope_with_mine = scope_inputs + [mine]
        answer_kw = dict(
            fn=app.answer,
            inputs=[pending, chatbot, answers, session, mine] + scope_inputs,
            outputs=answer_outputs,
            concurrency_id="answer",
            concurrency_limit=ANSWER_CONCURRENCY,
            api_visibility="private",
            show_progress="hidden",
        )
        question.submit(
            app.user_turn, [question, chatbot], [question, chatbot, pending], queue=False, api_visibility="private"
        ).then(**answer_kw)
        chatbot.example_select(
            app.example_turn, [chatbot], [question, chatbot, pending], queue=False, api_visibility="private"
        ).then(**answer_kw)
        copy_answer.click(
            None,
            [export_box],
            None,
            js="(md) => { if (md) navigator.clipboard.writeText(md); }",
            api_visibility="private",
        )
        new_chat.click(app.new_chat, None, answer_outputs, queue=False, api_visibility="private")
        chatbot.clear(app.new_chat, None, answer_outputs, queue=False, api_visibility="private")
        for c in scope_inputs:
            c.change(
                app.scope_note,
                scope_with_mine,
                scope_note,
                concurrency_id="browse",
                concurrency_limit=BROWSE_CONCURRENCY,
                api_visibility="private",
                show_progress="hidden",
            )

        gr.api(app.api_ask, api_name="ask", concurrency_id="answer", concurrency_limit=ANSWER_CONCURRENCY)
        gr.api(app.api_search, api_name="search", concurrency_id="browse", concurrency_limit=BROWSE_CONCURRENCY)
        # Agent tools (ui/mcp.py): /search_papers, /ask_papers, /get_paper; the MCP server lists only these.
        mcp.add_endpoints(
            pa,
            answer_queue=dict(concurrency_id="answer", concurrency_limit=ANSWER_CONCURRENCY),
            browse_queue=dict(concurrency_id="browse", concurrency_limit=BROWSE_CONCURRENCY),
            answerer=lambda request: app.answering_view(None, None, client_key(request, pa.settings.trusted_proxies)),
            explain=app.message,
        )

        browse = dict(concurrency_id="browse", concurrency_limit=BROWSE_CONCURRENCY, api_visibility="private")
        paper_outputs = [detail, similar, paper_id, ask_btn, add_btn]
        table.select(app.open_paper, [mine], paper_outputs, **browse)
        similar.select(app.open_paper, [mine], paper_outputs, **browse)
        ask_btn.click(app.ask_about, [paper_id], [scope_papers, tabs], queue=False, api_visibility="private")
        add_btn.click(app.add_to_scope, [paper_id, scope_papers], [scope_papers], queue=False, api_visibility="private")

        # A page opened after papers were added shows the collection as it is now.
        demo.load(
            app.collection_outputs,
            [mine],
            [header, table, scope_papers, meta_row],
            queue=False,
            api_visibility="private",
        ).then(app.scope_note, scope_with_mine, scope_note, queue=False, api_visibility="private")
        if uploads and s.public:
            demo.unload(app.end_session)
        if uploads:
            add_papers.click(
                app.add_papers,
                [upload, mine],
                [report, header, table, scope_papers, meta_row, mine],
                api_name="add_papers",
                concurrency_id="ingest",
                concurrency_limit=1,
            ).then(app.scope_note, scope_with_mine, scope_note, queue=False, api_visibility="private")

        # queued: a refusal's gr.Warning reaches the page only through the queue's event stream
        apply.click(
            app.apply_settings,
            [backend, model, base_url, api_key, top_k, session],
            [session, api_key, status],
            concurrency_id="browse",
            concurrency_limit=BROWSE_CONCURRENCY,
            api_visibility="private",
            show_progress="hidden",
        )
        forget.click(app.forget_key, [session], [session, api_key, status], queue=False, api_visibility="private")

    demo.queue(max_size=QUEUE_MAX, default_concurrency_limit=BROWSE_CONCURRENCY)
    demo.paper_assistant = pa  # for launch(): upload limit
    app.demo = demo  # its record of uploaded files: the upload handler opens only those
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
    pdfs = pa.store.root / "pdfs"  # the collection's own PDF copies: the only files served besides Gradio's
    pdfs.mkdir(parents=True, exist_ok=True)
    return demo.launch(
        server_name=server_name,
        server_port=server_port,
        theme=THEME,
        css=CSS,
        head=HEAD,
        max_file_size=int(pa.settings.max_file_mb * 1024 * 1024),
        allowed_paths=[str(pdfs)],
        show_error=not pa.settings.public,
        **kwargs,
    )


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
    for name in ("chromadb", "httpx", "httpx2", "onnxruntime"):  # httpx(2) logs request URLs, credentials and all
        logging.getLogger(name).setLevel(logging.WARNING)
    pa = open_assistant()
    launch(build_app(pa), server_name=server_name, server_port=server_port)
