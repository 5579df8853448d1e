"""Commands run through the process that holds an embedded index.

An embedded index belongs to one process (index/store.py).  While `serve` or `watch` holds
one, it also listens on 127.0.0.1 (a free port) for commands from other terminals, and
writes where, with a random token, to <index>/.relay.json (readable by its owner only).  A
command refused with IndexBusy finds that file and sends its parsed arguments there; the
holder runs it with its own assistant -- so `search`, `ask`, `papers`, `info` and `export`
see its papers as they are now, and `ingest`, `sync` and `remove` write through its locks --
and returns the output and exit code.  Paths in the arguments are made absolute first.
Answer settings given as flags (--backend, --model, --base-url, --gguf) apply to that command;
secrets never travel (the holder's own key is used).
"""

from __future__ import annotations

import argparse
import hmac
import io
import json
import logging
import os
import secrets
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from assistant.cli.arguments import USER_ERRORS

log = logging.getLogger(__name__)

RELAY_FILE = ".relay.json"
RELAYED = ("search", "ask", "papers", "info", "export", "ingest", "sync", "remove")
PATH_ARGS = ("file", "out", "bib", "csl", "ris")  # single paths; `sources` is a list of them
ANSWER_FLAGS = ("backend", "model", "base_url", "gguf")
MAX_REQUEST = 1 << 20


class _ThreadOutput:
    """sys.stdout / sys.stderr while a relay runs: a relayed command's thread writes to its own
    buffer, every other thread to the real stream."""

    def __init__(self, real):
        self.real, self.local = real, threading.local()

    def write(self, s: str) -> int:
        target = getattr(self.local, "buffer", None)
        return (target or self.real).write(s)

    def flush(self) -> None:
        target = getattr(self.local, "buffer", None)
        (target or self.real).flush()

    def isatty(self) -> bool:
        return getattr(self.local, "buffer", None) is None and self.real.isatty()

    def __getattr__(self, name):
        return getattr(self.real, name)


def _capture() -> tuple[_ThreadOutput, _ThreadOutput]:
    if not isinstance(sys.stdout, _ThreadOutput):
        sys.stdout = _ThreadOutput(sys.stdout)
    if not isinstance(sys.stderr, _ThreadOutput):
        sys.stderr = _ThreadOutput(sys.stderr)
    return sys.stdout, sys.stderr


class Relay:
    """The holder's side: runs relayed commands with `pa` until stop(); `commands` maps each
    command's name to its function (the parser's)."""

    def __init__(self, pa, commands: dict):
        self.pa, self.commands = pa, commands
        self.token = secrets.token_hex(16)
        self.file = Path(pa.store.root) / RELAY_FILE
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="relay", daemon=True)

    def start(self) -> Relay:
        _capture()
        self._thread.start()
        where = {"port": self.server.server_address[1], "token": self.token, "pid": os.getpid()}
        fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(where, f)
        return self

    def stop(self) -> None:
        self.file.unlink(missing_ok=True)
        self.server.shutdown()
        self.server.server_close()

    def run(self, command: str, values: dict) -> dict:
        """Run one relayed command; returns its exit code and output."""
        if command not in RELAYED:
            return {"code": 2, "stdout": "", "stderr": f"error: `{command}` does not run through another process\n"}
        func = self.commands[command]
        args = argparse.Namespace(**values, command=command, func=func)
        args.relay_pa = self.pa.using(**{k: values[k] for k in ANSWER_FLAGS if values.get(k) is not None})
        out, err = io.StringIO(), io.StringIO()
        stdout, stderr = _capture()
        stdout.local.buffer, stderr.local.buffer = out, err
        try:
            code = func(args)
        except USER_ERRORS as e:
            print(f"error: {e}", file=err)
            code = 2
        except Exception as e:  # noqa: BLE001 - told to the client; the holder keeps serving
            log.exception("relayed command %s failed", command)
            print(f"error: {type(e).__name__}: {e}", file=err)
            code = 1
        finally:
            stdout.local.buffer = stderr.local.buffer = None
        return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}

    def _handler(self):
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server name
                size = int(self.headers.get("Content-Length") or 0)
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if not hmac.compare_digest(token, relay.token) or size > MAX_REQUEST:
                    self.send_error(403)
                    return
                try:
                    body = json.loads(self.rfile.read(size))
                    reply = relay.run(str(body["command"]), dict(body["args"]))
                except (ValueError, KeyError, TypeError) as e:
                    self.send_error(400, str(e))
                    return
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:  # no access log on stderr
                pass

        return Handler


def start_relay(pa, commands: dict) -> Relay | None:
    """Take commands from other terminals while this process holds an embedded index (None: it
    holds none, a Chroma server being shared anyway, or it is a public host, which takes none)."""
    if pa.settings.chroma_url or pa.settings.public:
        return None
    return Relay(pa, commands).start()


def forward(args: argparse.Namespace, root: Path | None) -> int | None:
    """Run the command through the process holding the index at `root`; its exit code, having
    printed its output (None: no process there takes commands, or this one cannot go)."""
    if root is None or args.command not in RELAYED:
        return None
    try:
        where = json.loads((Path(root) / RELAY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    values = {k: v for k, v in vars(args).items() if k not in ("func", "command", "set", "config")}
    for name in PATH_ARGS:
        if values.get(name):
            values[name] = str(Path(values[name]).expanduser().resolve())
    if values.get("sources"):
        values["sources"] = [str(Path(s).expanduser().resolve()) for s in values["sources"]]
    request = urllib.request.Request(
        f"http://127.0.0.1:{int(where['port'])}/run",
        data=json.dumps({"command": args.command, "args": values}).encode(),
        headers={"Authorization": f"Bearer {where['token']}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1: never through a proxy
    try:
        with opener.open(request, timeout=3600) as r:
            reply = json.loads(r.read())
    except OSError:
        return None  # the holder is gone (or not listening): the caller reports the busy index
    print(f"(run by the process holding the index, pid {where.get('pid')})", file=sys.stderr)
    sys.stdout.write(reply["stdout"])
    sys.stderr.write(reply["stderr"])
    return int(reply["code"])
