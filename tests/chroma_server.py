"""A real `chroma run` server on 127.0.0.1 for tests: start, stop, pause, restart on the same data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from servers import free_port, stop_process, wait_until_up


class ChromaServer:
    def __init__(self, path: Path, port: int | None = None):
        self.path = path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = path.parent / f"chroma-{self.port}.log"

    def start(self, timeout: float = 60.0) -> ChromaServer:
        exe = Path(sys.executable).with_name("chroma")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(exe), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_up(
            self.proc,
            f"{self.url}/api/v2/heartbeat",
            timeout,
            "chroma run",
            lambda: self.log.read_text(errors="replace"),
            self.stop,
        )
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)  # in case a test paused it
        stop_process(self.proc)
        self.proc = None

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)
