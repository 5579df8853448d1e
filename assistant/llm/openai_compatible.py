"""The openai backend: chat completions, streamed, through the official `openai` client,
against api.openai.com or any OpenAI-compatible server (Ollama, vLLM, LM Studio,
llama.cpp's server, the Hugging Face router)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from assistant.llm.base import DEFAULT_OPENAI_MODEL, OPENAI_URL, Backend, LLMError, where
from assistant.net.guard import guarded_client, refusal
from assistant.net.redact import redact_text
from assistant.settings import Settings
from assistant.types import Message


def model_label(settings: Settings) -> str:
    """The model answers will name: the setting, else gpt-4o-mini on OpenAI's API, else
    (another server) what the server lists, found at the first call."""
    return settings.model or (DEFAULT_OPENAI_MODEL if not settings.base_url else "")


class OpenAIBackend(Backend):
    """Chat completions, streamed, through the official client.

    The client's own retries are off: retries here are bounded by `max_retries`, happen
    only before the first token (after it, the user has seen text), and never for a 401
    or a timeout (waiting again would double the wait for the same answer)."""

    name = "openai"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.where = where(settings.base_url)
        self._key = settings.secret("api_key")
        self._model = model_label(settings)
        self._client = None
        self._checked = False  # the model name was checked against the server's list
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self._model or "(server default)"

    def _check_config(self) -> None:
        if not self._key and not self.settings.base_url:
            raise LLMError(
                "the openai backend needs an API key (OPENAI_API_KEY) or the base URL of an "
                "OpenAI-compatible server (OPENAI_BASE_URL)"
            )
        try:
            import openai  # noqa: F401
        except ImportError:
            raise LLMError("the openai backend needs the openai package: pip install 'openai>=1.108,<4'") from None

    def _get_client(self):
        if self._client is None:
            self._check_config()
            import openai

            # A base URL that may not reach private addresses (one a web-app visitor typed) gets a
            # client that checks every address it connects to (netguard: DNS cannot trick it).
            http = None if self.settings.base_url_private else guarded_client(timeout=self.settings.timeout)
            # A local server needs no key, but the client insists on one.
            self._client = openai.OpenAI(
                api_key=self._key or "no-key-needed",
                base_url=self.settings.base_url or OPENAI_URL,
                max_retries=0,
                timeout=self.settings.timeout,
                http_client=http,
            )
        return self._client

    def stream(
        self, messages: list[Message], *, max_tokens: int, timeout: float, grammar: str | None = None
    ) -> Iterator[str]:
        deadline = time.monotonic() + timeout
        client = self._get_client()
        self._resolve_model(client, deadline, timeout)
        extra = {"grammar": grammar} if grammar else None
        response = self._retrying(
            lambda: client.chat.completions.create(
                model=self._model,
                messages=messages,
                stream=True,
                max_tokens=max_tokens,
                temperature=self.settings.temperature,
                timeout=_httpx_timeout(deadline),
                extra_body=extra,
            ),
            deadline,
            timeout,
        )
        yield from self._read(response, deadline, timeout)

    def _retrying(self, call, deadline: float, timeout: float):
        """call(), retried after transient errors while the budget lasts; errors become LLMError."""
        attempt = 0
        while True:
            try:
                return call()
            except Exception as e:  # noqa: BLE001 -- every failure becomes an LLMError
                err = self._error(e, timeout)
                wait = _backoff(e, attempt)
                if not err.retryable or attempt >= self.settings.max_retries or time.monotonic() + wait >= deadline:
                    raise err from None
                attempt += 1
                time.sleep(wait)

    def _read(self, response, deadline: float, timeout: float) -> Iterator[str]:
        finished = False
        try:
            for chunk in response:
                if time.monotonic() > deadline:
                    raise LLMError(
                        f"the LLM server at {self.where} did not finish the answer within {timeout:g} s "
                        "(setting timeout)"
                    )
                for choice in chunk.choices or []:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
                    if choice.finish_reason:
                        finished = True
        except LLMError:
            raise
        except Exception as e:  # noqa: BLE001
            raise self._error(e, timeout, streaming=True) from None
        finally:
            response.close()
        if not finished:
            raise LLMError(f"the answer stream from {self.where} was cut off before the end")

    def _resolve_model(self, client, deadline: float, timeout: float) -> None:
        """Check the model name against the server's list once: a llama.cpp server answers
        any name with whatever it has loaded, so a typo would otherwise go unnoticed."""
        import openai

        def served_models() -> list[str] | None:
            try:
                return [m.id for m in client.models.list(timeout=_httpx_timeout(deadline))]
            except openai.APIStatusError as e:
                if e.status_code in (404, 405, 501):
                    return None  # the server does not list models: trust the name
                raise

        with self._lock:
            if self._checked:
                return
            served = self._retrying(served_models, deadline, timeout)
            if served is not None and not self._model:
                if len(served) != 1:
                    raise LLMError(
                        f"set the model (ASSISTANT_MODEL): the server at {self.where} offers "
                        f"{_names(served) or 'no model'}"
                    )
                self._model = served[0]
            elif served is not None and not any(s == self._model or s.startswith(self._model + ":") for s in served):
                raise LLMError(
                    f"model {self._model!r} is not served at {self.where}; it offers {_names(served)} "
                    "(setting model / ASSISTANT_MODEL)"
                )
            self._checked = True

    def _error(self, e: Exception, timeout: float, streaming: bool = False) -> LLMError:
        import httpx
        import openai

        at = f"the LLM server at {self.where}"
        refused = refusal(e)
        if refused is not None:
            return LLMError(f"{at} is not allowed: {refused.reason}")
        if isinstance(e, (openai.APITimeoutError, httpx.TimeoutException)):
            return LLMError(f"{at} did not answer within {timeout:g} s (setting timeout)")
        if isinstance(e, (httpx.RemoteProtocolError, httpx.ReadError)) or (
            streaming and isinstance(e, openai.APIConnectionError)
        ):
            detail = redact_text(str(e.__cause__ or e), [self._key])[:120]
            return LLMError(f"the answer stream from {self.where} was cut off ({detail})")
        if isinstance(e, (openai.APIConnectionError, httpx.ConnectError)):
            detail = redact_text(str(e.__cause__ or e), [self._key])[:120]
            return LLMError(f"cannot reach {at} ({detail})", retryable=True)
        if isinstance(e, openai.APIStatusError):
            code = e.status_code
            if code == 401:
                return LLMError(f"{at} refused the API key (HTTP 401); check OPENAI_API_KEY")
            if code == 403:
                return LLMError(f"{at} denied access (HTTP 403); the key may lack access to model {self._model!r}")
            if code == 404:
                return LLMError(f"{at} has no model {self._model!r} (HTTP 404); check ASSISTANT_MODEL")
            if code == 429:
                return LLMError(f"{at} is rate limiting requests (HTTP 429)", retryable=True)
            if code >= 500:
                return LLMError(f"{at} had an internal error (HTTP {code})", retryable=True)
            message = redact_text(_server_message(e), [self._key])[:200]
            return LLMError(f"{at} rejected the request (HTTP {code}): {message}")
        if isinstance(e, ValueError):  # json.JSONDecodeError from a garbled event
            return LLMError(f"{at} sent a malformed answer stream")
        if isinstance(e, openai.APIError):
            return LLMError(
                f"{at} reported an error{' mid-answer' if streaming else ''}: "
                f"{redact_text(_server_message(e), [self._key])[:200]}"
            )
        return LLMError(f"the call to {at} failed: {type(e).__name__}")


def _server_message(e: Exception) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error")
        msg = err.get("message") if isinstance(err, dict) else body.get("message")
        if msg:
            return str(msg)
    return str(getattr(e, "message", "") or e)


def _names(served: list[str], most: int = 5) -> str:
    shown = ", ".join(repr(s) for s in served[:most])
    return shown + (f" and {len(served) - most} more" if len(served) > most else "")


def _httpx_timeout(deadline: float):
    """What is left of the call's time budget: for connecting, and for each read."""
    import httpx

    left = max(0.05, deadline - time.monotonic())
    return httpx.Timeout(left, connect=min(left, 10.0))


def _backoff(e: Exception, attempt: int) -> float:
    retry_after = None
    response = getattr(e, "response", None)
    if response is not None:
        try:
            retry_after = float(response.headers.get("retry-after", ""))
        except (TypeError, ValueError):
            retry_after = None
    return min(retry_after if retry_after is not None else 0.5 * 2**attempt, 10.0)


# --- local (llama.cpp in-process) --------------------------------------------------------
