"""The `model` commands: where the bundled embedding model is cached and came from (`model info`),
and its files for an offline machine (`model export`)."""

from __future__ import annotations

from pathlib import Path

from assistant import embedding
from assistant.cli.arguments import UsageError
from assistant.cli.output import print_json
from assistant.cli.settings import settings_for


def _bundled_model(args) -> embedding.MiniLMEmbedding:
    settings = settings_for(args)
    embedder = embedding.create(settings)
    if not isinstance(embedder, embedding.MiniLMEmbedding):
        raise UsageError(
            f"embed_model {settings.embed_model!r} is not the bundled {embedding.MODEL_NAME}: "
            "the model commands carry the bundled model only"
        )
    return embedder


def cmd_model_info(args) -> int:
    """Where the bundled model is cached and where it came from (fetched now if missing, as on first use)."""
    embedder = _bundled_model(args)
    files = embedder.runner().files
    info = {
        "model": embedding.MODEL_NAME,
        "model_cache": embedder.cache_dir,
        "from": files.origin,
        "onnx": str(files.onnx),
        "tokenizer": str(files.tokenizer),
        "looked_for_in": [s.name for s in embedder.model_sources()],
    }
    if args.json:
        print_json(info)
        return 0
    for key in ("model", "model_cache", "from", "onnx", "tokenizer"):
        print(f"{key + ':':13s}{info[key]}")
    print("looked for in, in order:\n" + "\n".join(f"  {i}. {n}" for i, n in enumerate(info["looked_for_in"], 1)))
    return 0


def cmd_model_export(args) -> int:
    """The ONNX file and tokenizer, in a directory to carry to an offline machine (embed_model=DIR there)."""
    files = _bundled_model(args).runner().files
    target = Path(args.dir).expanduser()
    for path in embedding.write_export(files, target):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(
        f"(from {files.origin}.)  On the offline machine, set embed_model to the directory holding these "
        f"two files (ASSISTANT_EMBED_MODEL=DIR), or copy them into its model cache's {embedding.MODEL_NAME}/ folder."
    )
    return 0
