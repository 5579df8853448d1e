"""The Chat tab: streamed answers with numbered citations linked to a sources panel, the
scope ('Ask only about…'), follow-ups, and the answer's downloads."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from assistant import Answer
from assistant.index.session import SessionPapers
from ui import render
from ui.scope import Scope, ScopeChoice, ScopeInputs
from ui.sessions import SessionSettings, client_key
from ui.shared import Shared

HISTORY_TURNS = 3  # earlier turns passed to the library for follow-up questions
STREAM_EVERY = 0.04  # while an answer streams, the chat updates at most this often (and at each line end)
ANSWER_CONCURRENCY = 4  # answers: LLM answers mostly wait on the network, so a few run at once
BROWSE_CONCURRENCY = 8  # searches, paper views, scope notes: never held up by an answer

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


EXAMPLE_TITLE_MAX = 90  # characters: a longer title makes an example too long to read at a glance


def library_examples(papers, n: int = 3) -> list[str]:
    """Example questions about a library's own papers: full-text papers first, then those with
    an abstract, newest first, short titles only."""

    def rank(p):
        return (not p.full_text, not p.abstract, -(p.year or 0), len(p.title))

    chosen = [p for p in sorted(papers, key=rank) if 8 <= len(p.title) <= EXAMPLE_TITLE_MAX][:n]
    asks = ["What does “{t}” propose?", "What are the main findings of “{t}”?", "Who wrote “{t}”, and when?"]
    return [asks[i].format(t=p.title.rstrip(".")) for i, p in enumerate(chosen)]


@dataclass
class ChatView:
    chatbot: gr.Chatbot
    question: gr.Textbox
    pending: gr.State
    answers: gr.State
    scope: ScopeInputs
    scope_note: gr.Markdown
    new_chat: gr.Button
    copy_answer: gr.Button
    export_box: gr.Textbox
    downloads: tuple[gr.DownloadButton, gr.DownloadButton, gr.File]
    sources: gr.HTML

    def outputs(self) -> list:
        return [self.chatbot, self.sources, self.answers, self.export_box, *self.downloads]


class ChatTab:
    def __init__(self, shared: Shared, scope: Scope):
        self.shared, self.scope = shared, scope
        self.files = Path(tempfile.mkdtemp(prefix="paper-assistant-ui-"))

    def examples(self, mine: SessionPapers | None = None) -> list[dict]:
        """The demo's own questions when its papers are in the library, else questions about its papers."""
        papers = self.shared.view(None, mine).papers
        titles = {p.title for p in papers}
        demo = [{"text": q} for q, title in EXAMPLES if title in titles]
        return demo or [{"text": q} for q in library_examples(papers)]

    def placeholder(self, mine: SessionPapers | None = None) -> str:
        if self.shared.view(None, mine).papers:
            return "Ask a question about the papers, or start from an example."
        return "The library is empty: add papers first (the Add papers tab, or `paper-assistant sync FOLDER`)."

    def library_outputs(self, mine: SessionPapers | None = None) -> gr.Chatbot:
        """The empty chat's examples and placeholder, for the library as it is now."""
        return gr.Chatbot(examples=self.examples(mine) or None, placeholder=self.placeholder(mine))

    def build(self) -> ChatView:
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
                    examples=self.examples() or None,
                    placeholder=self.placeholder(),
                )
                question = gr.Textbox(
                    placeholder="Ask about the papers… (Enter to send)",
                    show_label=False,
                    submit_btn=True,
                    elem_id="pa-question",
                    autofocus=True,
                )
                with gr.Row():
                    scope_note = gr.Markdown(self.scope.note(ScopeChoice()), elem_id="pa-scope-note")
                    new_chat = gr.Button("New conversation", size="sm", variant="secondary", scale=0)
                export_box, downloads = _export_box()
            with gr.Column(scale=2):
                scope = self.scope.build()
                gr.Markdown("**Sources**")
                sources = gr.HTML(render.SOURCES_PLACEHOLDER, elem_id="pa-sources", max_height=640)
        pending, answers = gr.State(""), gr.State([])
        return ChatView(
            chatbot=chatbot,
            question=question,
            pending=pending,
            answers=answers,
            scope=scope,
            scope_note=scope_note,
            new_chat=new_chat,
            copy_answer=copy_answer,
            export_box=export_box,
            downloads=downloads,
            sources=sources,
        )

    def wire(self, v: ChatView, session: gr.State, mine: gr.State) -> None:
        answer = dict(
            fn=self.answer,
            inputs=[v.pending, v.chatbot, v.answers, session, mine],
            inputs_kwargs=v.scope.kwargs(),
            outputs=v.outputs(),
            concurrency_id="answer",
            concurrency_limit=ANSWER_CONCURRENCY,
            api_visibility="private",
            show_progress="hidden",
        )
        turn = dict(outputs=[v.question, v.chatbot, v.pending], queue=False, api_visibility="private")
        v.question.submit(self.user_turn, [v.question, v.chatbot], **turn).then(**answer)
        v.chatbot.example_select(self.example_turn, [v.chatbot], **turn).then(**answer)
        v.copy_answer.click(
            None,
            [v.export_box],
            None,
            js="(md) => { if (md) navigator.clipboard.writeText(md); }",
            api_visibility="private",
        )
        v.new_chat.click(self.new_chat, None, v.outputs(), queue=False, api_visibility="private")
        v.chatbot.clear(self.new_chat, None, v.outputs(), queue=False, api_visibility="private")
        for c in v.scope.components():
            c.change(
                self.scope.note_event,
                [mine],
                v.scope_note,
                inputs_kwargs=v.scope.kwargs(),
                concurrency_id="browse",
                concurrency_limit=BROWSE_CONCURRENCY,
                api_visibility="private",
                show_progress="hidden",
            )

    # -- events -----------------------------------------------------------------------------------
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
        request: gr.Request = None,
        **choice,
    ):
        """Stream the answer into the chat, then fill the sources panel and the export box."""
        skip = (gr.skip(),) * 6
        if not question:
            yield (gr.skip(),) + skip
            return
        chat = list(chat)
        try:
            ids = self.scope.ids(ScopeChoice(**choice), mine)
            if ids == []:
                text = "No paper is in the current scope (see 'Ask only about…'), so there is nothing to answer from."
                yield (chat + [{"role": "assistant", "content": render.error_message(text)}],) + skip
                return
            who = client_key(request, self.shared.settings.trusted_proxies)
            view = self.shared.answering_view(session, mine, who)
            stream = view.stream(question, history=_history(answers), paper_ids=ids)
            chat.append({"role": "assistant", "content": ""})
            for shown in _throttled(stream, len(answers) + 1):
                chat[-1] = {"role": "assistant", "content": shown}
                yield (chat,) + skip
            ans = self.shared.shown(stream.answer)
        except Exception as e:  # noqa: BLE001 - every failure is told to the visitor (message() decides how)
            if chat and chat[-1]["role"] == "assistant" and not chat[-1]["content"]:
                chat.pop()
            chat.append({"role": "assistant", "content": render.error_message(self.shared.message(e))})
            yield (chat,) + skip
            return
        yield self._finished(chat, answers, ans)

    def _finished(self, chat: list, answers: list[Answer], ans: Answer) -> tuple:
        """The chat with the final answer, the sources panel, and the answer's downloads."""
        chat[-1] = {"role": "assistant", "content": render.answer_message(ans, len(answers) + 1)}
        answers = answers + [ans]
        md, bib, more = self._export_files(ans)
        return (
            chat,
            render.sources_html(list(enumerate(answers, 1)), self.shared.pdf_link),
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


def _export_box() -> tuple[gr.Textbox, tuple[gr.DownloadButton, gr.DownloadButton, gr.File]]:
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
    return export_box, (dl_md, dl_bib, dl_more)


def _history(answers: list[Answer]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for a in answers[-HISTORY_TURNS:]:
        out += [{"role": "user", "content": a.question}, {"role": "assistant", "content": a.text}]
    return out


def _throttled(stream, turn: int):
    """The answer's Markdown as it grows: LLM tokens at most every STREAM_EVERY s, extractive
    lines each; while the model writes, what it is doing (`stream.status`) in a line below."""
    text, last = "", 0.0
    for piece in stream:
        text += piece
        now = time.monotonic()
        if now - last >= STREAM_EVERY or piece.endswith("\n"):
            last = now
            status = stream.status
            shown = render.answer_markdown(text, turn)
            yield shown + (f"\n\n*{render.md_text(status)} …*" if status else "")
