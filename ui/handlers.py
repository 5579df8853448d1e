"""The web app's event handlers: each turns UI values into library calls and library results
into render.* output.  No retrieval logic here, and no layout (app.py).

Per browser session, two gr.State values arrive with most events: `session`, the visitor's
answer settings (sessions.SessionSettings), and `mine`, the papers the visitor added on a
public deployment (assistant.session.SessionPapers, None until they add some).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
import weakref
from pathlib import Path
from typing import Any

import gradio as gr

from assistant import (
    Answer,
    CollectionError,
    PaperAssistant,
    PaperNotFound,
    QuestionError,
)
from assistant.index.session import SessionPapers
from assistant.settings import SettingsError
from ui import render, uploads
from ui.sessions import (
    HISTORY_FORMAT,
    RateLimit,
    Rules,
    SessionSettings,
    Views,
    client_key,
    error_id,
    valid_history,
)

log = logging.getLogger(__name__)

HISTORY_TURNS = 3  # earlier turns passed to the library for follow-up questions
STREAM_EVERY = 0.04  # while an answer streams, the chat updates at most this often (and at each line end)
# Bibliographies and papers files (assistant/papers.py reads them; the content decides the format).
UPLOAD_TYPES = [".pdf", ".bib", ".bibtex", ".ris", ".json", ".jsonl", ".ndjson", ".gz", ".csv", ".tsv", ".txt"]
UPLOAD_TYPES_OWNER = UPLOAD_TYPES + [".sqlite"]  # a Zotero database: not from visitors of a public app

# Shown in the empty chat when their paper is in the collection (a custom collection gets none).
EXAMPLES = [
    (
        "Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?",
        "Zero-Shot Dense Video Captioning by Jointly Optimizing Text and Moment",
    ),
    (
        "Which papers reduce hallucinations of vision-language models at decoding time?",
        "RITUAL: Random Image Transformations as a Universal Anti-hallucination Lever in LVLMs",
    ),
    ("How can CLIP be taught to count objects?", "Teaching CLIP to Count to Ten"),
    (
        "Is there a benchmark that tests vision-language models in many languages?",
        "MVL-SIB: A Massively Multilingual Vision-Language Benchmark for Cross-Modal Topical Matching",
    ),
]

# Errors whose message is about what the visitor did: shown as they are, also on a public deployment.
VISITOR_ERRORS = (QuestionError, SettingsError, CollectionError, PaperNotFound)


class WebApp:
    def __init__(self, pa: PaperAssistant):
        self.pa = pa
        self.settings = pa.settings
        self.rules = Rules(pa.settings)
        self.views = Views(pa, self.rules)
        s = pa.settings
        self.llm_limit = RateLimit(s.llm_answers_per_session, s.llm_answers_per_minute) if s.public else None
        self.files = Path(tempfile.mkdtemp(prefix="paper-assistant-ui-"))
        self.demo: gr.Blocks | None = None  # set by build_app: its upload record
        # Visitors' papers by Gradio session, to forget them when the page closes (end_session).
        # Weak: the session's gr.State owns them, and its time_to_live still applies.
        self._mine: weakref.WeakValueDictionary[str, SessionPapers] = weakref.WeakValueDictionary()

    # -- views and errors ------------------------------------------------------------------------
    def view(self, session: SessionSettings | None, mine: SessionPapers | None = None) -> PaperAssistant:
        """The assistant as this session sees it: its settings, and its own papers."""
        view = self.views.get(session)
        return view.private(mine) if mine is not None else view

    def answering_view(self, session: SessionSettings | None, mine: SessionPapers | None, who: str) -> PaperAssistant:
        """The view for one answer: on a public deployment, past the LLM rate limit, the
        extractive backend, saying why."""
        view = self.view(session, mine)
        if self.llm_limit is not None and view.backend != "extractive" and not self.llm_limit.allow(who):
            s = self.settings
            return view.without_llm(
                f"the limit of LLM answers was reached ({s.llm_answers_per_session} per minute per visitor, "
                f"{s.llm_answers_per_minute} per minute in all); this answer is extractive"
            )
        return view

    def message(self, e: Exception) -> str:
        """What a visitor is told about an error.  Publicly, anything but a problem with their own
        input is generic, with an id that the log repeats beside the details."""
        if isinstance(e, VISITOR_ERRORS) or not self.settings.public:
            return str(e)
        eid = error_id()
        log.error("error %s: %s: %s", eid, type(e).__name__, e, exc_info=e)
        return f"Something went wrong on the server (error id {eid})."

    # -- collection views --------------------------------------------------------------------------
    def header(self, mine: SessionPapers | None = None) -> str:
        n = len(self.view(None, mine).papers)
        own = f" (**{len(mine)}** of them added by you, visible only to you)" if mine else ""
        return (
            f"## paper-assistant\nAsk questions about **{n} papers**{own}. Every claim in an answer is cited to a "
            "paper's abstract (click a [n] to see the passage), or you are told the collection does not cover it."
        )

    def has_metadata(self, mine: SessionPapers | None = None) -> bool:
        return any(p.year or p.authors or p.venue or p.tags or p.collections for p in self.view(None, mine).papers)

    def paper_choices(self, mine: SessionPapers | None = None) -> list[tuple[str, str]]:
        return [(p.title, p.id) for p in sorted(self.view(None, mine).papers, key=lambda p: p.title.lower())]

    def examples(self) -> list[dict]:
        titles = {p.title for p in self.pa.papers}
        return [{"text": q} for q, title in EXAMPLES if title in titles]

    def scope_ids(
        self, selected, year_from, year_to, author, venue="", tag="", mine: SessionPapers | None = None
    ) -> list[str] | None:
        """The paper ids answers may use, or None for the whole collection."""
        view = self.view(None, mine)
        author, venue, tag = ((x or "").strip() for x in (author, venue, tag))
        filtered = year_from not in (None, "") or year_to not in (None, "") or author or venue or tag
        if not selected and not filtered:
            return None
        ids = set(selected) if selected else {p.id for p in view.papers}
        if filtered:
            ids &= set(
                view.select_ids(
                    year_from=_int(year_from),
                    year_to=_int(year_to),
                    author=author or None,
                    venue=venue or None,
                    tag=tag or None,
                )
            )
        return sorted(ids)

    def scope_note(
        self, selected, year_from, year_to, author, venue="", tag="", mine: SessionPapers | None = None
    ) -> str:
        ids = self.scope_ids(selected, year_from, year_to, author, venue, tag, mine)
        total = len(self.view(None, mine).papers)
        if ids is None:
            return f"Answers draw on **all {total} papers**."
        if not ids:
            return "⚠️ **No paper matches the current scope**: change it under *Ask only about…*."
        return f"Answers draw on **{len(ids)} of {total} papers** (set under *Ask only about…*)."

    def collection_outputs(self, mine: SessionPapers | None = None) -> tuple:
        """Everything that shows the collection, refreshed after it changes."""
        headers, rows = render.paper_table(self.view(None, mine).papers)
        return (
            self.header(mine),
            gr.Dataframe(
                value=rows,
                headers=headers,
                datatype=["str"] * len(headers),
                column_widths=render.column_widths(headers),
            ),
            gr.Dropdown(choices=self.paper_choices(mine)),
            gr.Column(visible=self.has_metadata(mine)),
        )

    # -- chat ------------------------------------------------------------------------------------
    def _history(self, answers: list[Answer]) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for a in answers[-HISTORY_TURNS:]:
            out += [{"role": "user", "content": a.question}, {"role": "assistant", "content": a.text}]
        return out

    def pdf_link(self, paper) -> str | None:
        """Where the page can open the collection's copy of a paper's PDF (None: no full text).
        Only the index's own copies are served (launch() allows exactly that folder)."""
        path = self.pa.store.pdf_file(paper)
        return f"/gradio_api/file={path}" if path is not None else None

    def _export_files(self, ans: Answer) -> tuple[str, str | None, list[str]]:
        """Write the answer's files for the downloads: the .md; when it cites papers, their
        .bib, and the CSL JSON, RIS and the answer with \\cite{key} markers."""
        cutoff = time.time() - 3600  # Gradio copies outputs into its own cache; ours are short-lived
        for old in self.files.iterdir():
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        d = self.files / uuid.uuid4().hex
        d.mkdir()
        md = d / "answer.md"
        md.write_text(render.export_markdown(ans), encoding="utf-8")
        if not ans.citations:
            return str(md), None, []
        files = {
            "references.bib": ans.references_bibtex(),
            "references.csl.json": ans.references_csl(),
            "references.ris": ans.references_ris(),
            "answer-cite.tex": ans.text_with_citations("latex") + "\n",
        }
        for name, text in files.items():
            (d / name).write_text(text, encoding="utf-8")
        return str(md), str(d / "references.bib"), [str(d / n) for n in list(files)[1:]]

    def user_turn(self, question: str, chat: list) -> tuple:
        """Show the question at once (no queue); the answer follows in `answer`."""
        question = (question or "").strip()
        if not question:
            return gr.skip(), chat, ""
        return "", chat + [{"role": "user", "content": render.md_text(question)}], question

    def example_turn(self, chat: list, evt: gr.SelectData) -> tuple:
        return self.user_turn(evt.value.get("text", ""), chat)

    def answer(
        self,
        question: str,
        chat: list,
        answers: list[Answer],
        session: SessionSettings,
        mine: SessionPapers | None,
        selected,
        year_from,
        year_to,
        author,
        venue,
        tag,
        request: gr.Request,
    ):
        """Stream the answer into the chat, then fill the sources panel and the export box."""
        skip = (gr.skip(),) * 6
        if not question:
            yield (gr.skip(),) + skip
            return
        chat = list(chat)
        turn = len(answers) + 1
        try:
            ids = self.scope_ids(selected, year_from, year_to, author, venue, tag, mine)
            if ids == []:
                chat.append(
                    {
                        "role": "assistant",
                        "content": render.error_message(
                            "No paper is in the current scope (see 'Ask only about…'), so there is nothing to answer from."
                        ),
                    }
                )
                yield (chat,) + skip
                return
            view = self.answering_view(session, mine, client_key(request, self.settings.trusted_proxies))
            stream = view.stream(question, history=self._history(answers), paper_ids=ids)
            chat.append({"role": "assistant", "content": ""})
            text, last = "", 0.0
            for piece in stream:
                text += piece
                now = time.monotonic()
                if now - last >= STREAM_EVERY or piece.endswith("\n"):  # LLM tokens: throttled; extractive: per line
                    chat[-1] = {"role": "assistant", "content": render.answer_markdown(text, turn)}
                    last = now
                    yield (chat,) + skip
            ans = stream.answer
        except Exception as e:  # noqa: BLE001 - every failure is told to the visitor (message() decides how)
            if chat and chat[-1]["role"] == "assistant" and not chat[-1]["content"]:
                chat.pop()
            chat.append({"role": "assistant", "content": render.error_message(self.message(e))})
            yield (chat,) + skip
            return
        chat[-1] = {"role": "assistant", "content": render.answer_message(ans, turn)}
        answers = answers + [ans]
        md, bib, more = self._export_files(ans)
        yield (
            chat,
            render.sources_html(list(enumerate(answers, 1)), self.pdf_link),
            answers,
            render.export_markdown(ans),
            gr.DownloadButton(value=md, visible=True),
            gr.DownloadButton(value=bib, visible=bib is not None),
            gr.File(value=more or None, visible=bool(more)),
        )

    def new_chat(self) -> tuple:
        return (
            [],
            render.SOURCES_PLACEHOLDER,
            [],
            "",
            gr.DownloadButton(value=None, visible=False),
            gr.DownloadButton(value=None, visible=False),
            gr.File(value=None, visible=False),
        )

    # -- named API endpoints (gradio_client) ------------------------------------------------------
    def api_ask(self, question: str, history: list[dict] | None = None, request: gr.Request = None) -> str:
        """Answer a question from the collection: Markdown with [n] markers and the numbered reference list.
        `history` is the earlier conversation as [{"role": "user"|"assistant", "content": ...}]."""
        if not valid_history(history):
            raise gr.Error(HISTORY_FORMAT)
        try:
            return (
                self.answering_view(None, None, client_key(request, self.settings.trusted_proxies))
                .ask(question, history=history or None)
                .to_markdown()
            )
        except Exception as e:  # noqa: BLE001
            raise gr.Error(self.message(e)) from None

    def api_search(self, query: str, k: int = 10) -> list[dict]:
        """The papers that best match a query, best first: rank, id, title, score, best passage, links."""
        try:
            hits = self.pa.search(query, k=max(1, min(int(k), 100)))
        except Exception as e:  # noqa: BLE001
            raise gr.Error(self.message(e)) from None
        return [
            {
                "rank": i,
                "id": h.paper.id,
                "title": h.paper.title,
                "score": round(h.score, 4),
                "passage": h.text,
                "url": h.paper.url,
                "code_url": h.paper.code_url,
            }
            for i, h in enumerate(hits, 1)
        ]

    # -- papers ----------------------------------------------------------------------------------
    def open_paper(self, mine: SessionPapers | None, evt: gr.SelectData) -> tuple:
        row = evt.row_value or []
        pid = str(row[-1]) if row else ""
        view = self.view(None, mine)
        try:
            paper = view.paper(pid)
        except PaperNotFound:
            return render.PAPER_PLACEHOLDER, [], "", gr.Button(interactive=False), gr.Button(interactive=False)
        similar = render.similar_rows(view.similar(pid, k=5))
        return (
            render.paper_detail_html(paper, self.pdf_link(paper)),
            similar,
            pid,
            gr.Button(interactive=True),
            gr.Button(interactive=True),
        )

    def ask_about(self, pid: str) -> tuple:
        return (gr.Dropdown(value=[pid] if pid else []), gr.Tabs(selected="chat"))

    def add_to_scope(self, pid: str, selected) -> Any:
        selected = list(selected or [])
        if pid and pid not in selected:
            selected.append(pid)
        return gr.Dropdown(value=selected)

    # -- uploads ---------------------------------------------------------------------------------
    def add_papers(
        self,
        paths: list[str] | str | None,
        mine: SessionPapers | None,
        request: gr.Request = None,
        progress=gr.Progress(),
    ) -> tuple:
        """Add the uploaded files' papers (bibliographies, papers files, PDFs): to the collection,
        or on a public deployment to this visitor's own papers (`mine`).  Each file is reported
        on its own; one that cannot be read changes nothing and the others are still added."""
        unchanged = (gr.skip(),) * 5
        paths = [paths] if isinstance(paths, str) else list(paths or [])
        if not paths:
            return (
                render.error_html(
                    "Choose a file first: PDFs, a bibliography (BibTeX, RIS, CSL JSON) or a "
                    "papers file (JSON lines, JSON, CSV, papers-page text)."
                ),
            ) + unchanged
        uploaded = {os.path.realpath(p) for p in self.demo.upload_file_set} if self.demo is not None else None
        public = self.settings.public
        if public and mine is None:
            mine = self.pa.private().session
            if getattr(request, "session_hash", None):
                self._mine[request.session_hash] = mine
        # An uploaded bibliography's attachment fields name files on the *visitor's* machine: never
        # read them here (they could name this server's files).
        target = self.pa.private(mine) if public else self.pa.using(read_attachments=False)
        note = " They are visible only to you, for this session." if public else ""
        parts, changed = uploads.add_files(
            target, paths, uploaded, self.settings.max_file_mb, progress, self.message, note
        )
        refreshed = self.collection_outputs(mine) + (mine,) if changed else unchanged
        return ("".join(parts),) + refreshed

    def end_session(self, request: gr.Request = None) -> None:
        """The visitor's page closed: forget the papers they added.  (Gradio keeps a closed
        session's state for an hour, whatever its time_to_live, in case the page comes back.)"""
        mine = self._mine.pop(getattr(request, "session_hash", None) or "", None)
        if mine is not None:
            mine.remove(list(mine.papers))

    # -- settings --------------------------------------------------------------------------------
    def settings_status(self, session: SessionSettings) -> str:
        try:
            v = self.view(session)
        except SettingsError:
            v = self.pa
        model = f" · model `{v.model}`" if v.model else ""
        key = "a key entered for this session (not shown)" if session.api_key else "none entered here"
        return (
            f"Answers by **{v.backend}**{model} · {v.settings.top_k} passages retrieved · API key: {key}. "
            "These settings apply to this browser session only."
        )

    def apply_settings(self, backend: str, model: str, base_url: str, api_key: str, top_k, session: SessionSettings):
        new = SessionSettings(
            backend=backend or "",
            model=(model or "").strip(),
            base_url=(base_url or "").strip(),
            api_key=(api_key or "").strip() or session.api_key,
            top_k=_int(top_k) or 0,
        )
        try:
            self.view(new)  # checks the deployment's rules and validates (an unknown backend, a bad number)
        except SettingsError as e:
            gr.Warning(f"Settings not applied: {e}")
            # also in the status line: it stays in view, and reaches the page however the event runs
            return (
                session,
                "",
                f"⚠️ **Settings not applied**: {render.md_text(str(e))}\n\n{self.settings_status(session)}",
            )
        return new, "", self.settings_status(new)

    def forget_key(self, session: SessionSettings):
        new = SessionSettings(**{**session.changes(), "api_key": ""})
        return new, "", self.settings_status(new)


def _int(value) -> int | None:
    if value in (None, ""):
        return None
    return int(float(value))
