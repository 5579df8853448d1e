"""Outbound-URL safety for a public deployment: no proxying into the server's network, no
secrets in what is shown.

A visitor of the web app can type the base URL of an "OpenAI-compatible server".  Without
a guard, the server would then send requests wherever the visitor points it: to
127.0.0.1 (the Chroma server, a llama.cpp server, admin pages), to the private network,
or to the cloud metadata service at 169.254.169.254 that hands out credentials.

What is enforced where:

* `check_url(url)` -- when a URL is accepted (a settings form, a config file): only
  http/https; the host must match `allowed_hosts` when that is set; the host name must not
  be a local one (localhost, metadata.google.internal, *.internal, single-label names), and
  every address it resolves to now must be public.  Early, readable feedback, but not
  enough on its own: DNS can answer differently a second later (DNS rebinding).
* `guarded_client()` -- when connecting: an httpx client whose httpcore network backend
  resolves the host itself, checks every address with the same rules, and then connects
  to the checked address, never to the name again.  Host header, TLS SNI and certificate
  verification still use the original host name.  This is the enforcement; redirects are
  covered too, since every connection goes through it.
* what may be shown (no user:password@ parts, secret-looking parameters or keys) is
  `redact.py`'s part.

What the owner can open up, both per client/check:

* `allow_private=True` lifts the address and local-name rules (for the owner's own
  llama.cpp or Ollama on 127.0.0.1 or the LAN; never for URLs typed by visitors unless the
  owner means it).
* `allowed_hosts=("api.openai.com", "*.example.org")` restricts hosts to this list (exact
  names; `*.example.org` matches subdomains, not example.org itself).  It is checked even
  with allow_private, and does not by itself lift the address rules.

The guarded client ignores HTTP(S)_PROXY/ALL_PROXY: through a proxy the guard would only
see the proxy's address, and the proxy would connect wherever it was told.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

from assistant.net.redact import redact_text, redact_url

Resolver = Callable[[str, int], list[str]]  # (host, port) -> addresses, in the order to try
Connector = Callable[..., object]  # httpcore's connect_tcp(host, port, timeout, local_address, socket_options)


# --- the rules -----------------------------------------------------------------------------


class UnsafeURL(ValueError):
    """A URL or connection refused by the rules; str() says what and why, without secrets."""

    def __init__(self, message: str, *, url: str = "", reason: str = ""):
        super().__init__(message)
        self.url = url  # redacted
        self.reason = reason


class RefusedConnection(UnsafeURL, httpcore.ConnectError):
    """A connection the guarded client refused.  Also an httpcore.ConnectError so httpx
    turns it into httpx.ConnectError (with this as __cause__), which the openai client
    reports as APIConnectionError instead of letting an unknown exception escape."""


def refusal(exc: BaseException | None) -> UnsafeURL | None:
    """The UnsafeURL behind `exc` (openai.APIConnectionError -> httpx.ConnectError ->
    RefusedConnection), or None: lets a caller tell "refused" (do not retry) from "down"."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, UnsafeURL):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


_LOCAL_NAMES = {
    "localhost": "names this server itself",
    "metadata.google.internal": "is a cloud metadata service",
    "metadata.goog": "is a cloud metadata service",
    "metadata": "is a cloud metadata service",
    "instance-data": "is a cloud metadata service",
    "instance-data.ec2.internal": "is a cloud metadata service",
}
_LOCAL_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".lan")
_METADATA_IPS = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]
_NAT64 = [ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48")]


def _norm_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def address_problem(address: str) -> str:
    """Why connecting to `address` (an IP literal) is refused, "" if it is a public one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id (fe80::1%eth0)
    except ValueError:
        return "not an IP address"
    if ip.version == 6:
        embedded, how = None, ""
        if ip.ipv4_mapped:
            embedded, how = ip.ipv4_mapped, "IPv4-mapped"
        elif ip.sixtofour:
            embedded, how = ip.sixtofour, "6to4"
        elif any(ip in n for n in _NAT64):
            embedded, how = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
        if embedded is not None:
            inner = address_problem(str(embedded))
            return f"the {how} form of {embedded}, {inner}" if inner else ""
    if ip in _METADATA_IPS:
        return "the cloud metadata service"
    if ip.is_unspecified or ip in _THIS_NETWORK:
        return "an unspecified address (it reaches this server itself)"
    if ip.is_loopback:
        return "a loopback address (this server itself)"
    if ip.is_link_local:
        return "a link-local address"
    if ip in _CGNAT:
        return "a carrier-grade NAT address (shared, not public)"
    if ip.is_multicast:
        return "a multicast address"
    if any(ip in n for n in _PRIVATE) or (ip.version == 6 and ip.is_site_local):
        return "a private network address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return ""


def _host_matches(host: str, pattern: str) -> bool:
    pattern = _norm_host(pattern)
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


@dataclass(frozen=True)
class Policy:
    """The rules: see the module docstring for what each knob opens up."""

    allow_private: bool = False
    allowed_hosts: tuple[str, ...] = ()

    def host_problem(self, host: str) -> str:
        """Why `host` (a name or IP literal) is refused before any lookup, "" if it is not."""
        host = _norm_host(host)
        if not host:
            return "it has no host"
        if self.allowed_hosts and not any(_host_matches(host, p) for p in self.allowed_hosts):
            return f"{host} is not one of the allowed hosts ({', '.join(self.allowed_hosts)})"
        if self.allow_private:
            return ""
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            pass
        else:
            return f"{host} is {problem}" if (problem := address_problem(host)) else ""
        if host in _LOCAL_NAMES:
            return f"{host} {_LOCAL_NAMES[host]}"
        if host.endswith(_LOCAL_SUFFIXES):
            return f"{host} is a local network name"
        if "." not in host:
            return f"{host} is a single-label name, which only resolves on a local network"
        return ""

    def addresses_problem(self, host: str, addresses: list[str]) -> str:
        """Why connecting to `host` at `addresses` is refused: every address must pass."""
        if self.allow_private:
            return ""
        if not addresses:
            return f"{_norm_host(host)} has no address"
        for a in addresses:
            if problem := address_problem(a):
                return (
                    problem if _norm_host(host) == _norm_host(a) else f"{_norm_host(host)} resolves to {a}, {problem}"
                )
        return ""


def _why(e: Exception) -> str:
    """ "Name or service not known", not "[Errno -2] Name or service not known"."""
    return str(getattr(e, "strerror", None) or e)


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for `host`, first-to-try first, no repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def policy(allow_private: bool = False, allowed_hosts: Iterable[str] | str = ()) -> Policy:
    """A Policy; a single host given as a string counts as a one-host list."""
    hosts = (allowed_hosts,) if isinstance(allowed_hosts, str) else tuple(allowed_hosts)
    return Policy(bool(allow_private), tuple(h for h in hosts if h and h.strip()))


def check_url(
    url: str, *, allow_private: bool = False, allowed_hosts: Iterable[str] = (), resolver: Resolver = system_resolver
) -> str:
    """`url` if it is safe to send requests to, else UnsafeURL saying what was refused and why.
    Resolves the host (unless allow_private) -- so "evil.example -> 127.0.0.1" is refused
    here already; the guarded client checks again at every connection."""
    shown = redact_url(url)
    rules = policy(allow_private, allowed_hosts)

    def refuse(reason: str) -> UnsafeURL:
        return UnsafeURL(f"refused {shown}: {reason}", url=shown, reason=reason)

    try:
        parts = urlsplit(url.strip() if isinstance(url, str) else "")
        port = parts.port
    except ValueError as e:
        raise refuse(f"not a valid URL ({redact_text(str(e))})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise refuse(
            "only http:// and https:// URLs are allowed"
            if parts.scheme
            else "it has no scheme; write http:// or https:// in front"
        )
    host = parts.hostname or ""
    if problem := rules.host_problem(host):
        raise refuse(problem)
    if not allow_private:
        port = port or (443 if parts.scheme.lower() == "https" else 80)
        try:
            addresses = resolver(host, port)
        except (OSError, UnicodeError) as e:
            raise refuse(f"its host {_norm_host(host)} could not be looked up ({_why(e)})") from None
        if problem := rules.addresses_problem(host, addresses):
            raise refuse(problem)
    return url


# --- connect-time enforcement --------------------------------------------------------------


class _Guard:
    """Shared by the sync and async backends: name rules, then resolve, then address rules."""

    def __init__(self, policy: Policy, resolver: Resolver):
        self.policy, self.resolver = policy, resolver

    def refuse(self, host: str, port: int, reason: str) -> RefusedConnection:
        shown = f"{_norm_host(host)} (port {port})"
        return RefusedConnection(f"refused to connect to {shown}: {reason}", url=shown, reason=reason)

    def before_lookup(self, host: str, port: int) -> None:
        if problem := self.policy.host_problem(host):
            raise self.refuse(host, port, problem)

    def after_lookup(self, host: str, port: int, addresses: list[str]) -> list[str]:
        if problem := self.policy.addresses_problem(host, addresses):
            raise self.refuse(host, port, problem)
        if not addresses:
            raise httpcore.ConnectError(f"{_norm_host(host)} has no address")
        return addresses


def _lookup_failed(host: str, e: Exception) -> httpcore.ConnectError:
    return httpcore.ConnectError(f"cannot look up {_norm_host(host)}: {_why(e)}")


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's sync network backend, but connect_tcp checks, then connects by address.

    `resolver(host, port)` and `connector(address, port, **kw)` are the seams tests use to
    see exactly what is looked up and what is connected to."""

    def __init__(self, policy: Policy, resolver: Resolver = system_resolver, connector: Connector | None = None):
        self.guard = _Guard(policy, resolver)
        self.connector = connector or httpcore.SyncBackend().connect_tcp

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.guard.before_lookup(host, port)
        try:
            addresses = self.guard.resolver(host, port)
        except (OSError, UnicodeError) as e:
            raise _lookup_failed(host, e) from None
        last: Exception | None = None
        for address in self.guard.after_lookup(host, port, addresses):
            try:  # connect to the checked address, never to the name again (rebinding)
                return self.connector(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
        raise last  # type: ignore[misc]  -- after_lookup refused an empty list

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise RefusedConnection("refused to connect to a Unix socket", reason="Unix sockets are never allowed")

    def sleep(self, seconds: float) -> None:
        httpcore.SyncBackend().sleep(seconds)


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """The async twin of GuardedBackend (resolving in a worker thread, connecting via anyio)."""

    def __init__(self, policy: Policy, resolver: Resolver = system_resolver, connector: Connector | None = None):
        self.guard = _Guard(policy, resolver)
        self.connector = connector or httpcore.AnyIOBackend().connect_tcp

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        import anyio.to_thread

        self.guard.before_lookup(host, port)
        try:
            addresses = await anyio.to_thread.run_sync(self.guard.resolver, host, port)
        except (OSError, UnicodeError) as e:
            raise _lookup_failed(host, e) from None
        last: Exception | None = None
        for address in self.guard.after_lookup(host, port, addresses):
            try:
                return await self.connector(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
        raise last  # type: ignore[misc]

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise RefusedConnection("refused to connect to a Unix socket", reason="Unix sockets are never allowed")

    async def sleep(self, seconds: float) -> None:
        await httpcore.AnyIOBackend().sleep(seconds)


LIMITS = httpx.Limits()  # httpx's defaults


def _pool_kwargs(verify, limits: httpx.Limits) -> dict:
    return {
        "ssl_context": httpx.create_ssl_context(verify=verify),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport with its connection pool rebuilt on a GuardedBackend."""

    def __init__(self, backend: GuardedBackend, *, verify=True, limits: httpx.Limits = LIMITS):
        super().__init__(verify=verify, limits=limits)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            # httpx changed how its transport holds the pool: fail closed, not unguarded.
            raise RuntimeError(f"netguard does not support httpx {httpx.__version__}")
        self._pool = httpcore.ConnectionPool(network_backend=backend, **_pool_kwargs(verify, limits))


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, backend: AsyncGuardedBackend, *, verify=True, limits: httpx.Limits = LIMITS):
        super().__init__(verify=verify, limits=limits)
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError(f"netguard does not support httpx {httpx.__version__}")
        self._pool = httpcore.AsyncConnectionPool(network_backend=backend, **_pool_kwargs(verify, limits))


def guarded_client(
    *,
    allow_private: bool = False,
    allowed_hosts: Iterable[str] = (),
    timeout: float | httpx.Timeout = 60.0,
    verify=True,
    resolver: Resolver = system_resolver,
    connector: Connector | None = None,
) -> httpx.Client:
    """An httpx.Client that connects only where the rules allow (see the module docstring).
    For the openai client: `openai.OpenAI(..., http_client=guarded_client(...))`.
    A refused connection raises httpx.ConnectError whose __cause__ is a RefusedConnection
    (see `refusal()`), before any byte is sent."""
    backend = GuardedBackend(policy(allow_private, allowed_hosts), resolver, connector)
    # trust_env=False: no HTTP(S)_PROXY (see the module docstring); redirects are not
    # followed (an API does not redirect; a redirect would be checked all the same).
    return httpx.Client(
        transport=GuardedTransport(backend, verify=verify), timeout=timeout, trust_env=False, follow_redirects=False
    )


def guarded_async_client(
    *,
    allow_private: bool = False,
    allowed_hosts: Iterable[str] = (),
    timeout: float | httpx.Timeout = 60.0,
    verify=True,
    resolver: Resolver = system_resolver,
    connector: Connector | None = None,
) -> httpx.AsyncClient:
    """The httpx.AsyncClient counterpart of guarded_client (for openai.AsyncOpenAI)."""
    backend = AsyncGuardedBackend(policy(allow_private, allowed_hosts), resolver, connector)
    return httpx.AsyncClient(
        transport=AsyncGuardedTransport(backend, verify=verify),
        timeout=timeout,
        trust_env=False,
        follow_redirects=False,
    )
