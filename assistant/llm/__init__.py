"""LLM backends: where an answer's words come from when it is not extractive.

Both keep one small contract (base.LLM): `stream(messages, ...)` yields text, ends within
`timeout`, and raises LLMError (a message fit to show) for every fault.

* openai (hosted.py) -- the official `openai` client against api.openai.com or any
  OpenAI-compatible server.
* local (local.py) -- a GGUF model in this process with llama-cpp-python.

choose.py picks the backend the settings ask for.
"""

from assistant.llm.base import DEFAULT_OPENAI_MODEL, LLM, OPENAI_URL, LLMError, where
from assistant.llm.choose import create, model_label, problem, select
from assistant.llm.local import BUNDLED_GGUF, LocalBackend, bundled_gguf, gguf_path
from assistant.llm.openai_compatible import OpenAIBackend

__all__ = [
    "LLM",
    "LLMError",
    "OpenAIBackend",
    "LocalBackend",
    "create",
    "select",
    "problem",
    "model_label",
    "bundled_gguf",
    "gguf_path",
    "where",
    "DEFAULT_OPENAI_MODEL",
    "OPENAI_URL",
    "BUNDLED_GGUF",
]
