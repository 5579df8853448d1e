"""Visitors: their per-session settings, and the rules a public deployment holds them to.

A browser session's answer settings (backend, model, base URL, key) live server-side in a
gr.State and reach the library through `pa.using(...)`: a view sharing the index.  On a
public deployment (setting `public`, on by default on a Hugging Face Space):

* a visitor may point the server only at hosts the owner lists (`visitor_hosts`), never at
  the server's own network unless the owner allows it (`visitor_private_urls`; checked
  again at connect time, assistant/netguard.py), and may choose only listed models;
* LLM answers are rate-limited per client address and overall (extractive answers still
  come); one address may have only so much work queued at once (ui/traffic.py);
* a visitor's papers stay in that visitor's session (assistant/session.py), within limits;
* errors a visitor sees are generic, with an id that the server log repeats with details.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field, fields
from typing import Any

from assistant import PaperAssistant, Settings
from assistant.net.guard import UnsafeURL, check_url
from assistant.net.redact import redact_url
from assistant.settings import SettingsError
from ui.traffic import CLIENT_HEADER, stamped_address

log = logging.getLogger(__name__)

HISTORY_FORMAT = 'history must be a list of {"role": "user" | "assistant", "content": "..."} messages'


def valid_history(history: Any) -> bool:
    """An API caller's `history`: None, or a list of {"role": "user"|"assistant", "content": str}."""
    return history is None or (
        isinstance(history, list)
        and all(
            isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)
            for m in history
        )
    )


VIEW_CACHE = 32  # distinct session settings kept ready


@dataclass(frozen=True)
class SessionSettings:
    """One browser session's answer settings; empty fields keep the server's.

    Lives server-side in a gr.State.  The key is never returned to the page, and repr()
    (tracebacks, logs) shows only whether one is set.
    """

    backend: str = ""
    model: str = ""
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    top_k: int = 0

    def changes(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def __repr__(self) -> str:
        shown = {k: (redact_url(v) if k == "base_url" else v) for k, v in self.changes().items() if k != "api_key"}
        return f"SessionSettings({shown}, api_key={'<set>' if self.api_key else '<none>'})"


def _listed(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


class Rules:
    """What visitors may change, as this deployment's settings allow."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.public = settings.public
        self.hosts = _listed(settings.visitor_hosts)
        self.models = _listed(settings.visitor_models)

    def check(self, s: SessionSettings) -> None:
        """Raise SettingsError (a message for the visitor) when these session settings are not allowed."""
        if not self.public:
            return
        server = self.settings
        if s.base_url:
            if not self.hosts:
                raise SettingsError("this deployment does not let visitors choose an LLM server")
            allowed = () if self.hosts == ["*"] else self.hosts
            try:
                check_url(s.base_url, allow_private=server.visitor_private_urls, allowed_hosts=allowed)
            except UnsafeURL as e:
                raise SettingsError(str(e)) from None
        if s.backend == "local" and server.backend != "local":
            raise SettingsError("this deployment does not run a local model for visitors")
        if s.model and s.model != server.model and s.model not in self.models:
            offered = ", ".join([server.model or "the default"] + self.models)
            raise SettingsError(f"model {s.model!r} is not offered here; choose one of: {offered}")
        if (
            s.backend in ("openai", "auto")
            and not s.base_url
            and not s.api_key
            and not (server.secret("api_key") or server.base_url)
        ):
            raise SettingsError("this deployment has no LLM server configured: give a base URL and key of your own")

    def changes(self, s: SessionSettings) -> dict[str, Any]:
        """The library settings a session's choices become (base URLs a visitor typed on a public
        deployment may not reach private addresses, whatever their DNS says when connecting)."""
        changes = s.changes()
        if self.public and s.base_url:
            changes["base_url_private"] = self.settings.visitor_private_urls
        return changes


class Views:
    """Assistant views by session settings: sessions with the same settings share one (and the
    LLM client it holds) instead of building one per request."""

    def __init__(self, pa: PaperAssistant, rules: Rules):
        self.pa, self.rules = pa, rules
        self._views: OrderedDict[SessionSettings, PaperAssistant] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: SessionSettings | None) -> PaperAssistant:
        if not session or not session.changes():
            return self.pa
        with self._lock:
            view = self._views.pop(session, None)
            if view is None:
                self.rules.check(session)
                view = self.pa.using(**self.rules.changes(session))
            self._views[session] = view
            while len(self._views) > VIEW_CACHE:
                self._views.popitem(last=False)
            return view


class RateLimit:
    """At most `per_key` events per key and `total` events overall in any `window` seconds
    (a sliding window; 0 = no events allowed)."""

    def __init__(self, per_key: int, total: int, window: float = 60.0, keys: int = 10_000):
        self.per_key, self.total, self.window, self.max_keys = per_key, total, window, keys
        self._all: deque[float] = deque()
        self._by_key: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one event for `key` if both limits allow it; False (nothing counted) otherwise."""
        now = time.monotonic()
        with self._lock:
            mine = self._by_key.pop(key, None) or deque()
            self._by_key[key] = mine
            while len(self._by_key) > self.max_keys:
                self._by_key.popitem(last=False)
            for q in (self._all, mine):
                while q and q[0] <= now - self.window:
                    q.popleft()
            if len(mine) >= self.per_key or len(self._all) >= self.total:
                return False
            mine.append(now)
            self._all.append(now)
            return True


class Budget:
    """At most `per_key` units (passages embedded, say) per key in any `window` seconds."""

    def __init__(self, per_key: int, window: float = 3600.0, keys: int = 10_000):
        self.per_key, self.window, self.max_keys = per_key, window, keys
        self._spent: OrderedDict[str, deque[tuple[float, int]]] = OrderedDict()
        self._lock = threading.Lock()

    def spend(self, key: str, n: int) -> bool:
        """Count `n` units for `key` if they fit; False (nothing counted) otherwise."""
        now = time.monotonic()
        with self._lock:
            mine = self._spent.pop(key, None) or deque()
            self._spent[key] = mine
            while len(self._spent) > self.max_keys:
                self._spent.popitem(last=False)
            while mine and mine[0][0] <= now - self.window:
                mine.popleft()
            if sum(k for _, k in mine) + n > self.per_key:
                return False
            mine.append((now, n))
            return True


def client_key(request: Any, trusted_proxies: int = 0) -> str:
    """Who is asking, for rate limits: on a public deployment the client address that
    ui/traffic.py's ClientGate stamped into the request.  Without a stamp: the browser
    session, else the client address.  MCP
    calls, which Gradio relays through 127.0.0.1 with the original headers, and plain HTTP
    calls have no session of their own.  Behind `trusted_proxies` reverse proxies (a Space's)
    the address is the one the outermost proxy saw: each proxy appends the address it was
    called from to X-Forwarded-For, so that is the `trusted_proxies`-th entry from the right;
    anything further left was written by the caller and could be anything."""
    headers = getattr(request, "headers", None) or {}
    stamped = stamped_address(headers.get(CLIENT_HEADER)) if hasattr(headers, "get") else None
    if stamped:  # the address ClientGate worked out (public deployments): every call from it counts together
        return "ip:" + stamped
    session = getattr(request, "session_hash", None)
    # Gradio relays every MCP call through one client of its own, so all MCP callers share its session
    relayed = hasattr(headers, "get") and headers.get("x-gradio-user") == "mcp"
    if session and not relayed:
        return f"session:{session}"
    forwarded = headers.get("x-forwarded-for", "") if hasattr(headers, "get") and trusted_proxies > 0 else ""
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    if hops:
        return "ip:" + hops[-min(trusted_proxies, len(hops))]
    client = getattr(request, "client", None)
    return "ip:" + str(getattr(client, "host", "") or "unknown")


def error_id() -> str:
    return uuid.uuid4().hex[:8]
