"""The one door through which harvesters make HTTP calls.

Whatever the remote does, :func:`fetch`:

* requests only ``http``/``https`` URLs (others raise :class:`BadScheme` before any I/O);
* never connects to a loopback, private, link-local, multicast, reserved, unspecified or shared
  (100.64/10) address, nor an IPv6 one embedding such an IPv4 (mapped, compatible, 6to4, Teredo,
  NAT64), unless ``allowed_private`` lists it. The check runs on what the host resolves to and
  again on the peer of every socket opened (DNS rebinding between the two does not help), on
  every redirect hop;
* finishes within ``total_timeout``, retries, slow headers and trickling bodies included: reads
  are checked between chunks and a watchdog shuts the sockets down at the deadline, because
  per-read timeouts never fire while bytes keep coming;
* caps the body after decoding (a small gzip bomb stops at ``max_bytes``);
* retries boundedly with capped exponential back-off, honouring ``Retry-After`` seconds;
* follows at most ``max_redirects`` by hand; caller headers (an API key...) do not follow a
  redirect to another origin;
* logs and raises URLs without user info and with secret-looking query values masked, and never
  headers.

Proxies, ``.netrc`` and CA bundles from the environment are ignored (``trust_env`` is off): a
proxy would hide the real peer from the address check.
"""

from __future__ import annotations

import contextvars
import http.client
import importlib.metadata
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ProtocolError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from ckanext.harvestplus import config as settings

from .addresses import destination_allowed, redact_url

log = logging.getLogger(__name__)


SCHEMES = frozenset({"http", "https"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_BACKOFF = 60.0
MIB = 1024 * 1024
CHUNK = 64 * 1024
# Caller headers that may follow a redirect to another origin; any other one may be a credential.
PORTABLE_HEADERS = frozenset({"accept", "accept-language"})
_NETWORK_ERRORS = (requests.RequestException, Urllib3Error, http.client.HTTPException, OSError)
_TRANSIENT_ERRORS = (
    *(requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError),
    *(ProtocolError, Urllib3Timeout, ConnectionError, TimeoutError),
)


try:
    USER_AGENT = f"ckanext-harvestplus/{importlib.metadata.version('ckanext-harvestplus')}"
except importlib.metadata.PackageNotFoundError:
    USER_AGENT = "ckanext-harvestplus/dev"


#: The declared defaults of the ``ckanext.harvestplus.http.*`` options.
_DEFAULTS = settings.http(settings.declared().get)


@dataclass(frozen=True)
class HttpPolicy:
    """Limits of one fetch. Times are seconds; ``max_bytes`` counts decoded bytes.
    The defaults are the options' (config_declaration.yaml)."""

    connect_timeout: float = _DEFAULTS["connect_timeout"]
    read_timeout: float = _DEFAULTS["read_timeout"]
    total_timeout: float = _DEFAULTS["total_timeout"]
    max_bytes: int = _DEFAULTS["max_bytes"]
    retries: int = _DEFAULTS["retries"]
    backoff: float = _DEFAULTS["backoff"]
    user_agent: str = USER_AGENT
    #: Host names, addresses or CIDRs that may be reached although not public.
    allowed_private: tuple[str, ...] = _DEFAULTS["allowed_private"]
    max_redirects: int = _DEFAULTS["max_redirects"]

    @classmethod
    def from_config(cls) -> HttpPolicy:
        """The policy set by the ``ckanext.harvestplus.http.*`` options."""
        return cls(**settings.http())

    def backoff_delay(self, attempt: int) -> float:
        return min(self.backoff * 2**attempt, MAX_BACKOFF)


@dataclass(frozen=True)
class Response:
    url: str  # after redirects
    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        found = re.search(r"charset=[\"']?([\w.:-]+)", self.headers.get("Content-Type", ""), re.I)
        try:
            return self.content.decode(found.group(1) if found else "utf-8", errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class FetchError(Exception):
    """A fetch failed. ``url`` is redacted: no user info, secret-looking query values masked."""

    def __init__(self, url: str, reason: str = "fetch failed") -> None:
        self.url = redact_url(url)
        self.reason = reason
        super().__init__(f"{reason}: {self.url}")


class BlockedAddress(FetchError):  # noqa: N818 (the name says it)
    def __init__(self, url: str, address: str) -> None:
        super().__init__(url, f"destination {address} is not public and not allow-listed")
        self.address = address


class BadScheme(FetchError):  # noqa: N818 (the name says it)
    def __init__(self, url: str) -> None:
        self.scheme = _scheme(url)
        super().__init__(url, f"scheme {self.scheme!r} is not http or https")


class ResponseTooLarge(FetchError):  # noqa: N818 (the name says it)
    def __init__(self, url: str, limit: int) -> None:
        super().__init__(url, f"body larger than {limit} bytes")
        self.limit = limit


class DeadlineExceeded(FetchError):  # noqa: N818 (the name says it)
    def __init__(self, url: str, seconds: float) -> None:
        super().__init__(url, f"not done within {seconds:g} s")
        self.seconds = seconds


class HttpStatusError(FetchError):
    def __init__(self, url: str, status: int) -> None:
        super().__init__(url, f"HTTP {status}")
        self.status = status


class TooManyRedirects(FetchError):  # noqa: N818 (the name says it)
    def __init__(self, url: str) -> None:
        super().__init__(url, "too many redirects")


def _scheme(url: str) -> str:
    return url.partition(":")[0].lower() if ":" in url else ""


def _resolve(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


class _Guard:
    """State of one fetch that its connections consult: allow-list, deadline, watchdog."""

    def __init__(self, policy: HttpPolicy) -> None:
        self.allowed = policy.allowed_private
        self.seconds = policy.total_timeout
        self.ends = time.monotonic() + policy.total_timeout
        self.expired = False
        self._stopped = False
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._timer = threading.Timer(policy.total_timeout, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def admit(self, conn: HTTPConnection, sock: socket.socket) -> None:
        peer = str(sock.getpeername()[0])
        if not destination_allowed(conn.host, peer, self.allowed):
            raise BlockedAddress(f"//{conn.host}:{conn.port}/", peer)
        with self._lock:
            if self.expired:
                raise TimeoutError("deadline passed while connecting")
            # A descriptor of our own: shutting it down ends any read on the connection, also
            # once wrapped in TLS, and it cannot be closed and recycled under the watchdog.
            self._socks.append(sock.dup())

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._timer.cancel()
            for sock in self._socks:
                sock.close()

    def _expire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self.expired = True
            for sock in self._socks:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:  # already gone
                    pass


_CURRENT: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar(
    "harvestplus_http_guard", default=None
)


def _admit(conn: HTTPConnection, sock: socket.socket) -> socket.socket:
    """Check the peer of a fresh socket, before a byte (or a TLS hello) is sent on it."""
    guard = _CURRENT.get()
    try:
        if guard is None:  # only fetch() mounts these connections; fail closed anyway
            raise FetchError(f"//{conn.host}:{conn.port}/", "connection opened outside fetch()")
        guard.admit(conn, sock)
    except BaseException:
        sock.close()
        raise
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _admit(self, super()._new_conn())


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _admit(self, super()._new_conn())


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def _session(policy: HttpPolicy) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # see the module docstring
    session.headers["User-Agent"] = policy.user_agent
    adapter = _GuardedAdapter(max_retries=0)  # retries are ours: they know the deadline
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def fetch(
    url: str,
    *,
    policy: HttpPolicy,
    method: str = "GET",
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    data: Any = None,
) -> Response:
    """Request ``url`` within ``policy`` and return the final 2xx response, body read.

    Raises a :class:`FetchError` subclass otherwise (see the module docstring).
    """
    if _scheme(url) not in SCHEMES:
        raise BadScheme(url)
    guard = _Guard(policy)
    session = _session(policy)
    token = _CURRENT.set(guard)
    guard.start()
    try:
        request = requests.Request(
            method.upper(), url, headers=dict(headers or {}), params=params, data=data
        )
        return _follow(session, guard, policy, request)
    finally:
        guard.stop()
        session.close()
        _CURRENT.reset(token)


def _follow(
    session: requests.Session, guard: _Guard, policy: HttpPolicy, request: requests.Request
) -> Response:
    for _hop in range(policy.max_redirects + 1):
        response = _with_retries(session, guard, policy, request)
        location = response.headers.get("Location")
        if response.status not in REDIRECT_STATUSES or not location:
            if response.status >= 400:
                raise HttpStatusError(response.url, response.status)
            return response
        request = _redirect(request, response, urljoin(response.url, location))
    raise TooManyRedirects(request.url)


def _redirect(request: requests.Request, response: Response, target: str) -> requests.Request:
    method, data = request.method, request.data
    if (response.status == 303 and method != "HEAD") or (
        response.status in (301, 302) and method == "POST"
    ):
        method, data = "GET", None
    headers = dict(request.headers)
    if urlsplit(target)[:2] != urlsplit(response.url)[:2]:  # another origin
        headers = {k: v for k, v in headers.items() if k.lower() in PORTABLE_HEADERS}
    return requests.Request(method, target, headers=headers, data=data)


def _with_retries(
    session: requests.Session, guard: _Guard, policy: HttpPolicy, request: requests.Request
) -> Response:
    try:
        prepared = session.prepare_request(request)
    except requests.RequestException:
        raise FetchError(request.url, "invalid request") from None
    # The policy's User-Agent wins over one the caller passed.
    prepared.headers["User-Agent"] = policy.user_agent
    url = str(prepared.url)
    retries = max(policy.retries, 0)
    for attempt in range(retries + 1):
        outcome: Response | FetchError
        try:
            outcome = _attempt(session, guard, policy, prepared.copy())
        except FetchError:
            raise
        except _NETWORK_ERRORS as exc:
            if guard.expired or guard.remaining() <= 0:
                raise DeadlineExceeded(url, guard.seconds) from None
            # `from None`: requests' messages quote the URL, query string (and keys) included.
            if not _transient(exc) or attempt == retries:
                raise FetchError(url, _reason(exc)) from None
            outcome, delay = FetchError(url, _reason(exc)), policy.backoff_delay(attempt)
        else:
            if outcome.status not in RETRY_STATUSES or attempt == retries:
                return outcome
            after = outcome.headers.get("Retry-After", "").strip()
            delay = float(after) if after.isdigit() else policy.backoff_delay(attempt)
        if delay >= guard.remaining():
            break  # waiting would overrun the deadline; report the last outcome
        reason = outcome.reason if isinstance(outcome, FetchError) else f"HTTP {outcome.status}"
        log.warning(
            "%s %s: %s; retry %d of %d in %.2f s",
            prepared.method, redact_url(url), reason, attempt + 1, retries, delay,
        )  # fmt: skip
        time.sleep(delay)
    if isinstance(outcome, FetchError):
        raise outcome
    return outcome


def _attempt(
    session: requests.Session, guard: _Guard, policy: HttpPolicy, prepared: requests.PreparedRequest
) -> Response:
    url = str(prepared.url)
    _check_destination(url, guard)
    remaining = guard.remaining()
    if remaining <= 0:
        raise DeadlineExceeded(url, guard.seconds)
    timeout = (min(policy.connect_timeout, remaining), min(policy.read_timeout, remaining))
    started = time.monotonic()
    try:
        r = session.send(prepared, stream=True, allow_redirects=False, timeout=timeout)
    except BlockedAddress as exc:  # raised by the connection, which did not know the URL
        raise BlockedAddress(url, exc.address) from None
    with r:
        content = _read_body(r, url, policy, guard) if 200 <= r.status_code < 300 else b""
    log.info(
        "%s %s -> %d, %d bytes, %d ms",
        prepared.method, redact_url(url), r.status_code, len(content),
        (time.monotonic() - started) * 1000,
    )  # fmt: skip
    return Response(url, r.status_code, CaseInsensitiveDict(r.headers), content)


def _check_destination(url: str, guard: _Guard) -> None:
    if _scheme(url) not in SCHEMES:
        raise BadScheme(url)
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise FetchError(url, "invalid port") from None
    if not parts.hostname:
        raise FetchError(url, "no host")
    for address in _resolve(parts.hostname, port):
        if not destination_allowed(parts.hostname, address, guard.allowed):
            raise BlockedAddress(url, address)


def _read_body(r: requests.Response, url: str, policy: HttpPolicy, guard: _Guard) -> bytes:
    declared = r.headers.get("Content-Length", "")
    # Without an encoding to expand it, the declared length lets a large body be refused unread.
    unencoded = "Content-Encoding" not in r.headers and r.request.method != "HEAD"
    if unencoded and declared.isdigit() and int(declared) > policy.max_bytes:
        raise ResponseTooLarge(url, policy.max_bytes)
    body = bytearray()
    while True:
        remaining = guard.remaining()
        if remaining <= 0:
            raise DeadlineExceeded(url, guard.seconds)
        sock = getattr(getattr(r.raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(min(policy.read_timeout, remaining))
        # read1: one socket read per call, so a trickling body comes back here between bytes.
        chunk = r.raw.read1(CHUNK, decode_content=True)
        if not chunk:
            if guard.expired:  # the watchdog's shutdown looks like the end of the body
                raise DeadlineExceeded(url, guard.seconds)
            return bytes(body)
        body += chunk
        if len(body) > policy.max_bytes:
            raise ResponseTooLarge(url, policy.max_bytes)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, socket.gaierror):
        return exc.errno == socket.EAI_AGAIN  # "try again"; an unknown name stays unknown
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    return isinstance(exc, _TRANSIENT_ERRORS)


def _reason(exc: BaseException) -> str:
    """The innermost cause, named without the URL that requests and urllib3 put in messages."""
    inner = exc
    for _ in range(10):  # chains are short; never trust one to end
        cause = inner.__cause__ or inner.__context__
        if cause is None:
            break
        inner = cause
    if type(inner).__module__.partition(".")[0] in ("requests", "urllib3"):
        return type(inner).__name__
    return f"{type(inner).__name__}: {inner}"
