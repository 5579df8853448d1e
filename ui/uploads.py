"""The Add papers tab: which paths may be read (only files this server received as an
upload), and adding each file with its own report (one that cannot be read changes nothing,
and the others are still added).  On a public deployment a visitor's papers stay theirs."""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from assistant import IngestInterrupted, PaperAssistant
from assistant.index.session import SessionPapers
from ui import render
from ui.sessions import client_key
from ui.shared import Shared

log = logging.getLogger(__name__)

# Bibliographies and papers files, also compressed (ingest/records.py reads them; the content decides the format).
UPLOAD_TYPES = [
    ".pdf",
    ".bib",
    ".bibtex",
    ".ris",
    ".json",
    ".jsonl",
    ".ndjson",
    ".csv",
    ".tsv",
    ".txt",
    ".gz",
    ".bz2",
    ".xz",
    ".zip",
]
UPLOAD_TYPES_OWNER = UPLOAD_TYPES + [".sqlite"]  # a Zotero database: not from visitors of a public app


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


@dataclass
class UploadsView:
    files: gr.File
    add: gr.Button
    report: gr.HTML


class UploadsTab:
    def __init__(self, shared: Shared, refresh: Callable[[SessionPapers | None], tuple]):
        self.shared, self.refresh = shared, refresh  # refresh: what shows the collection, after a change
        self.demo: gr.Blocks | None = None  # set by build_app: its record of uploaded files
        # Visitors' papers by Gradio session, to forget them when the page closes (end_session).
        # Weak: the session's gr.State owns them, and its time_to_live still applies.
        self._mine: weakref.WeakValueDictionary[str, SessionPapers] = weakref.WeakValueDictionary()

    def build(self) -> UploadsView:
        s = self.shared.settings
        gr.Markdown(_INTRO.format(limit=f"{s.max_file_mb:g}", zotero="" if s.public else _ZOTERO) + _public_note(s))
        files = gr.File(
            label="PDFs, a bibliography or a papers file (one or several)",
            file_count="multiple",
            file_types=UPLOAD_TYPES if s.public else UPLOAD_TYPES_OWNER,
            type="filepath",
            elem_id="pa-upload",
        )
        add = gr.Button("Add to my papers" if s.public else "Add to the collection", variant="primary")
        return UploadsView(files, add, gr.HTML(elem_id="pa-report"))

    def add_papers(
        self,
        paths: list[str] | str | None,
        mine: SessionPapers | None,
        request: gr.Request = None,
        progress=gr.Progress(),
    ) -> tuple:
        """Add the uploaded files' papers (bibliographies, papers files, PDFs): to the collection,
        or on a public deployment to this visitor's own papers (`mine`).  Returns the report,
        then (when the papers changed) what shows the collection and `mine`."""
        unchanged = (gr.skip(),) * 5
        paths = [paths] if isinstance(paths, str) else list(paths or [])
        if not paths:
            return (render.error_html(_CHOOSE),) + unchanged
        pa, public = self.shared.pa, self.shared.settings.public
        if public and mine is None:
            mine = pa.private().session
            if getattr(request, "session_hash", None):
                self._mine[request.session_hash] = mine
        if public:
            mine.charge = self._charge(client_key(request, self.shared.settings.trusted_proxies))
        # An uploaded bibliography's attachment fields name files on the *visitor's* machine: never
        # read them here (they could name this server's files).
        target = pa.private(mine) if public else pa.using(read_attachments=False)
        note = " They are visible only to you, for this session." if public else ""
        try:
            parts, changed = self.add_files(target, paths, progress, note)
        finally:
            if public:  # a visitor's file is read once: nothing of it stays on disk after the request
                self.forget(paths)
        return ("".join(parts),) + (self.refresh(mine) + (mine,) if changed else unchanged)

    def forget(self, paths: Sequence[str]) -> None:
        """Delete uploaded files (only files this server received as uploads) and their folders when empty."""
        uploaded = self.uploaded()
        for path in paths:
            try:
                file = uploaded_file(path, uploaded)
            except UploadRefused:
                continue
            try:
                file.unlink()
                file.parent.rmdir()  # Gradio keeps each upload in a folder of its own
            except OSError:
                pass
            if self.demo is not None:
                self.demo.upload_file_set.discard(str(file))
                self.demo.upload_file_set.discard(path)

    def _charge(self, who: str) -> Callable[[int], str]:
        """What a session's papers are charged with: passages embedded for the client address `who`."""
        budget, limit = self.shared.upload_budget, self.shared.settings.session_passages

        def charge(n: int) -> str:
            if budget is None or budget.spend(who, n):
                return ""
            return (
                f"your address may have at most {limit} passages embedded an hour (setting session_passages), "
                f"whatever the session; these papers have {n}: try again later"
            )

        return charge

    def end_session(self, request: gr.Request = None) -> None:
        """The visitor's page closed: forget the papers they added.  (Gradio keeps a closed
        session's state for an hour, whatever its time_to_live, in case the page comes back.)"""
        mine = self._mine.pop(getattr(request, "session_hash", None) or "", None)
        if mine is not None:
            mine.remove(list(mine.papers))

    def uploaded(self) -> set[str] | None:
        """The files this server received as uploads (None before the app runs)."""
        return {os.path.realpath(p) for p in self.demo.upload_file_set} if self.demo is not None else None

    def add_files(self, target: PaperAssistant, paths: Sequence[str], progress: Callable, note: str = ""):
        """Add each uploaded file's papers to `target`: the HTML report of each file, and whether
        the collection changed; `note` ends each file's report."""
        parts, changed = [], False
        for i, path in enumerate(paths, 1):
            desc = f"File {i} of {len(paths)}: {Path(path).name}" if len(paths) > 1 else "Embedding papers"
            part, more = self._add_file(target, path, desc, progress, note)
            parts.append(part)
            changed = changed or more
        return parts, changed

    def _add_file(
        self, target: PaperAssistant, path: str, desc: str, progress: Callable, note: str
    ) -> tuple[str, bool]:
        max_file_mb, message = self.shared.settings.max_file_mb, self.shared.message
        try:
            file = uploaded_file(path, self.uploaded())
        except UploadRefused as e:
            log.warning("refused an upload path: %s", e)
            return render.error_html(f"{Path(path).name}: {e}; nothing was added from it."), False
        size = file.stat().st_size
        if size > max_file_mb * 1024 * 1024:  # before reading a byte of it
            return render.error_html(
                f"{file.name}: {size / 1e6:.1f} MB is over the {max_file_mb:g} MB limit "
                "(setting max_file_mb); nothing was added."
            ), False
        progress(0, desc=desc)

        def papers(done: int, total: int) -> None:
            progress((done, total), desc=desc, unit="papers")

        # passages embedded, with Gradio's estimate of the time left (index/ingest.py reports them)
        papers.passages = lambda done, total: progress((done, total), desc=f"{desc}: embedding", unit="passages")
        try:
            report = target.add_papers(file, progress=papers)
        except IngestInterrupted as e:  # the finished papers are in: show them
            return render.error_html(message(e)), True
        except Exception as e:  # noqa: BLE001
            told = message(e)
            told = told if told.startswith(f"{file.name}: ") else f"{file.name}: {told}"
            return render.error_html(f"{told} Nothing was added."), False
        titles = {p.id: p.title for p in target.papers}
        extra = note
        if report.no_abstract:
            extra += (
                f" {len(report.no_abstract)} of them have no abstract: they are found by title and metadata "
                "only, so they rank low."
            )
        return render.ingest_report_html(report, titles, len(titles), extra), bool(report.added or report.updated)


_CHOOSE = (
    "Choose a file first: PDFs, a bibliography (BibTeX, RIS, CSL JSON) or a "
    "papers file (JSON lines, JSON, CSV, papers-page text)."
)
_ZOTERO = ", Zotero's own **zotero.sqlite**"
_INTRO = (
    "Add or update papers: **PDFs** (their full text, cited to the page), or your library as a "
    "**BibTeX**, **RIS** or **CSL JSON** export (Zotero, Mendeley, EndNote, JabRef){zotero}, **JSON lines** "
    "(arXiv, OpenAlex or Semantic Scholar dumps too), **JSON**, **CSV**, or papers-page **text**. Entries without "
    "an abstract are kept and found by their title and metadata. Re-adding a library updates what changed; bad "
    "records are listed with the reason and the rest are added. Limit: {limit} MB. New papers are used by the "
    "chat as soon as they are added."
)


def _public_note(s) -> str:
    if not s.public:
        return ""
    return (
        f" **On this public deployment the papers you add are visible only to you**, for this "
        f"session (at most {s.session_papers} papers, {s.session_mb:g} MB)."
    )
