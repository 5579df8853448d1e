"""Parsing a PDF under a budget: in a worker process started for it, with an address-space
limit (RLIMIT_AS, `Budget.memory_mb` above what the process had when forked) and a CPU-time
limit (RLIMIT_CPU, `Budget.seconds`), stopped past either.  A crafted PDF (a content-stream
bomb, a loop of objects) then costs at most its budget, and is refused with a message
naming the setting; the process that asked is never at risk.

One PDF is parsed at a time (PDFium is not thread-safe; pdf.py serialises it in-process too).
Workers come from a fork server (a small process that has imported only the PDF reader): a
worker forked from the asking process itself, whose other threads (ONNX, Chroma, a web
server) may hold a lock at that instant, can wait on it forever.  Where the fork server is
unavailable (Windows), the PDF is parsed in-process, without a budget.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

from assistant.formats import pdf
from assistant.formats.pdf import PdfDocument, PdfError

_LOCK = threading.Lock()
_MB = 1 << 20


@dataclass(frozen=True)
class Budget:
    """What parsing one PDF may take: memory (MB of address space) and CPU seconds."""

    memory_mb: float = 2048.0
    seconds: float = 120.0


def read_within(path: str | Path, max_pages: int, budget: Budget | None = None) -> tuple[int, PdfDocument | None]:
    """(pages in the file, its document) -- the document is None when the file has more than
    `max_pages` pages (then it is not read).  Raises PdfError for a file pdf.read_pdf refuses
    and for one that passes its budget."""
    path, budget = Path(path), budget or Budget()
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return _read(path, max_pages)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["assistant.formats.pdf"])  # imported once by the server, not by every worker
    with _LOCK:
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(send, path, max_pages, budget), name="pdf-worker")
        proc.start()
        send.close()
        message = None
        try:
            if receive.poll(budget.seconds * 2 + 10):  # wall clock: also a worker stuck waiting
                message = receive.recv()
        except EOFError:  # the worker died (a limit) before it answered
            pass
        finally:
            receive.close()
            if message is None and proc.is_alive():
                proc.kill()
            proc.join(10)
    if message is None:
        raise PdfError(_over_budget(path, budget, proc.exitcode))
    kind, value = message
    if kind == "ok":
        return value
    if kind == "memory":
        raise PdfError(_over_budget(path, budget, -signal.SIGABRT))
    raise PdfError(value)


def _over_budget(path: Path, budget: Budget, exitcode: int | None) -> str:
    if exitcode in (-signal.SIGXCPU, -signal.SIGKILL, None):
        return (
            f"{path.name}: parsing it took more than its budget of {budget.seconds:g} CPU seconds "
            "(setting pdf_seconds); refused (a PDF made to exhaust the parser, or a damaged one?)"
        )
    return (
        f"{path.name}: parsing it needed more than its budget of {budget.memory_mb:g} MB of memory "
        "(setting pdf_memory_mb); refused (a PDF made to exhaust the parser, or a damaged one?)"
    )


def _read(path: Path, max_pages: int) -> tuple[int, PdfDocument | None]:
    pages = pdf.page_count(path)
    return pages, (pdf.read_pdf(path, max_pages=max_pages) if pages <= max_pages else None)


def _child(conn, path: Path, max_pages: int, budget: Budget) -> None:
    """The worker: limits first, then the PDF; its answer is ("ok", result), ("pdf", message),
    ("memory", "") or ("error", message)."""
    faulthandler.disable()  # a worker stopped by its limits is expected: no traceback dump of the parent's threads
    _limit(budget)
    try:
        answer = ("ok", _read(path, max_pages))
    except PdfError as e:
        answer = ("pdf", str(e))
    except MemoryError:
        answer = ("memory", "")
    except Exception as e:  # noqa: BLE001 - told to the parent, which names the file
        answer = ("error", f"{path.name}: cannot be read ({type(e).__name__}: {e})")
    try:
        conn.send(answer)
    except MemoryError:
        conn.send(("memory", ""))
    conn.close()


def _limit(budget: Budget) -> None:
    import resource

    try:
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        used = 0
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = used + int(budget.memory_mb * _MB)
    if hard == resource.RLIM_INFINITY or limit < hard:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    seconds = max(1, int(budget.seconds + 0.999))
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY or seconds < hard:
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, hard))
