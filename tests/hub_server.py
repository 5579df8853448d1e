"""A Hugging Face Hub file endpoint on 127.0.0.1 for the tests: `/{repo}/resolve/{revision}/{path}`
answers HEAD and GET with the headers huggingface_hub reads (X-Repo-Commit, ETag,
Content-Length), for files the test gives it; anything else is a 404 with the Hub's
X-Error-Code.  Every request is recorded, so a test can count downloads."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"  # any 40 hex digits: the "revision" resolved


class HubServer:
    def __init__(self, repo: str, files: dict[str, bytes]):
        self.repo, self.files = repo, files
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def gets(self, path: str) -> int:
        """How many times `path` of the repo was downloaded."""
        with self._lock:
            return sum(1 for method, p in self.requests if method == "GET" and p.endswith(f"/{path}"))

    def start(self) -> HubServer:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: bool) -> None:
                with hub._lock:
                    hub.requests.append((self.command, self.path))
                prefix = f"/{hub.repo}/resolve/"
                name = self.path.split("?")[0].removeprefix(prefix).partition("/")[2]
                data = hub.files.get(name) if self.path.startswith(prefix) else None
                if data is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_HEAD(self) -> None:  # noqa: N802 (http.server's names)
                self._answer(body=False)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(body=True)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
