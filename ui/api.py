"""The named HTTP endpoints for `gradio_client` (/ask, /search) and the agent tools of
ui/mcp.py (/search_papers, /ask_papers, /get_paper), also served over MCP."""

from __future__ import annotations

import gradio as gr

from ui import mcp
from ui.chat import ANSWER_CONCURRENCY, BROWSE_CONCURRENCY
from ui.sessions import HISTORY_FORMAT, client_key, valid_history
from ui.shared import Shared

ANSWER_QUEUE = dict(concurrency_id="answer", concurrency_limit=ANSWER_CONCURRENCY)
BROWSE_QUEUE = dict(concurrency_id="browse", concurrency_limit=BROWSE_CONCURRENCY)


class Api:
    def __init__(self, shared: Shared):
        self.shared = shared

    def register(self) -> None:
        """Register every endpoint; call inside the gr.Blocks context."""
        gr.api(self.ask, api_name="ask", **ANSWER_QUEUE)
        gr.api(self.search, api_name="search", **BROWSE_QUEUE)
        mcp.add_endpoints(
            self.shared.pa,
            answer_queue=ANSWER_QUEUE,
            browse_queue=BROWSE_QUEUE,
            answerer=self._caller_view,
            explain=self.shared.message,
            shown=self.shared.shown,
        )

    def _caller_view(self, request: gr.Request):
        return self.shared.answering_view(None, None, client_key(request, self.shared.settings.trusted_proxies))

    def ask(self, question: str, history: list[dict] | None = None, request: gr.Request = None) -> str:
        """Answer a question from the collection: Markdown with [n] markers and the numbered reference list.
        `history` is the earlier conversation as [{"role": "user"|"assistant", "content": ...}]."""
        if not valid_history(history):
            raise gr.Error(HISTORY_FORMAT)
        try:
            return self.shared.shown(self._caller_view(request).ask(question, history=history or None)).to_markdown()
        except Exception as e:  # noqa: BLE001
            raise gr.Error(self.shared.message(e)) from None

    def search(self, query: str, k: int = 10) -> list[dict]:
        """The papers that best match a query, best first: rank, id, title, score, best passage, links."""
        try:
            hits = self.shared.pa.search(query, k=max(1, min(int(k), 100)))
        except Exception as e:  # noqa: BLE001
            raise gr.Error(self.shared.message(e)) from None
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
