"""The Settings tab: how answers are written for this browser session (backend, model,
base URL, key, passages), within the deployment's rules (sessions.Rules)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from assistant.settings import SettingsError
from ui import render
from ui.chat import BROWSE_CONCURRENCY
from ui.sessions import SessionSettings
from ui.shared import Shared, as_int

BACKEND_CHOICES = [
    ("Extractive: quotes the abstracts, no LLM", "extractive"),
    ("Hosted: an OpenAI-compatible API", "openai"),
    ("Local: a GGUF model with llama.cpp", "local"),
    ("Auto: hosted when a key or base URL is set", "auto"),
]


@dataclass
class SettingsView:
    backend: gr.Radio
    model: gr.Textbox
    base_url: gr.Textbox
    api_key: gr.Textbox
    top_k: gr.Slider
    apply: gr.Button
    forget: gr.Button
    status: gr.Markdown


class SettingsTab:
    def __init__(self, shared: Shared):
        self.shared = shared

    def build(self) -> SettingsView:
        s = self.shared.settings
        limits = (
            " This is a public deployment: LLM answers are limited to "
            f"{s.llm_answers_per_session} per minute, and servers and models only from the owner's lists."
        )
        gr.Markdown(
            "How answers are written, for **this browser session only**. A key typed here is kept on "
            "the server for this session, never shown again and never logged, and is sent only to "
            "the server named beside it; the server's own key is never sent to a base URL you "
            "choose." + (limits if s.public else "")
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
        status = gr.Markdown(self.status(SessionSettings()), elem_id="pa-settings-status")
        return SettingsView(
            backend=backend,
            model=model,
            base_url=base_url,
            api_key=api_key,
            top_k=top_k,
            apply=apply,
            forget=forget,
            status=status,
        )

    def wire(self, v: SettingsView, session: gr.State) -> None:
        # queued: a refusal's gr.Warning reaches the page only through the queue's event stream
        v.apply.click(
            self.apply,
            [v.backend, v.model, v.base_url, v.api_key, v.top_k, session],
            [session, v.api_key, v.status],
            concurrency_id="browse",
            concurrency_limit=BROWSE_CONCURRENCY,
            api_visibility="private",
            show_progress="hidden",
        )
        v.forget.click(
            self.forget_key, [session], [session, v.api_key, v.status], queue=False, api_visibility="private"
        )

    def status(self, session: SessionSettings) -> str:
        try:
            v = self.shared.view(session)
        except SettingsError:
            v = self.shared.pa
        model = f" · model `{v.model}`" if v.model else ""
        key = "a key entered for this session (not shown)" if session.api_key else "none entered here"
        return (
            f"Answers by **{v.backend}**{model} · {v.settings.top_k} passages retrieved · API key: {key}. "
            "These settings apply to this browser session only."
        )

    def apply(self, backend: str, model: str, base_url: str, api_key: str, top_k, session: SessionSettings):
        new = SessionSettings(
            backend=backend or "",
            model=(model or "").strip(),
            base_url=(base_url or "").strip(),
            api_key=(api_key or "").strip() or session.api_key,
            top_k=as_int(top_k) or 0,
        )
        try:
            self.shared.view(new)  # checks the deployment's rules and validates (an unknown backend, a bad number)
        except SettingsError as e:
            gr.Warning(f"Settings not applied: {e}")
            # also in the status line: it stays in view, and reaches the page however the event runs
            return session, "", f"⚠️ **Settings not applied**: {render.md_text(str(e))}\n\n{self.status(session)}"
        return new, "", self.status(new)

    def forget_key(self, session: SessionSettings):
        new = SessionSettings(**{**session.changes(), "api_key": ""})
        return new, "", self.status(new)
