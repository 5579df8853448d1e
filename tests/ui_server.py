"""Start the real web app (`python app.py`, as a Space runs it) on 127.0.0.1 for UI tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from servers import free_port, stop_process, wait_until_up

ROOT = Path(__file__).parent.parent
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHROMIUM = "/usr/bin/chromium"


@dataclass
class AppServer:
    url: str
    proc: subprocess.Popen
    log: Path
    index_dir: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        stop_process(self.proc)


def start_app(built_index: Path, model_cache: Path, workdir: Path, timeout: float = 180, **env_extra: str) -> AppServer:
    """`python app.py` over a private copy of the bundled index, on a free port (via GRADIO_SERVER_*)."""
    index = workdir / "index"
    shutil.copytree(built_index, index)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_", "GRADIO_"))}
    env.update(
        ASSISTANT_INDEX_DIR=str(index),
        ASSISTANT_MODEL_CACHE=str(model_cache),
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
        **env_extra,
    )
    log = workdir / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = AppServer(f"http://127.0.0.1:{port}", proc, log, index)
    wait_until_up(proc, server.url + "/config", timeout, "app.py", server.output, server.stop)
    return server
