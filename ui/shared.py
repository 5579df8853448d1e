"""What every tab of the web app shares: the assistant, the deployment's rules, each
visitor's view of the assistant, and how errors are told to visitors.

Per browser session, two gr.State values arrive with most events: `session`, the visitor's
answer settings (sessions.SessionSettings), and `mine`, the papers the visitor added on a
public deployment (index.session.SessionPapers, None until they add some).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from assistant import Answer, CollectionError, PaperAssistant, PaperNotFound, QuestionError, TableError
from assistant.index.session import SessionPapers
from assistant.settings import SettingsError
from ui.sessions import Budget, RateLimit, Rules, SessionSettings, Views, error_id

log = logging.getLogger(__name__)

LIMIT_NOTE = "the limit of LLM answers was reached"  # the one reason for an extractive answer told as it is

# Errors whose message is about what the visitor did: shown as they are, also on a public deployment.
VISITOR_ERRORS = (QuestionError, SettingsError, CollectionError, PaperNotFound, TableError)


class Shared:
    def __init__(self, pa: PaperAssistant):
        self.pa = pa
        self.settings = s = pa.settings
        self.rules = Rules(s)
        self.views = Views(pa, self.rules)
        self.llm_limit = RateLimit(s.llm_answers_per_session, s.llm_answers_per_minute) if s.public else None
        # passages embedded for one client address an hour: new sessions do not bring a new budget
        self.upload_budget = Budget(s.session_passages) if s.public else None

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
                f"{LIMIT_NOTE} ({s.llm_answers_per_session} per minute per visitor, "
                f"{s.llm_answers_per_minute} per minute in all); this answer is extractive"
            )
        return view

    def shown(self, ans: Answer) -> Answer:
        """The answer as a visitor may see it: publicly, why the LLM failed (its endpoint, an OS
        error) becomes a short note with an id that the log repeats beside the details; the rate
        limit and what was wrong with the LLM's own answer are told as they are."""
        told = ans.fallback.startswith(LIMIT_NOTE) or re.match(r"the \w+ answer ", ans.fallback)
        if not self.settings.public or not ans.fallback or told:  # the limit, or what was wrong with its answer
            return ans
        eid = error_id()
        log.error("error %s: the LLM was not used: %s", eid, ans.fallback)
        return replace(ans, fallback=f"the LLM could not answer (error id {eid}); this answer is extractive")

    def message(self, e: Exception) -> str:
        """What a visitor is told about an error.  Publicly, anything but a problem with their own
        input is generic, with an id that the log repeats beside the details."""
        if isinstance(e, VISITOR_ERRORS) or not self.settings.public:
            return str(e)
        eid = error_id()
        log.error("error %s: %s: %s", eid, type(e).__name__, e, exc_info=e)
        return f"Something went wrong on the server (error id {eid})."

    def pdf_link(self, paper) -> str | None:
        """Where the page can open the collection's copy of a paper's PDF (None: no full text).
        Only the index's own copies are served (launch() allows exactly that folder)."""
        path = self.pa.store.pdf_file(paper)
        return f"/gradio_api/file={path}" if path is not None else None


def as_int(value) -> int | None:
    if value in (None, ""):
        return None
    return int(float(value))
