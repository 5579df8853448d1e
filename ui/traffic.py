"""Fair shares on a public deployment: who a request comes from, and how much work one
client may have queued or running at once.

`ClientGate` is an ASGI middleware in front of the whole app.  For every HTTP request it

* works out the caller's address: the connection's peer, or -- behind `trusted_proxies`
  reverse proxies -- the address the outermost of them saw (the `trusted_proxies`-th
  X-Forwarded-For entry from the right; entries further left are the caller's own);
* stamps it into the request as a signed header (CLIENT_HEADER), which rate limits key on
  (`sessions.client_key`).  Calls Gradio relays to itself (MCP tool calls) arrive from
  127.0.0.1 carrying the original request's headers: their stamp, signed by this process,
  is kept; a stamp a caller wrote itself fails the signature and is replaced;
* refuses, with 429 and a message, a POST that would give one client more than
  `client_requests` pieces of work at once (events in Gradio's queue, MCP calls and uploads
  under way), so a flood from one client is refused at once instead of filling the queue
  for everyone; and, with 413, a request body over MAX_BODY (uploads excepted: Gradio's
  max_file_size bounds those).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

CLIENT_HEADER = "x-pa-client"
MAX_BODY = 1 << 20  # bytes of a request body (a question, its history, arguments); uploads excepted
_KEY = secrets.token_bytes(32)  # signs this process's stamps; a new one each start
# POSTs that start work: queue an event, run a call (HTTP API, MCP), upload a file.
_WORK = ("/gradio_api/queue/join", "/gradio_api/call/", "/gradio_api/run/", "/gradio_api/mcp", "/gradio_api/upload")
_UPLOAD = "/gradio_api/upload"


def _sign(address: str) -> str:
    return hmac.new(_KEY, address.encode(), hashlib.sha256).hexdigest()[:32]


def stamp(address: str) -> str:
    """The CLIENT_HEADER value for `address`."""
    return f"{address} {_sign(address)}"


def stamped_address(value: str | None) -> str | None:
    """The address a CLIENT_HEADER value names, if this process signed it; else None."""
    address, _, sig = (value or "").rpartition(" ")
    return address if address and hmac.compare_digest(sig, _sign(address)) else None


def caller_address(forwarded: str, peer: str, trusted_proxies: int) -> str:
    """The caller's address: `peer`, or behind `trusted_proxies` proxies the address the
    outermost of them saw (the trusted_proxies-th X-Forwarded-For entry from the right)."""
    hops = [h.strip() for h in forwarded.split(",") if h.strip()] if trusted_proxies > 0 else []
    return hops[-min(trusted_proxies, len(hops))] if hops else (peer or "unknown")


class ClientGate:
    """The ASGI middleware (see the module docstring).  `queued(address)` counts the events of
    that client in Gradio's queue (waiting or running)."""

    def __init__(self, app: Any, trusted_proxies: int, max_work: int, queued: Callable[[str], int]):
        self.app, self.trusted_proxies, self.max_work, self.queued = app, trusted_proxies, max_work, queued
        self._running: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        relayed = stamped_address(headers.get(CLIENT_HEADER))
        peer = (scope.get("client") or ("", 0))[0]
        address = relayed or caller_address(headers.get("x-forwarded-for", ""), peer, self.trusted_proxies)
        raw = [(k, v) for k, v in scope.get("headers", []) if k.lower() != CLIENT_HEADER.encode()]
        scope = {**scope, "headers": [*raw, (CLIENT_HEADER.encode(), stamp(address).encode())]}
        path = scope.get("path", "")
        if scope.get("method") != "POST" or relayed or not path.startswith(_WORK):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(address, path, headers.get("content-length", ""))
        if refusal:
            await _drain(receive)  # read (never kept) so the client sees the answer, not a reset connection
            await _refuse(send, *refusal)
            return
        with self._lock:
            self._running[address] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                self._running[address] -= 1
                if self._running[address] <= 0:
                    del self._running[address]

    def _refusal(self, address: str, path: str, length: str) -> tuple[int, str] | None:
        if not path.startswith(_UPLOAD) and length.isdigit() and int(length) > MAX_BODY:
            return 413, f"the request is {int(length)} bytes; the limit is {MAX_BODY} bytes"
        busy = self._running.get(address, 0) + self.queued(address)
        if busy >= self.max_work:
            return 429, (
                f"too many requests at once from your address ({busy} queued or running; the limit is "
                f"{self.max_work}, setting client_requests): wait for them to finish"
            )
        return None


async def _drain(receive, limit: int = 64 << 20) -> None:
    """Read a request body up to `limit` bytes, discarding it."""
    seen = 0
    while seen <= limit:
        message = await receive()
        if message.get("type") != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body"):
            return


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"error": message, "detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            + ([(b"retry-after", b"5")] if status == 429 else []),
        }
    )
    await send({"type": "http.response.body", "body": body})


def queued_counter(demo: Any) -> Callable[[str], int]:
    """`queued(address)`: the events of Gradio's queue (waiting or running) whose request
    carries `address`'s stamp."""

    def queued(address: str) -> int:
        events = getattr(getattr(demo, "_queue", None), "event_ids_to_events", None) or {}
        n = 0
        for event in list(events.values()):
            headers = getattr(getattr(event, "request", None), "headers", None)
            if not hasattr(headers, "get") or headers.get("x-gradio-user") == "mcp":
                continue  # an MCP call Gradio relays to itself: its MCP request already counts
            if stamped_address(headers.get(CLIENT_HEADER)) == address:
                n += 1
        return n

    return queued
