"""JSON over HTTP with the standard library, as the worker protocol needs it.

A small pool of keep-alive connections (``http.client``): a worker reports
results from several task threads while its heartbeat thread long-polls,
and reusing a connection saves a TCP handshake per call. A request can
be aborted from another thread (``Abort``): ``stop()`` ends a long poll at
once by shutting its socket down, so the server sees the client leave and
leases it nothing more (docs/worker-protocol.md, "Long poll").

A request goes out in one write (``_OneWrite``). ``http.client`` sends the
head and the body in two, and when they reach Deno's server in two reads,
it never notices the client leaving while the handler waits: of 20 long
polls aborted 10 ms in, 19 ran their full wait when the head and the body
arrived 2 ms apart, and 0 when they came in one segment
(tests/conformance/stop_test.ts shows the effect end to end).
"""
from __future__ import annotations

import email.utils
import http.client
import json
import random
import socket
import threading
import time
import urllib.parse
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .errors import HttpError

__all__ = ["Abort", "Aborted", "RawJson", "Transport", "backoff_seconds", "is_transient"]

USER_AGENT = "edgeflow-python/0.1"


class RawJson(str):
    """A body already encoded as JSON: sent as is."""


class Aborted(Exception):
    """The request was aborted through its ``Abort`` (the worker is stopping)."""


class Abort:
    """Lets another thread end a request in flight by shutting its socket down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: Optional[socket.socket] = None
        self.aborted = False

    def attach(self, sock: Optional[socket.socket]) -> None:
        with self._lock:
            self._sock = sock
            if self.aborted:
                self._shutdown()

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def retry_after_seconds(value: Optional[str]) -> Optional[float]:
    """The seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def is_transient(err: BaseException) -> bool:
    """Network failures, timeouts, 408, 429 and 5xx may succeed if tried again."""
    if isinstance(err, HttpError):
        return err.status in (408, 429) or err.status >= 500
    return isinstance(err, (OSError, http.client.HTTPException))


def backoff_seconds(
    attempt: int, base: float = 0.25, maximum: float = 5.0, rnd: Any = random.random
) -> float:
    """Delay before retry ``attempt`` (1-based): doubling from ``base``, ±20 % jitter."""
    raw = min(maximum, base * 2 ** (attempt - 1))
    return raw * (0.8 + 0.4 * rnd())


def retry_delay(err: BaseException, attempt: int, maximum: float = 5.0) -> float:
    """Backoff for ``attempt``, but never sooner than the server's ``Retry-After``."""
    delay = backoff_seconds(attempt, maximum=maximum)
    if isinstance(err, HttpError) and err.retry_after is not None:
        delay = max(delay, err.retry_after)
    return delay


class _OneWrite:
    """Mixin for ``http.client`` connections: a request's head and body are
    gathered and sent with one ``sendall`` (see the module's header)."""

    _gather: Optional[List[bytes]] = None

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._gather = []
        try:
            super().request(*args, **kwargs)  # type: ignore[misc]
            data = b"".join(self._gather)
        finally:
            self._gather = None
        super().send(data)  # type: ignore[misc]

    def send(self, data: Any) -> None:
        if self._gather is not None and isinstance(data, (bytes, bytearray, memoryview)):
            self._gather.append(bytes(data))
            return
        super().send(data)  # type: ignore[misc]


class _HTTPConnection(_OneWrite, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_OneWrite, http.client.HTTPSConnection):
    pass


class Transport:
    """Authenticated JSON requests against one edgeflow base URL."""

    def __init__(self, url: str, key: str, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an http(s) URL, e.g. http://127.0.0.1:8000")
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        # Keep-alive connections shared by the threads of a worker (each
        # request takes one, or opens one, and gives it back).
        self._lock = threading.Lock()
        self._idle: List[http.client.HTTPConnection] = []
        self.max_idle = 16

    def _acquire(self, timeout: float) -> http.client.HTTPConnection:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            cls = _HTTPSConnection if self._https else _HTTPConnection
            conn = cls(self._host, self._port, timeout=timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _release(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Closes the idle keep-alive connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = None,
        abort: Optional[Abort] = None,
        allow: Iterable[int] = (),
    ) -> Tuple[int, Any]:
        """Sends one request; returns ``(status, json)`` for 2xx and ``allow``ed
        statuses, raises ``HttpError`` for other answers, ``Aborted`` when
        ``abort`` fired, and ``OSError``/``HTTPException`` when the network failed."""
        if body is None:
            payload = None
        elif isinstance(body, RawJson):
            payload = body.encode()
        else:
            payload = json.dumps(body, allow_nan=False).encode()
        hdrs = {
            "Authorization": f"Bearer {self.key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if payload is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        limit = self.timeout if timeout is None else timeout
        for fresh in (False, True):
            conn = self._acquire(limit)
            reused = conn.sock is not None
            sent = False
            try:
                if abort is not None and abort.aborted:
                    raise Aborted()
                conn.request(method, self._prefix + path, body=payload, headers=hdrs)
                sent = True
                if abort is not None:
                    abort.attach(conn.sock)
                res = conn.getresponse()
                text = res.read()
                status, retry_after = res.status, res.getheader("Retry-After")
                keep = res.getheader("Connection", "").lower() != "close"
            except Aborted:
                conn.close()
                raise
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                if abort is not None and abort.aborted:
                    raise Aborted() from err
                # A keep-alive connection the server had closed: once more, afresh — but
                # only when the request cannot have been served (it failed to go out, or
                # the server hung up without a byte), since a result sent twice earns a 409.
                stale = isinstance(err, http.client.RemoteDisconnected) or (
                    not sent and isinstance(err, (BrokenPipeError, ConnectionResetError))
                )
                if reused and stale and not fresh:
                    continue
                raise
            finally:
                if abort is not None:
                    abort.attach(None)
            if keep and not (abort is not None and abort.aborted):
                self._release(conn)
            else:
                conn.close()
            break
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            doc = None
        if 200 <= status < 300 or status in allow:
            return status, doc
        problem = doc if isinstance(doc, dict) else {}
        raise HttpError(
            status,
            problem.get("code") if isinstance(problem.get("code"), str) else None,
            problem.get("detail") if isinstance(problem.get("detail"), str) else None,
            f"{method} {path}",
            retry_after=retry_after_seconds(retry_after),
            errors=problem.get("errors") if isinstance(problem.get("errors"), list) else None,
        )
