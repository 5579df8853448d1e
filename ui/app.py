"""The web app: a Gradio Blocks UI over the library's public API -- layout and wiring only.

Tabs: Chat (streamed answers, numbered citations linked to a sources panel, scope and
export), Papers (searchable table, abstract and similar papers, "ask about this paper"),
Table (a comparison table: papers as rows, aspects as columns, every cell quoted), Add papers (upload
with progress and a report), Library (the synced sources; not on a public deployment) and Settings
(per-session backend, model, base URL, key, passages); named API endpoints and MCP tools.

Each tab has its module (chat.py with scope.py, papers_tab.py, table_tab.py, uploads.py, library_tab.py,
settings_tab.py) holding its layout and what its events do; api.py the named endpoints; shared.py what the
tabs share; sessions.py what a visitor may do (and, on a public deployment, may not);
render.py turns results into escaped Markdown/HTML.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from assistant import CollectionError, IndexProblem, PaperAssistant, Settings
from assistant.settings import DEMO_COLLECTION
from ui import mcp
from ui.api import Api
from ui.chat import BROWSE_CONCURRENCY, ChatTab, ChatView
from ui.library_tab import LibraryTab
from ui.papers_tab import PapersTab, PapersView
from ui.scope import Scope, paper_choices
from ui.sessions import SessionSettings
from ui.settings_tab import SettingsTab
from ui.shared import Shared
from ui.table_tab import TableTab
from ui.traffic import ClientGate, queued_counter
from ui.uploads import UploadsTab, UploadsView

log = logging.getLogger(__name__)

QUEUE_MAX = 256


class WebApp:
    """The web app's parts: what they share, and one object per tab."""

    def __init__(self, pa: PaperAssistant):
        self.shared = Shared(pa)
        self.scope = Scope(self.shared)
        self.chat = ChatTab(self.shared, self.scope)
        self.papers = PapersTab(self.shared)
        self.table = TableTab(self.shared)
        self.uploads = UploadsTab(self.shared, self.papers.collection_outputs)
        self.settings = SettingsTab(self.shared)
        self.library = LibraryTab(self.shared)
        self.api = Api(self.shared)


def build_app(pa: PaperAssistant) -> gr.Blocks:
    """The Blocks app over `pa` (queue configured); launch it with `launch()` for the theme and CSS."""
    app = WebApp(pa)
    s = pa.settings
    # delete_cache: uploads and answer downloads are removed from Gradio's cache after an hour (on a
    # public deployment after 15 minutes: a visitor's upload is also deleted when it has been read).
    cache = (300, 900) if s.public else (1800, 3600)
    with gr.Blocks(title="paper-assistant", analytics_enabled=False, delete_cache=cache) as demo:
        header = gr.Markdown(app.papers.header(), elem_id="pa-header")
        session = gr.State(SessionSettings())
        # A visitor's own papers on a public deployment: forgotten session_minutes after their last
        # change, and when the tab closes (end_session, run by demo.unload).
        mine = gr.State(None, time_to_live=s.session_minutes * 60)
        with gr.Tabs(selected="chat") as tabs:
            with gr.Tab("Chat", id="chat"):
                chat = app.chat.build()
            with gr.Tab("Papers", id="papers"):
                papers = app.papers.build()
            with gr.Tab("Table", id="table"):
                table = app.table.build()
            uploads = None
            if s.allow_uploads:  # on a public deployment each visitor's papers stay in their session
                with gr.Tab("Add papers", id="add"):
                    uploads = app.uploads.build()
            if not s.public:  # the sources are paths on the host's disk
                with gr.Tab("Library", id="library"):
                    app.library.build()
            with gr.Tab("Settings", id="settings"):
                settings = app.settings.build()
        app.chat.wire(chat, session, mine)
        app.papers.wire(papers, mine, chat.scope, tabs, table.papers)
        app.table.wire(table, session, mine)
        demo.load(
            lambda m: gr.Dropdown(choices=paper_choices(app.shared, m)),
            [mine],
            [table.papers],
            queue=False,
            api_visibility="private",
        )
        app.settings.wire(settings, session)
        app.api.register()
        _wire_collection(app, demo, (header, chat, papers, uploads), mine)
    demo.queue(max_size=QUEUE_MAX, default_concurrency_limit=BROWSE_CONCURRENCY)
    demo.paper_assistant = pa  # for launch(): upload limit
    app.uploads.demo = demo  # its record of uploaded files: the upload handler opens only those
    return demo


def _wire_collection(
    app: WebApp, demo: gr.Blocks, views: tuple[gr.Markdown, ChatView, PapersView, UploadsView | None], mine: gr.State
) -> None:
    """What shows the collection (header, table, scope lists) follows it: on page load and after uploads."""
    header, chat, papers, uploads = views
    shows = [header, papers.table, chat.scope.papers, chat.scope.meta_row]
    # The empty chat's examples and placeholder follow the library too (its own papers' questions).
    examples = dict(fn=app.chat.library_outputs, inputs=[mine], outputs=chat.chatbot, api_visibility="private")
    demo.load(**examples, queue=False)
    note = dict(fn=app.scope.note_event, inputs=[mine], outputs=chat.scope_note, inputs_kwargs=chat.scope.kwargs())
    # A page opened after papers were added shows the collection as it is now.
    demo.load(app.papers.collection_outputs, [mine], shows, queue=False, api_visibility="private").then(
        **note, queue=False, api_visibility="private"
    )
    if uploads is None:
        return
    if app.shared.settings.public:
        demo.unload(app.uploads.end_session)
    uploads.add.click(
        app.uploads.add_papers,
        [uploads.files, mine],
        [uploads.report, *shows, mine],
        api_name="add_papers",
        concurrency_id="ingest",
        concurrency_limit=1,
    ).then(**note, queue=False, api_visibility="private").then(**examples, queue=False)


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
.pa-table-wrap { overflow-x: auto; }
.pa-table { border-collapse: collapse; width: 100%; font-size: .9em; }
.pa-table th, .pa-table td { border: 1px solid var(--border-color-primary); padding: 6px 8px; vertical-align: top;
                             text-align: left; }
.pa-table summary { cursor: pointer; }
.pa-not-stated { color: var(--body-text-color-subdued); }
.pa-quote { margin: 6px 0 2px; padding-left: 8px; border-left: 3px solid #fde68a; font-size: .95em; }
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
    if pa.settings.public:  # who each request comes from, and how much work one client may start
        s = pa.settings
        gate = Middleware(
            ClientGate, trusted_proxies=s.trusted_proxies, max_work=s.client_requests, queued=queued_counter(demo)
        )
        app_kwargs = dict(kwargs.get("app_kwargs") or {})
        app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), gate]
        kwargs["app_kwargs"] = app_kwargs
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
    """The assistant a server starts with.

    A new index is built from the `collection` setting (the demo; PaperAssistant does it once,
    so papers removed later never come back); a vector store that lost its files is re-embedded
    from the stored paper records (and, with no records left, rebuilt from the collection).
    """
    settings = settings or Settings.load()
    t0 = time.perf_counter()
    pa = PaperAssistant(settings, allow_broken_index=True)
    problem = pa.index_problem
    if problem:
        log.warning("the index cannot be used as it is (%s); re-embedding the stored papers", problem)
        try:
            pa.reindex()
        except IndexProblem as e:
            _rebuild(pa, settings, e)
    log.info("%d papers ready in %.1f s (index %s)", len(pa.papers), time.perf_counter() - t0, pa.info()["index"])
    return pa


def _rebuild(pa: PaperAssistant, settings: Settings, why: IndexProblem) -> None:
    """No stored records to reindex from: the collection file, when there is one."""
    collection = settings.collection_file()
    if not collection:
        log.warning("cannot reindex (%s); serving the index as it is", why)
        return
    log.warning("cannot reindex (%s); rebuilding from the collection file", why)
    try:
        log.info("index rebuilt from %s: %s", collection, pa.add_papers(collection).summary())
    except CollectionError as e:
        log.warning("cannot read the collection %s (%s); serving the index as it is", collection, e)


def demo_collection() -> str:
    """The collection app.py (the Space) starts a new index with: ASSISTANT_COLLECTION if set
    (empty or not), else the bundled demo papers."""
    return os.environ.get("ASSISTANT_COLLECTION", DEMO_COLLECTION)


def main(server_name: str | None = None, server_port: int | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for name in ("chromadb", "httpx", "httpx2", "onnxruntime"):  # httpx(2) logs request URLs, credentials and all
        logging.getLogger(name).setLevel(logging.WARNING)
    pa = open_assistant(Settings.load(env={**os.environ, "ASSISTANT_COLLECTION": demo_collection()}))
    launch(build_app(pa), server_name=server_name, server_port=server_port)
