"""The PDF reader's worker server: a process of its own (`main()`, in an interpreter
started by pdf_worker) that forks one child per PDF, sets the child's limits and relays its answer.

Protocol, over the server's stdin and stdout: messages framed as an 8-byte length and the bytes
(a pickle).  The server sends b"ready" once it has imported the reader; then, for each request
(path, max_pages, memory_mb, seconds), one reply {"answer": bytes | None, "status": int,
"stopped": bool}: the child's pickled answer (None when it died first), its exit code as
os.waitstatus_to_exitcode gives it (negative: a signal) and whether it was stopped at the wall
clock (2 x seconds + 10 s).  The server exits when its stdin ends (the asking process is gone).
"""

from __future__ import annotations

import faulthandler
import math
import os
import pickle
import select
import signal
import struct
import sys
import time
from pathlib import Path

from assistant.formats import pdf
from assistant.formats.pdf import PdfDocument, PdfError

_MB = 1 << 20
_HEADER = struct.Struct(">Q")


def write_message(fd: int, data: bytes) -> None:
    """Send one framed message on file descriptor `fd`."""
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def read_message(fd: int) -> bytes | None:
    """One framed message from `fd`; None when it ends first."""
    header = _read_exactly(fd, _HEADER.size)
    return None if header is None else _read_exactly(fd, _HEADER.unpack(header)[0])


def readable(fds: list[int], timeout: float) -> list[int]:
    """Those of `fds` with something to read (or closed at the other end) within `timeout` seconds."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return [fd for fd, _ in poller.poll(max(0, math.ceil(timeout * 1000)))]


def _read_exactly(fd: int, n: int) -> bytes | None:
    parts, left = [], n
    while left:
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            return None
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def read(path: Path, max_pages: int) -> tuple[int, PdfDocument | None]:
    """(pages, document) -- the document is None past `max_pages`; what a worker child does."""
    pages = pdf.page_count(path)
    return pages, (pdf.read_pdf(path, max_pages=max_pages) if pages <= max_pages else None)


def wall_clock(seconds: float) -> float:
    """How long a worker may live, waiting included, for a CPU budget of `seconds`."""
    return seconds * 2 + 10


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the asking process decides; its end closes our stdin
    pipes = _own_pipes()
    _warm()
    write_message(pipes[1], b"ready")
    while (request := read_message(pipes[0])) is not None:
        reply = _serve(pickle.loads(request), pipes)
        if reply is None:  # the asking process went away meanwhile
            break
        write_message(pipes[1], pickle.dumps(reply))
    return 0


def _own_pipes() -> tuple[int, int]:
    """(requests, replies): stdin and stdout moved to descriptors of the protocol's own, so that
    nothing printed can garble a reply; fd 0 becomes /dev/null and fd 1 the server's stderr."""
    pipes = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    return pipes


def _warm() -> None:
    """What the reader loads on first use, loaded once here for every child."""
    import pypdfium2  # noqa: F401
    from wordfreq import zipf_frequency

    zipf_frequency("the", "en")  # the word list line-end hyphens are judged by


def _serve(request: tuple[str, int, float, float], pipes: tuple[int, int]) -> dict | None:
    """Fork a worker for `request` and wait for it: the reply, or None when the asking process is gone."""
    path, max_pages, memory_mb, seconds = request
    receive, send = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        for fd in (receive, *pipes):  # the server's pipes stay the server's: its end is seen at once
            os.close(fd)
        _child(send, Path(path), max_pages, memory_mb, seconds)
    os.close(send)
    try:
        answer, stopped = _collect(receive, pipes[0], time.monotonic() + wall_clock(seconds))
    finally:
        os.close(receive)
    if answer is None or stopped:
        _kill(pid)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if stopped is None:
        return None
    return {"answer": answer or None, "status": status, "stopped": stopped}


def _collect(fd: int, requests: int, deadline: float) -> tuple[bytes | None, bool | None]:
    """Everything the child writes until it closes its end: (bytes, False); (None, True) when the
    deadline passes first; (None, None) when `requests` ends (the asking process is gone)."""
    parts = []
    while (left := deadline - time.monotonic()) > 0:
        ready = readable([fd, requests], left)
        if requests in ready:
            return None, None
        if fd in ready:
            part = os.read(fd, 1 << 20)
            if not part:
                return b"".join(parts), False
            parts.append(part)
    return None, True


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _child(fd: int, path: Path, max_pages: int, memory_mb: float, seconds: float) -> None:
    """The worker: limits first, then the PDF; it writes ("ok", result), ("pdf", message),
    ("memory", "") or ("error", message) and exits."""
    code = 1
    try:
        faulthandler.disable()  # a worker stopped by its limits is expected: no traceback dump
        _limit(memory_mb, seconds)
        try:
            answer = ("ok", read(path, max_pages))
        except PdfError as e:
            answer = ("pdf", str(e))
        except MemoryError:
            answer = ("memory", "")
        except Exception as e:  # noqa: BLE001 - told to the asking process, which names the file
            answer = ("error", f"{path.name}: cannot be read ({type(e).__name__}: {e})")
        try:
            data = pickle.dumps(answer)
        except MemoryError:
            data = pickle.dumps(("memory", ""))
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        code = 0
    finally:
        os._exit(code)


def _limit(memory_mb: float, seconds: float) -> None:
    """RLIMIT_AS `memory_mb` above what this process has now; RLIMIT_CPU `seconds`."""
    import resource

    try:
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        used = 0
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = used + int(memory_mb * _MB)
    if hard == resource.RLIM_INFINITY or limit < hard:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    cpu = max(1, int(seconds + 0.999))
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY or cpu < hard:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard))


if __name__ == "__main__":
    sys.exit(main())
