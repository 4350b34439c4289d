"""fetch() against real HTTP servers. Every request goes to loopback only: other address
ranges are tested on the pure classification functions, never fetched."""

from __future__ import annotations

import gzip
import logging
import subprocess
import sys
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ckanext.harvestplus.pipeline import http
from ckanext.harvestplus.pipeline.addresses import (
    destination_allowed,
    is_public_address,
    redact_url,
)
from ckanext.harvestplus.pipeline.http import (
    BadScheme,
    BlockedAddress,
    DeadlineExceeded,
    HttpPolicy,
    HttpStatusError,
    ResponseTooLarge,
    TooManyRedirects,
    fetch,
)

LOCAL = HttpPolicy(
    connect_timeout=2,
    read_timeout=2,
    total_timeout=5,
    retries=3,
    backoff=0.01,
    allowed_private=("127.0.0.1",),
)
SECRET = "s3cr3t-api-key-value"


class Server:
    """A real HTTP server in a thread; ``respond(handler, hit_number)`` answers each request."""

    def __init__(self, respond, host="127.0.0.1"):
        self.respond = respond
        self.hits = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits.append((self.command, self.path, dict(self.headers)))
                try:
                    server.respond(self, len(server.hits))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should

            def do_POST(self):
                self.do_GET()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        kwargs = {"poll_interval": 0.05}
        threading.Thread(target=self.httpd.serve_forever, kwargs=kwargs, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(respond, host="127.0.0.1"):
        servers.append(Server(respond, host))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def send(h, status=200, body=b"", headers=()):
    h.send_response(status)
    for name, value in headers:
        h.send_header(name, value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def ok(h, n):
    send(h, body=b'{"ok": true}', headers=[("Content-Type", "application/json")])


def test_get_with_params_and_user_agent(serve):
    server = serve(ok)
    response = fetch(server.url + "/api", policy=LOCAL, params={"q": "a b", "rows": 2})

    assert response.status == 200
    assert response.json() == {"ok": True}
    assert response.url == server.url + "/api?q=a+b&rows=2"
    assert response.headers["content-type"] == "application/json"
    [(method, path, headers)] = server.hits
    assert (method, path) == ("GET", "/api?q=a+b&rows=2")
    assert headers["User-Agent"] == LOCAL.user_agent
    assert LOCAL.user_agent.startswith("ckanext-harvestplus/")


def test_post_sends_data(serve):
    server = serve(lambda h, n: send(h, body=h.rfile.read(int(h.headers["Content-Length"]))))
    response = fetch(server.url, policy=LOCAL, method="post", data=b"<csw/>")
    assert (server.hits[0][0], response.content) == ("POST", b"<csw/>")


@pytest.fixture
def http_log(caplog, monkeypatch):
    # CKAN commands run by other tests reload the logging config, and
    # logging.config.fileConfig disables loggers that already exist.
    monkeypatch.setattr(http.log, "disabled", False)
    caplog.set_level(logging.INFO, logger=http.__name__)
    return caplog


def test_api_key_reaches_server_but_not_logs_or_errors(serve, http_log):
    caplog = http_log
    server = serve(lambda h, n: send(h, 403))
    url = f"http://user:{SECRET}@127.0.0.1:{server.port}/x?token={SECRET}&page=2"

    with pytest.raises(HttpStatusError) as error:
        fetch(url, policy=LOCAL, headers={"X-CKAN-API-Key": SECRET}, params={"api_key": SECRET})

    assert server.hits[0][2]["X-CKAN-API-Key"] == SECRET
    assert error.value.status == 403
    assert error.value.url == f"http://127.0.0.1:{server.port}/x?token=***&page=2&api_key=***"
    assert SECRET not in str(error.value)
    assert f"GET {error.value.url} -> 403, 0 bytes" in caplog.text
    assert SECRET not in caplog.text


def test_plain_body_over_the_cap(serve):
    server = serve(lambda h, n: send(h, body=b"x" * 3000))
    with pytest.raises(ResponseTooLarge) as error:
        fetch(server.url, policy=replace(LOCAL, max_bytes=2000))
    assert error.value.limit == 2000
    assert fetch(server.url, policy=replace(LOCAL, max_bytes=3000)).content == b"x" * 3000


def test_streamed_body_without_length_over_the_cap(serve):
    def endless(h, n):
        h.send_response(200)
        h.end_headers()  # HTTP/1.0, no Content-Length: the body ends when the server closes
        for _ in range(200):  # 12.8 MiB at most
            h.wfile.write(b"x" * 65536)

    with pytest.raises(ResponseTooLarge):
        fetch(serve(endless).url, policy=replace(LOCAL, max_bytes=1024 * 1024))


def test_gzip_bomb_is_capped_after_decoding(serve):
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    assert len(bomb) < 100 * 1024
    server = serve(lambda h, n: send(h, body=bomb, headers=[("Content-Encoding", "gzip")]))
    with pytest.raises(ResponseTooLarge):
        fetch(server.url, policy=replace(LOCAL, max_bytes=1024 * 1024))


def test_gzip_body_is_decoded(serve):
    body = gzip.compress(b"hello " * 1000)
    server = serve(lambda h, n: send(h, body=body, headers=[("Content-Encoding", "gzip")]))
    assert fetch(server.url, policy=LOCAL).text == "hello " * 1000


def trickle(h, head, piece):
    h.wfile.write(head)
    for _ in range(100):  # 20 s at most; the client leaves after 1 s
        time.sleep(0.2)
        h.wfile.write(piece)


@pytest.mark.parametrize(
    "head, piece",
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", b"x"),
        # Headers that never end: per-read timeouts never fire, only the watchdog helps.
        (b"HTTP/1.1 200 OK\r\n", b"X-Slow: 1\r\n"),
    ],
    ids=["body", "headers"],
)
def test_trickling_server_hits_the_deadline(serve, head, piece):
    server = serve(lambda h, n: trickle(h, head, piece))
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as error:
        fetch(server.url, policy=replace(LOCAL, total_timeout=1, read_timeout=5))
    assert time.monotonic() - started < 3
    assert error.value.seconds == 1


def test_retries_after_server_errors(serve, http_log):
    caplog = http_log
    server = serve(lambda h, n: send(h, 503) if n < 3 else ok(h, n))
    response = fetch(server.url, policy=LOCAL)
    assert response.status == 200
    assert len(server.hits) == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "HTTP 503; retry 1 of 3" in warnings[0].getMessage()


def test_retries_stop_with_the_last_status(serve):
    server = serve(lambda h, n: send(h, 502))
    with pytest.raises(HttpStatusError) as error:
        fetch(server.url, policy=replace(LOCAL, retries=2))
    assert (error.value.status, len(server.hits)) == (502, 3)


def test_retry_after_is_honoured(serve):
    server = serve(
        lambda h, n: send(h, 429, headers=[("Retry-After", "1")]) if n == 1 else ok(h, n)
    )
    started = time.monotonic()
    assert fetch(server.url, policy=LOCAL).status == 200
    assert time.monotonic() - started >= 1


def test_retry_after_beyond_the_deadline_is_not_waited(serve):
    server = serve(lambda h, n: send(h, 503, headers=[("Retry-After", "30")]))
    started = time.monotonic()
    with pytest.raises(HttpStatusError):
        fetch(server.url, policy=replace(LOCAL, total_timeout=2))
    assert time.monotonic() - started < 1
    assert len(server.hits) == 1


def test_connection_errors_are_retried_then_reported(serve):
    server = serve(ok)
    server.close()  # nothing listens on the port any more
    with pytest.raises(http.FetchError) as error:
        fetch(server.url, policy=replace(LOCAL, retries=1))
    assert "ConnectionRefusedError" in str(error.value)


def test_not_found_is_not_retried(serve):
    server = serve(lambda h, n: send(h, 404))
    with pytest.raises(HttpStatusError) as error:
        fetch(server.url + "/missing", policy=LOCAL)
    assert error.value.status == 404
    assert len(server.hits) == 1


def hops(h, n):
    left = int(h.path.rsplit("/", 1)[1])
    if left:
        send(h, 302, headers=[("Location", f"/r/{left - 1}")])
    else:
        send(h, body=b"done")


def test_redirects_are_followed(serve):
    server = serve(hops)
    response = fetch(server.url + "/r/3", policy=LOCAL)
    assert (response.content, response.url) == (b"done", server.url + "/r/0")
    assert len(server.hits) == 4


def test_too_many_redirects(serve):
    server = serve(hops)
    with pytest.raises(TooManyRedirects):
        fetch(server.url + "/r/3", policy=replace(LOCAL, max_redirects=2))
    assert len(server.hits) == 3


def test_post_303_becomes_get(serve):
    server = serve(
        lambda h, n: send(h, 303, headers=[("Location", "/r/0")]) if n == 1 else hops(h, n)
    )
    assert fetch(server.url, policy=LOCAL, method="POST", data=b"x").content == b"done"
    assert [hit[0] for hit in server.hits] == ["POST", "GET"]


def test_headers_do_not_follow_a_redirect_to_another_origin(serve):
    other = serve(ok, host="127.0.0.2")
    first = serve(lambda h, n: send(h, 307, headers=[("Location", other.url + "/")]))
    policy = replace(LOCAL, allowed_private=("127.0.0.0/8",))
    headers = {"X-CKAN-API-Key": SECRET, "Accept": "application/json"}

    assert fetch(first.url, policy=policy, headers=headers).status == 200
    assert first.hits[0][2]["X-CKAN-API-Key"] == SECRET
    forwarded = other.hits[0][2]
    assert "X-CKAN-API-Key" not in forwarded
    assert forwarded["Accept"] == "application/json"
    assert forwarded["User-Agent"] == LOCAL.user_agent


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://2130706433:{port}/",
        "http://0x7f.1:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
    ],
)
def test_loopback_is_refused_unless_allow_listed(serve, url):
    server = serve(ok)
    with pytest.raises(BlockedAddress) as error:
        fetch(url.format(port=server.port), policy=replace(LOCAL, allowed_private=()))
    assert error.value.address in ("127.0.0.1", "::1", "::ffff:127.0.0.1")
    assert server.hits == []


def test_redirect_to_a_loopback_address_not_allow_listed_is_refused(serve):
    other = serve(ok, host="127.0.0.2")
    first = serve(lambda h, n: send(h, 302, headers=[("Location", other.url + "/")]))
    with pytest.raises(BlockedAddress) as error:
        fetch(first.url, policy=LOCAL)
    assert error.value.address == "127.0.0.2"
    assert (len(first.hits), other.hits) == (1, [])


def test_redirect_to_another_scheme_is_refused(serve):
    server = serve(lambda h, n: send(h, 302, headers=[("Location", "file:///etc/passwd")]))
    with pytest.raises(BadScheme) as error:
        fetch(server.url, policy=LOCAL)
    assert error.value.scheme == "file"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_peer_address_is_checked_after_connect(serve, monkeypatch, scheme):
    # DNS rebinding: the name looked public when checked, the connection lands on loopback.
    # Only the check look-up is faked; the connection really goes to 127.0.0.1.
    monkeypatch.setattr(http, "_resolve", lambda host, port: ["93.184.216.34"])
    server = serve(ok)
    with pytest.raises(BlockedAddress) as error:
        fetch(f"{scheme}://127.0.0.1:{server.port}/", policy=replace(LOCAL, allowed_private=()))
    assert error.value.address == "127.0.0.1"
    assert error.value.url == f"{scheme}://127.0.0.1:{server.port}/"
    assert server.hits == []


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://x/", "gopher://x/", "data:text/plain,x", "x"]
)
def test_other_schemes_are_refused(url):
    with pytest.raises(BadScheme):
        fetch(url, policy=LOCAL)


@pytest.mark.parametrize(
    "address",
    [
        *("10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254"),
        *("100.64.0.1", "127.0.0.1", "127.1.2.3", "0.0.0.0", "0.1.2.3", "224.0.0.1"),
        *("239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1"),
        *("::1", "::", "fc00::1", "fd12::1", "fe80::1", "fe80::1%1", "fec0::1", "ff02::1"),
        *("::ffff:10.0.0.1", "::ffff:127.0.0.1", "::127.0.0.1", "2001:db8::1"),
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "2002:a00:1::",  # 6to4 around 10.0.0.1
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
    ],
)
def test_non_public_addresses(address):
    assert not is_public_address(address)
    assert not destination_allowed("example.org", address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses(address):
    assert is_public_address(address)
    assert destination_allowed("example.org", address)


def test_allow_list_by_address_network_and_name():
    allowed = ("10.1.2.3", "192.168.0.0/16", "Catalogue.Intranet.", "fd00::/8")
    assert destination_allowed("x", "10.1.2.3", allowed)
    assert destination_allowed("x", "::ffff:10.1.2.3", allowed)
    assert not destination_allowed("x", "10.1.2.4", allowed)
    assert destination_allowed("x", "192.168.200.1", allowed)
    assert destination_allowed("catalogue.intranet", "10.9.9.9", allowed)
    assert not destination_allowed("other.intranet", "10.9.9.9", allowed)
    assert destination_allowed("x", "fd00::5", allowed)
    assert not destination_allowed("x", "::1", allowed)


def test_redact_url():
    url = "https://u:p@h.example/p?apikey=1&api_key=2&Token=3&q=ok&sig&signature=4&x=#frag"
    assert redact_url(url) == (
        "https://h.example/p?apikey=***&api_key=***&Token=***&q=ok&sig&signature=***&x="
    )
    assert redact_url("http://[::1") == "<invalid URL>"


def test_policy_from_config(monkeypatch):
    import ckan.plugins.toolkit as tk

    monkeypatch.delitem(tk.config, "ckanext.harvestplus.http.allowed_private", raising=False)
    assert HttpPolicy.from_config() == HttpPolicy()
    monkeypatch.setitem(tk.config, "ckanext.harvestplus.http.total_timeout", "12.5")
    monkeypatch.setitem(tk.config, "ckanext.harvestplus.http.retries", 1)
    monkeypatch.setitem(tk.config, "ckanext.harvestplus.http.allowed_private", "10.0.0.0/8 a.b")
    policy = HttpPolicy.from_config()
    assert (policy.total_timeout, policy.retries) == (12.5, 1)
    assert policy.allowed_private == ("10.0.0.0/8", "a.b")
    assert policy.max_bytes == 100 * 1024 * 1024


def test_module_imports_without_ckan():
    code = (
        "import sys, ckanext.harvestplus.pipeline.http; "
        "assert not [m for m in sys.modules if m == 'ckan' or m.startswith('ckan.')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
