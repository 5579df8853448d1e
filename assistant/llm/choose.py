"""Which backend answers: chosen from the settings, made cheaply (nothing loads or
connects until the first answer), and checked without network or model loading."""

from __future__ import annotations

from assistant.llm.base import LLM, LLMError
from assistant.llm.local import LocalBackend, gguf_path, require_llama_cpp
from assistant.llm.local import model_label as local_label
from assistant.llm.openai_compatible import OpenAIBackend
from assistant.llm.openai_compatible import model_label as hosted_label
from assistant.settings import Settings


def select(settings: Settings) -> str:
    """The backend answers come from: the explicit setting, else openai when a key or base
    URL is configured, else local when a GGUF path is, else extractive."""
    if settings.backend != "auto":
        return settings.backend
    if settings.secret("api_key") or settings.base_url:
        return "openai"
    if settings.gguf:
        return "local"
    return "extractive"


def model_label(settings: Settings) -> str:
    """The model answers will name, without loading or asking anything."""
    name = select(settings)
    if name == "openai":
        return hosted_label(settings)
    if name == "local":
        return local_label(settings)
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
            require_llama_cpp()
            gguf_path(settings)
    except LLMError as e:
        return e.cause
    return ""
