"""Parsing a PDF under a budget: in a worker process started for it, with an address-space
limit (RLIMIT_AS, `Budget.memory_mb` above what the process had when forked), a CPU-time
limit (RLIMIT_CPU, `Budget.seconds`) and a wall clock (2 x seconds + 10 s), stopped past any.
A crafted PDF (a content-stream bomb, a loop of objects) then costs at most its budget, and is
refused with a message naming the setting; the process that asked is never at risk.  A worker
that dies otherwise is reported as such, with its signal or exit status.

One PDF is parsed at a time (PDFium is not thread-safe; pdf.py serialises it in-process too).
Workers are forked by a server (assistant/formats/pdf_server.py, one per asking process,
restarted if it died, gone when its stdin closes): a worker forked from the asking process
itself, whose other threads (ONNX, Chroma, a web server) may hold a lock at that instant, can
wait on it forever.  The server is a fresh interpreter started with subprocess (fork + exec),
not multiprocessing's fork server, whose workers re-run the caller's main script when it has no
`if __name__ == "__main__":` guard.  Without os.fork (Windows) the PDF is parsed in-process,
without a budget.
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from assistant.formats import pdf_server
from assistant.formats.pdf import PdfDocument, PdfError

# The server's start: this process's sys.path, and the package without running assistant/__init__.py
# (which loads the whole retrieval stack); the reader's modules import what they use by name.
_BOOT = """import importlib.machinery, importlib.util, json, sys
sys.path[:] = json.loads(sys.argv[1])
spec = importlib.machinery.ModuleSpec("assistant", None, is_package=True)
spec.submodule_search_locations = [sys.argv[2]]
sys.modules["assistant"] = importlib.util.module_from_spec(spec)
from assistant.formats.pdf_server import main
sys.exit(main())
"""
_START_SECONDS = 300.0  # the server's imports, on a loaded machine
_SLACK_SECONDS = 30.0  # beyond the worker's wall clock, before the server itself is given up on


@dataclass(frozen=True)
class Budget:
    """What parsing one PDF may take: memory (MB of address space) and CPU seconds."""

    memory_mb: float = 2048.0
    seconds: float = 120.0


def read_within(path: str | Path, max_pages: int, budget: Budget | None = None) -> tuple[int, PdfDocument | None]:
    """(pages in the file, its document) -- the document is None when the file has more than
    `max_pages` pages (then it is not read).  Raises PdfError for a file pdf.read_pdf refuses,
    for one that passes its budget and when the worker dies."""
    path, budget = Path(path), budget or Budget()
    if not hasattr(os, "fork"):
        return pdf_server.read(path, max_pages)
    request = (os.path.abspath(path), max_pages, budget.memory_mb, budget.seconds)
    try:
        with _LOCK:
            reply = _ask(pickle.dumps(request), pdf_server.wall_clock(budget.seconds) + _SLACK_SECONDS)
    except _NotStarted as e:
        raise PdfError(f"{path.name}: the PDF reader's worker could not start ({e})") from e
    return _verdict(path, budget, reply)


def _verdict(path: Path, budget: Budget, reply: dict) -> tuple[int, PdfDocument | None]:
    status = reply["status"]
    if reply["stopped"] or status == -signal.SIGXCPU:
        raise PdfError(
            f"{path.name}: parsing it took more than its budget of {budget.seconds:g} CPU seconds "
            "(setting pdf_seconds); refused (a PDF made to exhaust the parser, or a damaged one?)"
        )
    kind, value = pickle.loads(reply["answer"]) if status == 0 and reply["answer"] else (None, None)
    if kind == "memory" or status == -signal.SIGABRT:  # PDFium aborts when an allocation fails
        raise PdfError(
            f"{path.name}: parsing it needed more than its budget of {budget.memory_mb:g} MB of memory "
            "(setting pdf_memory_mb); refused (a PDF made to exhaust the parser, or a damaged one?)"
        )
    if kind == "ok":
        return value
    if kind in ("pdf", "error"):
        raise PdfError(value)
    why = _describe(status) if "server" not in reply else f"its server ended, {_describe(reply['server'])}"
    raise PdfError(f"{path.name}: the PDF reader's worker stopped unexpectedly ({why})")


def _describe(status: int | None) -> str:
    if status is None:
        return "killed"
    if status < 0:
        try:
            return f"signal {signal.Signals(-status).name}"
        except ValueError:
            return f"signal {-status}"
    return f"exit status {status}"


class _NotStarted(Exception):
    """The server could not be started; the message says why."""


class _Server:
    """The pdf_server process of this process, spoken to over its stdin and stdout."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        package = str(Path(__file__).resolve().parent.parent)  # assistant/
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, json.dumps(sys.path), package],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,  # a Ctrl-C is for the asking process, which then stops the server
            )
        except OSError as e:
            raise _NotStarted(f"{sys.executable}: {e.strerror or e}") from e
        if self._receive(_START_SECONDS) != b"ready":
            raise _NotStarted(_describe(self.stop()))

    def ask(self, request: bytes, timeout: float) -> dict:
        """The server's reply to one request.  When the server dies or does not answer within
        `timeout` it is stopped, and the reply says so: "server" (its exit code), "stopped" (timed out)."""
        try:
            pdf_server.write_message(self.proc.stdin.fileno(), request)
            reply = self._receive(timeout)
        except OSError:
            reply = None
        except BaseException:  # interrupted mid-request: the server's next answer would be out of step
            self.stop()
            raise
        if isinstance(reply, bytes):
            return pickle.loads(reply)
        timed_out = reply is _TIMEOUT
        return {"answer": None, "status": None, "stopped": timed_out, "server": self.stop()}

    def _receive(self, timeout: float) -> bytes | object | None:
        """A message; _TIMEOUT when none came within `timeout`; None when the server's stdout ended."""
        fd = self.proc.stdout.fileno()
        if not pdf_server.readable([fd], timeout):
            return _TIMEOUT
        return pdf_server.read_message(fd)

    def alive(self) -> bool:
        return self.proc.poll() is None and not self.proc.stdin.closed

    def stop(self) -> int | None:
        """End the server: its stdin closed, then killed with its workers if it lingers.  Its exit
        code; None when it had to be killed."""
        for pipe in (self.proc.stdin, self.proc.stdout):
            pipe.close()
        try:
            return self.proc.wait(5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            return None


_TIMEOUT = object()
_LOCK = threading.Lock()
_server: _Server | None = None


def _ask(request: bytes, timeout: float) -> dict:
    global _server
    if _server is None or not _server.alive():
        if _server is not None:
            _server.stop()
        _server = None
        _server = _Server()
    return _server.ask(request, timeout)


@atexit.register
def _stop_server() -> None:
    if _server is not None and _server.pid == os.getpid():
        _server.stop()


def _forget_server() -> None:
    """In a forked child: the parent's server stays the parent's (our copies of its pipes closed)."""
    global _server, _LOCK
    _LOCK = threading.Lock()
    if _server is not None:
        for pipe in (_server.proc.stdin, _server.proc.stdout):
            pipe.close()
        _server = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_server)
