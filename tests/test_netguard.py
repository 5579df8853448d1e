"""netguard: refused URLs never reach a socket, allowed ones work, secrets never show.

Real listeners on 127.0.0.1 (and ::1 when the machine has it) count every TCP connection
they accept.  "Nothing reached it" is checked without waiting: after the refused attempts
one direct request is sent; the listener accepts connections in order, so once that
request is answered any earlier connection would have been counted.  For addresses that
must never be tried at all (10.x, 169.254.169.254) the guard's connector hook refuses to
be called.
"""

from __future__ import annotations

import asyncio
import datetime
import http.client
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import httpcore
import httpx
import openai
import pytest

from assistant.net import guard as ng
from assistant.net import redact

KEY = "sk-test-NETGUARDsecret0123456789"
PUBLIC = "93.184.216.34"  # only ever handed to a connector that does not touch the network


class Listener:
    """An HTTP server on one loopback address: counts accepted connections, records requests."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None):
        self.accepted, self.requests, self.sni, self.redirect = 0, [], [], ""
        me, lock = self, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status=200, body=b"{}", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _record(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                me.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "host": self.headers.get("Host"),
                        "auth": self.headers.get("Authorization", ""),
                        "body": body,
                    }
                )

            def do_GET(self):
                self._record()
                if self.path == "/redirect":
                    return self._reply(302, headers=[("Location", me.redirect)])
                self._reply(body=json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]}).encode())

            def do_POST(self):
                self._record()
                self._reply(
                    body=json.dumps(
                        {
                            "id": "c1",
                            "object": "chat.completion",
                            "created": 0,
                            "model": "m",
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": "hello from the listener"},
                                }
                            ],
                        }
                    ).encode()
                )

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True

            def get_request(self):
                conn, addr = super().get_request()
                with lock:
                    me.accepted += 1
                return conn, addr

        self.host = host
        self.server = Server((host, 0), Handler)
        self.port = self.server.server_address[1]
        if tls is not None:
            tls.sni_callback = lambda sock, name, ctx: self.sni.append(name) and None
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def settle(self) -> None:
        """One direct request (no proxies, no guard): answered only after every earlier connection was accepted."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        conn.request("GET", "/settle")
        assert conn.getresponse().status == 200
        conn.close()

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture
def listener():
    s = Listener()
    yield s
    s.close()


class Recorder:
    """Resolver and connector hooks around the real ones, recording every call."""

    def __init__(self, names: dict[str, list[str]] | None = None, connect: bool = True):
        self.names, self.may_connect = names or {}, connect
        self.lookups: list[str] = []
        self.connects: list[tuple[str, int]] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answer = self.names.get(host)
        return (
            list(answer.pop(0) if answer and isinstance(answer[0], list) else answer)
            if answer
            else ng.system_resolver(host, port)
        )

    def connect(self, address: str, port: int, **kw):
        self.connects.append((address, port))
        if not self.may_connect or address == PUBLIC:
            raise httpcore.ConnectError(f"test connector: not connecting to {address}")
        return httpcore.SyncBackend().connect_tcp(address, port, **kw)

    def client(self, **kw) -> httpx.Client:
        return ng.guarded_client(resolver=self.resolve, connector=self.connect, timeout=10, **kw)


def refused(call) -> ng.UnsafeURL:
    with pytest.raises(httpx.ConnectError) as info:
        call()
    r = ng.refusal(info.value)
    assert isinstance(r, ng.RefusedConnection), f"not a refusal: {info.value!r}"
    assert str(r) == str(info.value)  # httpx's error carries the whole message
    return r


# --- refused before any connection -------------------------------------------------------------


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://127.0.0.1:{port}/v1", "127.0.0.1 is a loopback address"),
        ("http://localhost:{port}", "localhost names this server itself"),
        ("http://0.0.0.0:{port}", "0.0.0.0 is an unspecified address"),
        ("http://127.1:{port}", "127.1 resolves to 127.0.0.1, a loopback address"),
        ("http://[::ffff:127.0.0.1]:{port}", "IPv4-mapped form of 127.0.0.1, a loopback"),
        ("http://llm.example.com:{port}/v1", "llm.example.com resolves to 127.0.0.1, a loopback address"),
        ("http://mixed.example.com:{port}/v1", "mixed.example.com resolves to 127.0.0.1"),
    ],
)
def test_loopback_urls_are_refused_and_nothing_connects(listener, url, why):
    rec = Recorder({"llm.example.com": ["127.0.0.1"], "mixed.example.com": [PUBLIC, "127.0.0.1"]})
    url = url.format(port=listener.port)
    with rec.client() as client:
        r = refused(lambda: client.get(url))
    assert why in str(r) and str(r).startswith("refused to connect to ")
    with pytest.raises(ng.UnsafeURL, match="refused http://") as checked:
        ng.check_url(url, resolver=rec.resolve)
    assert why in str(checked.value)
    assert rec.connects == []  # every address is checked before the first connection attempt
    listener.settle()
    assert listener.accepted == 1 and listener.paths() == ["/settle"]


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_loopback_is_refused():
    six = Listener("::1")
    try:
        rec = Recorder()
        with rec.client() as client:
            r = refused(lambda: client.get(f"http://[::1]:{six.port}/v1"))
        assert "::1 is a loopback address" in str(r) and rec.connects == [] and rec.lookups == []
        with rec.client(allow_private=True) as client:  # the same URL works when opened up
            assert client.get(f"http://[::1]:{six.port}/v1").status_code == 200
        assert rec.connects == [("::1", six.port)]
        six.settle()
        assert six.accepted == 2 and six.paths() == ["/v1", "/settle"]
    finally:
        six.close()


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is the cloud metadata service"),
        ("http://10.0.0.1:{port}", "10.0.0.1 is a private network address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal is a cloud metadata service"),
        ("http://[fd00:ec2::254]/latest", "the cloud metadata service"),
        ("http://100.64.0.7/", "carrier-grade NAT"),
        ("http://intranet/", "single-label name"),
    ],
)
def test_private_and_metadata_addresses_are_never_tried(url, why):
    rec = Recorder(connect=False)  # connecting at all would fail the test
    url = url.format(port=8080)
    with rec.client() as client:
        r = refused(lambda: client.get(url))
    assert why in str(r)
    assert rec.connects == [] and rec.lookups == []  # refused on the URL's host alone


def test_dns_rebinding_cannot_reach_the_listener(listener):
    url = f"http://rebind.example.com:{listener.port}/v1/models"
    rec = Recorder({"rebind.example.com": [[PUBLIC], ["127.0.0.1"]]})
    assert ng.check_url(url, resolver=rec.resolve) == url  # first answer: a public address
    with rec.client() as client:
        r = refused(lambda: client.get(url))  # second answer, at connect time: loopback
    assert "resolves to 127.0.0.1" in str(r) and rec.lookups == ["rebind.example.com"] * 2
    assert rec.connects == []
    listener.settle()
    assert listener.accepted == 1


def test_the_checked_address_is_the_one_connected_to(listener):
    """Looked up once per connection, connected by address: a changed DNS answer is never asked for."""
    rec = Recorder({"flip.example.com": [[PUBLIC], ["127.0.0.1"], ["127.0.0.1"]]})
    with rec.client() as client, pytest.raises(httpx.ConnectError, match="not connecting to 93.184.216.34"):
        client.get(f"http://flip.example.com:{listener.port}/")
    assert rec.lookups == ["flip.example.com"] and rec.connects == [(PUBLIC, listener.port)]
    listener.settle()
    assert listener.accepted == 1


# --- what the owner can open up ------------------------------------------------------------------


def test_allow_private_reaches_the_owners_server(listener):
    rec = Recorder({"llm.test": ["127.0.0.2", "127.0.0.1"]})  # nothing listens on .2: the next address is tried
    with rec.client(allow_private=True) as client:
        assert client.get(f"http://127.0.0.1:{listener.port}/v1/models").json()["data"][0]["id"] == "m"
        assert client.post(f"http://llm.test:{listener.port}/v1/chat/completions", json={"x": 1}).status_code == 200
    assert rec.connects == [("127.0.0.1", listener.port), ("127.0.0.2", listener.port), ("127.0.0.1", listener.port)]
    assert [r["host"] for r in listener.requests] == [f"127.0.0.1:{listener.port}", f"llm.test:{listener.port}"]
    assert listener.requests[1]["body"] == b'{"x":1}'


def test_allowed_hosts_restrict_names_even_with_allow_private(listener):
    rec = Recorder({"llm.example.org": ["127.0.0.1"], "example.org": ["127.0.0.1"]})
    with rec.client(allow_private=True, allowed_hosts=["*.example.org"]) as client:
        assert client.get(f"http://llm.example.org:{listener.port}/v1").status_code == 200
        r = refused(lambda: client.get(f"http://127.0.0.1:{listener.port}/v1"))
        assert "127.0.0.1 is not one of the allowed hosts (*.example.org)" in str(r)
        refused(lambda: client.get(f"http://example.org:{listener.port}/v1"))  # the pattern means subdomains
    with rec.client(allowed_hosts="llm.example.org") as client:  # a name allowed, its address still checked
        assert "loopback" in str(refused(lambda: client.get(f"http://llm.example.org:{listener.port}/v1")))
    listener.settle()
    assert listener.paths() == ["/v1", "/settle"]


def test_a_redirect_is_checked_like_any_connection(listener):
    rec = Recorder({"api.example.org": ["127.0.0.1"]})
    listener.redirect = f"http://127.0.0.1:{listener.port}/v1/models"
    with rec.client(allow_private=True, allowed_hosts=["api.example.org"]) as client:
        refused(lambda: client.get(f"http://api.example.org:{listener.port}/redirect", follow_redirects=True))
    listener.settle()
    assert listener.paths() == ["/redirect", "/settle"]


def test_tls_keeps_the_host_name_for_sni_and_verification(tmp_path):
    cert, key = _self_signed(tmp_path, "llm.test")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    tls = Listener(tls=server_ctx)
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        rec = Recorder({"llm.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        with rec.client(allow_private=True, verify=trust) as client:
            assert client.get(f"https://llm.test:{tls.port}/v1/models").status_code == 200
            with pytest.raises(httpx.ConnectError, match="Hostname mismatch|certificate verify failed"):
                client.get(f"https://other.test:{tls.port}/v1/models")  # same address, name not in the cert
        assert rec.connects == [("127.0.0.1", tls.port)] * 2
        assert tls.sni[:2] == ["llm.test", "other.test"] and tls.paths() == ["/v1/models"]
    finally:
        tls.close()


def _self_signed(folder, name):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_proxy_variables_are_ignored(listener, monkeypatch):
    proxy = Listener()
    try:
        for var in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(var, raising=False)
        for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(var, f"http://127.0.0.1:{proxy.port}")
        with httpx.Client() as plain:  # control: httpx on its own would send it to the proxy
            plain.get(f"http://127.0.0.1:{listener.port}/plain")
        with ng.guarded_client(allow_private=True) as client:
            assert client.get(f"http://127.0.0.1:{listener.port}/guarded").status_code == 200
        with ng.guarded_client() as client:
            refused(lambda: client.get(f"http://127.0.0.1:{listener.port}/refused"))
        proxy.settle()
        listener.settle()
        assert proxy.paths() == [f"http://127.0.0.1:{listener.port}/plain", "/settle"]
        assert listener.paths() == ["/guarded", "/settle"]
    finally:
        proxy.close()


# --- through the openai client ---------------------------------------------------------------------


def test_openai_client_is_refused_and_the_key_never_leaves(listener):
    base = f"http://127.0.0.1:{listener.port}/v1"
    client = openai.OpenAI(base_url=base, api_key=KEY, http_client=ng.guarded_client(), max_retries=0)
    with pytest.raises(openai.APIConnectionError) as info:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    r = ng.refusal(info.value)
    assert r is not None and "127.0.0.1 is a loopback address" in r.reason and KEY not in str(r)
    listener.settle()
    assert listener.paths() == ["/settle"] and not any(KEY in req["auth"] for req in listener.requests)

    owner = openai.OpenAI(base_url=base, api_key=KEY, http_client=ng.guarded_client(allow_private=True), max_retries=0)
    reply = owner.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "hello from the listener"
    assert listener.requests[-1]["auth"] == f"Bearer {KEY}"  # control: this is how the key would have travelled


def test_llm_backend_message_for_a_refused_server(listener):
    """What a user sees today through assistant.llm when its client is a guarded one."""
    from assistant.llm import LLMError, OpenAIBackend
    from assistant.settings import Settings

    base = f"http://someone:pw0rd@127.0.0.1:{listener.port}/v1?api-key={KEY}"
    backend = OpenAIBackend(
        Settings.load(env={}, backend="openai", base_url=base, api_key=KEY, model="m", max_retries=0)
    )
    backend._client = openai.OpenAI(base_url=base, api_key=KEY, http_client=ng.guarded_client(), max_retries=0)
    with pytest.raises(LLMError) as info:
        list(backend.stream([{"role": "user", "content": "hi"}], max_tokens=5, timeout=10))
    assert "127.0.0.1 is a loopback address" in info.value.cause
    assert KEY not in info.value.cause and "pw0rd" not in info.value.cause
    listener.settle()
    assert listener.paths() == ["/settle"]


def test_async_client_is_guarded_too(listener):
    async def main():
        async with ng.guarded_async_client() as client:
            with pytest.raises(httpx.ConnectError) as info:
                await client.get(f"http://localhost:{listener.port}/v1")
            assert "localhost names this server itself" in str(ng.refusal(info.value))
        async with ng.guarded_async_client(allow_private=True) as client:
            return (await client.get(f"http://localhost:{listener.port}/async")).status_code

    assert asyncio.run(main()) == 200
    listener.settle()
    assert listener.paths() == ["/async", "/settle"]


# --- the rules and the redaction on their own ---------------------------------------------------------


@pytest.mark.parametrize(
    "address, problem",
    [
        ("127.0.0.53", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fd12::1", "private"),
        ("fc00::1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("169.254.169.254", "metadata"),
        ("100.64.0.1", "carrier-grade"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1, a private"),
        ("::ffff:169.254.169.254", "metadata"),
        ("2002:7f00:1::", "6to4 form of 127.0.0.1"),
        ("64:ff9b::a00:1", "NAT64 form of 10.0.0.1"),
        ("192.0.2.10", "not a public"),
        ("2001:db8::1", "not a public"),
        ("not-an-ip", "not an IP"),
    ],
)
def test_address_rules(address, problem):
    assert problem in ng.address_problem(address)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_pass(address):
    assert ng.address_problem(address) == ""


@pytest.mark.parametrize(
    "url, why",
    [
        ("ftp://files.example.com/x", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("javascript:alert(1)", "only http"),
        ("api.openai.com/v1", "no scheme"),
        ("", "no scheme"),
        ("http:///v1", "no host"),
        ("http://[::1", "not a valid URL"),
        ("http://h.example.com:99999/", "not a valid URL"),
        ("http://LOCALHOST./v1", "names this server itself"),
        ("http://a.b.localhost/", "local network name"),
        ("http://printer.local/", "local network name"),
        ("http://2130706433/", "single-label"),
        ("https://user:hunter22@10.0.0.9/v1?api_key=sk-abcdefghijklmnop", "private network"),
    ],
)
def test_check_url_refusals(url, why):
    with pytest.raises(ng.UnsafeURL) as info:
        ng.check_url(url, resolver=lambda h, p: pytest.fail(f"looked up {h}"))
    assert why in str(info.value) and "hunter22" not in str(info.value) and "sk-abc" not in str(info.value)


def test_check_url_accepts_and_opens_up():
    def public(host, port):
        return ["104.18.6.192"]

    assert ng.check_url("https://api.openai.com/v1", resolver=public) == "https://api.openai.com/v1"
    assert ng.check_url("https://api.openai.com/v1", allowed_hosts=["*.openai.com"], resolver=public)
    with pytest.raises(ng.UnsafeURL, match="evil.example is not one of the allowed hosts"):
        ng.check_url("https://evil.example/v1", allowed_hosts=["api.openai.com"], resolver=public)
    assert ng.check_url("http://127.0.0.1:8080/v1", allow_private=True)  # no lookup needed then
    assert ng.check_url("http://llama:8080/v1", allow_private=True)

    def no_such_host(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(ng.UnsafeURL, match="nothing.example could not be looked up .Name or service not known"):
        ng.check_url("https://nothing.example/", resolver=no_such_host)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://user:pass@api.example.com/v1", "https://***@api.example.com/v1"),
        ("https://sk-abcdefghijklmnop@api.example.com/v1", "https://***@api.example.com/v1"),
        ("http://u:p@ss:w@rd@h.example:8080/x", "http://***@h.example:8080/x"),
        ("user:pw@host.example/v1?key=abc", "***@host.example/v1?key=***"),
        ("https://h.example/v1?api-key=abc123&model=gpt", "https://h.example/v1?api-key=***&model=gpt"),
        ("https://h.example/v1?model=x&API_KEY=abc", "https://h.example/v1?model=x&API_KEY=***"),
        (
            "https://h.example/v1?apikey=a&token=b&access_token=c&secret=d&password=e&pass=f&sig=g&signature=h&auth=i&code=j",
            (
                "https://h.example/v1?apikey=***&token=***&access_token=***&secret=***&password=***&pass=***&sig=***"
                "&signature=***&auth=***&code=***"
            ),
        ),
        (
            "https://h.example/cb#access_token=abc&state=xyz&scope=read",
            "https://h.example/cb#access_token=***&state=***&scope=read",
        ),
        (
            "https://s.blob.core.windows.net/c/b?sv=2022&sig=Ab%2Bc%3D&se=2030",
            "https://s.blob.core.windows.net/c/b?sv=2022&sig=***&se=2030",
        ),
        ("https://h.example/?api%5Fkey=abc", "https://h.example/?api%5Fkey=***"),
        ("http://u:p@[::1]:8080/v1?token=t", "http://***@[::1]:8080/v1?token=***"),
        ("http://[fe80::1%25eth0]:80/?q=1", "http://[fe80::1%25eth0]:80/?q=1"),
        ("https://h.example/v1/sk-proj-abcdefghijkl/x", "https://h.example/v1/***/x"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("https://h.example/v1?key=", "https://h.example/v1?key="),
        ("http://[::1", "http://[::1"),
        ("", ""),
        ("::::", "::::"),
        ("?key=k", "?key=***"),
    ],
)
def test_redact_url(url, shown):
    assert redact.redact_url(url) == shown


def test_redaction_never_raises_and_masks_given_secrets():
    class Broken:
        def __str__(self):
            raise RuntimeError("boom")

    for junk in (None, 42, b"\xff", Broken(), "\x00\udcff@://", "%" * 1000, "http://" + "@" * 10000):
        assert isinstance(redact.redact_url(junk), str) and isinstance(redact.redact_text(junk), str)
    assert redact.redact_url(Broken()) == "***"
    password = "hunter2/p@ss+word"
    text = (
        f"server said: Incorrect API key provided: {KEY}; retried http://127.0.0.1/v1?k=x&api-key={KEY} "
        f"with Authorization: Bearer {KEY}, then Authorization: Basic dXNlcjpwYXNz; "
        f"sent https://h.example/login?user=me&pw={quote(password, safe='')} ({password})"
    )
    out = redact.redact_text(text, secrets=[KEY, password, ""])
    assert "NETGUARD" not in out and "dXNlcjpwYXNz" not in out and "hunter2" not in out and "p%40ss" not in out
    assert "Bearer ***" in out and "retried http://127.0.0.1/v1?k=x&api-key=***" in out and "user=me" in out
    assert (
        redact.redact_text("a basic idea: the token expired (tab table)", ["ab"])
        == "a basic idea: the token expired (tab table)"
    )  # prose survives; secrets under 4 characters are ignored
    assert (
        redact.redact_text("AWS AKIAABCDEFGHIJKLMNOP and hf_abcdefghijklmn and eyJhbGciOi.eyJzdWIiOi.sig")
        == "AWS *** and *** and ***"
    )
