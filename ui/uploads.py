"""Uploads in the web app: which paths may be read (only files this server received as an
upload), and adding each file with its own report (one that cannot be read changes nothing,
and the others are still added)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import gradio as gr

from assistant import IngestInterrupted, PaperAssistant
from ui import render

log = logging.getLogger(__name__)


class UploadRefused(ValueError):
    """A file path that is not a file this server received as an upload."""


def uploaded_file(path: str, uploaded: set[str] | None) -> Path:
    """`path` if it is a regular file the server itself received as an upload (inside Gradio's
    upload folder; and, once the app runs, one of the files its upload route received).
    Checked on the resolved path, so `..` and symlinks cannot lead elsewhere; the file is not
    opened here, and not at all when refused."""
    folder = Path(gr.utils.get_upload_folder()).resolve()
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(folder) or (uploaded is not None and str(real) not in uploaded):
        raise UploadRefused("that file was not uploaded to this server; choose a file with the upload box")
    if not real.is_file():
        raise UploadRefused("the upload is not a regular file")
    return real


def add_files(
    target: PaperAssistant,
    paths: Sequence[str],
    uploaded: set[str] | None,
    max_file_mb: float,
    progress: Callable,
    message: Callable[[Exception], str],
    note: str = "",
) -> tuple[list[str], bool]:
    """Add each uploaded file's papers to `target`: the HTML report of each file, and whether
    the collection changed.  `message` words an error for this deployment (handlers.WebApp);
    `note` ends each file's report."""
    parts, changed = [], False
    for i, path in enumerate(paths, 1):
        name = Path(path).name
        try:
            file = uploaded_file(path, uploaded)
        except UploadRefused as e:
            log.warning("refused an upload path: %s", e)
            parts.append(render.error_html(f"{name}: {e}; nothing was added from it."))
            continue
        size = file.stat().st_size
        if size > max_file_mb * 1024 * 1024:  # before reading a byte of it
            parts.append(
                render.error_html(
                    f"{file.name}: {size / 1e6:.1f} MB is over the {max_file_mb:g} MB limit "
                    "(setting max_file_mb); nothing was added."
                )
            )
            continue
        desc = f"File {i} of {len(paths)}: {file.name}" if len(paths) > 1 else "Embedding papers"
        progress(0, desc=desc)
        try:
            report = target.add_papers(
                file, progress=lambda done, total, d=desc: progress((done, total), desc=d, unit="papers")
            )
        except IngestInterrupted as e:  # the finished papers are in: show them
            parts.append(render.error_html(message(e)))
            changed = True
            continue
        except Exception as e:  # noqa: BLE001
            parts.append(render.error_html(f"{file.name}: {message(e)} Nothing was added."))
            continue
        changed = changed or bool(report.added or report.updated)
        titles = {p.id: p.title for p in target.papers}
        extra = note
        if report.no_abstract:
            extra += (
                f" {len(report.no_abstract)} of them have no abstract: they are found by title and metadata "
                "only, so they rank low."
            )
        parts.append(render.ingest_report_html(report, titles, len(titles), extra))
    return parts, changed
