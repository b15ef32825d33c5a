"""Ships one task's log lines to the control plane
(``POST /heartbeat/tasks/:task/logs``, docs/worker-protocol.md "Logs"),
under the task's lease — the TypeScript SDK's shipper
(shared/worker/log_shipper.ts) in threads.

``ctx.log`` stays a ``logging.Logger``: ``%``-style arguments, ``extra=``,
``exc_info=`` work as usual. A handler on it buffers each record; a batch
goes out ``flush_seconds`` after its first line (default 1 s: the run page
shows lines about a second late, and a task logging in a tight loop costs
one request a second, not one a line), and always before the task's result
is reported, so a finished task's lines are all in before its run can end.
One batch is in flight at a time.

Bounded per task: at most ``max_buffer`` lines wait (default 1,000), so a
task ships at most about that many lines a second; more are counted and the
count goes with the next batch as ``dropped``, which the server adds to its
own overflow count (shown in every read). A transient failure keeps the
batch for the next try; a ``409`` (the lease is gone) ends shipping for the
task.

``capture_stdout``: ``print()`` (anything written to ``sys.stdout``) from a
handler's thread is shipped as ``info`` lines too, and still printed.
Lines are attributed by thread: a thread the handler starts itself is not
its task's.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any, Dict, List, Optional, TextIO, Tuple

from ._http import RawJson, Transport, is_transient
from .errors import HttpError

__all__ = ["LogShipper", "ShippingHandler", "capture_stdout", "release_stdout"]

log = logging.getLogger("edgeflow.worker")

#: The server cuts messages at 8 KiB; cutting here keeps batches well under its 1 MiB body limit.
MAX_MESSAGE = 8192
#: Bytes of one batch at most (the server refuses bodies over 1 MiB).
MAX_BATCH_BYTES = 512 * 1024
#: Lines of one batch at most (the server's limit per call).
MAX_BATCH_LINES = 1000

_LEVELS = ((logging.ERROR, "error"), (logging.WARNING, "warn"), (logging.INFO, "info"))
#: Attributes every LogRecord has: the rest came from ``extra=`` and are shipped as fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "task_id", "run_id", "flow", "step", "taskName",
}


def level_name(levelno: int) -> str:
    """The protocol's level of a ``logging`` level number."""
    for at_least, name in _LEVELS:
        if levelno >= at_least:
            return name
    return "debug"


class LogShipper:
    """Buffers and sends the lines of one task (thread-safe)."""

    def __init__(
        self,
        transport: Transport,
        task: str,
        lease: str,
        flush_seconds: float = 1.0,
        max_buffer: int = 1000,
    ) -> None:
        self._transport = transport
        self._path = f"/heartbeat/tasks/{task}/logs"
        self._task = task
        self._lease = lease
        self._flush_seconds = flush_seconds
        self._max_buffer = max_buffer
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._buffer: List[Tuple[Dict[str, Any], int]] = []
        self._dropped = 0
        self._timer: Optional[threading.Timer] = None
        self._stale = False

    @property
    def pending_dropped(self) -> int:
        """Lines dropped here and not yet reported to the server."""
        with self._lock:
            return self._dropped

    def push(self, level: str, message: str, fields: Optional[Dict[str, Any]] = None) -> None:
        """Buffers a line; never raises, never blocks on the network."""
        line: Dict[str, Any] = {"level": level, "message": str(message)[:MAX_MESSAGE]}
        size = len(line["message"]) + 40
        if fields:
            try:
                text = json.dumps(fields, allow_nan=False, default=str)
                line["fields"] = json.loads(text)
            except (TypeError, ValueError) as err:
                text = json.dumps({"unserializable": str(err)})
                line["fields"] = json.loads(text)
            size += len(text)
        with self._lock:
            if self._stale:
                return
            if len(self._buffer) >= self._max_buffer:
                self._dropped += 1
                return
            self._buffer.append((line, size))
            if self._timer is None:
                self._timer = threading.Timer(self._flush_seconds, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Sends everything buffered so far; returns when it was sent or given up."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        with self._sending:
            self._send_all()

    def _send_all(self) -> None:
        while True:
            with self._lock:
                if self._stale or not (self._buffer or self._dropped):
                    return
                size = n = 0
                while n < len(self._buffer) and n < MAX_BATCH_LINES:
                    if n > 0 and size + self._buffer[n][1] > MAX_BATCH_BYTES:
                        break
                    size += self._buffer[n][1]
                    n += 1
                lines = [line for line, _ in self._buffer[:n]]
                dropped = self._dropped
            body = RawJson(json.dumps({"lease": self._lease, "lines": lines, "dropped": dropped}))
            try:
                self._transport.request("POST", self._path, body)
            except Exception as err:  # noqa: BLE001 - sorted below
                with self._lock:
                    if isinstance(err, HttpError) and err.status == 409:
                        # The lease is gone: nothing of ours is wanted any more.
                        self._stale = True
                        self._buffer = []
                        return
                    if is_transient(err):
                        log.warning("shipping task logs failed; will try again: %s", err,
                                    extra={"task": self._task})
                        return  # kept: the next line's timer or the final flush sends them
                    # Refused for good (a 4xx other than 409): count them rather than loop.
                    log.warning("the server refused task log lines: %s", err,
                                extra={"task": self._task})
                    del self._buffer[:n]
                    self._dropped += n
                    if not self._buffer:
                        return
                continue
            with self._lock:
                del self._buffer[:n]
                self._dropped -= dropped


class ShippingHandler(logging.Handler):
    """The handler on a task's logger: every record is shipped; it is passed on
    to ``edgeflow.task`` (and so to the application's handlers) only where that
    logger is enabled for its level, so shipping debug lines prints nothing new."""

    def __init__(self, shipper: LogShipper, parent: logging.Logger) -> None:
        super().__init__(logging.DEBUG)
        self.shipper = shipper
        self._parent = parent

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            elif record.exc_text:
                message += "\n" + record.exc_text
            fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
            self.shipper.push(level_name(record.levelno), message, fields or None)
        except Exception:  # noqa: BLE001 - a bad format string must not fail the handler
            self.handleError(record)
        if self._parent.isEnabledFor(record.levelno):
            self._parent.handle(record)


class _StdoutTee:
    """``sys.stdout`` while capture is on: writes go to the real stream, and from a
    handler's thread also to its task's shipper, line by line."""

    def __init__(self, real: TextIO) -> None:
        self._real = real
        self._sinks: Dict[int, List[Any]] = {}  # thread id → [shipper, partial line]
        self._lock = threading.Lock()

    def attach(self, shipper: LogShipper) -> None:
        with self._lock:
            self._sinks[threading.get_ident()] = [shipper, ""]

    def detach(self) -> None:
        with self._lock:
            sink = self._sinks.pop(threading.get_ident(), None)
        if sink and sink[1]:
            sink[0].push("info", sink[1])

    def write(self, text: str) -> int:
        n = self._real.write(text)
        sink = self._sinks.get(threading.get_ident())
        if sink is not None:
            *lines, sink[1] = (sink[1] + text).split("\n")
            for line in lines:
                sink[0].push("info", line)
            if len(sink[1]) > MAX_MESSAGE:
                sink[0].push("info", sink[1])
                sink[1] = ""
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


_tee: Optional[_StdoutTee] = None
_tee_users = 0
_tee_lock = threading.Lock()


def capture_stdout() -> None:
    """Starts routing handler threads' stdout to their tasks (refcounted per process)."""
    global _tee, _tee_users
    with _tee_lock:
        if _tee_users == 0:
            _tee = _StdoutTee(sys.stdout)
            sys.stdout = _tee  # type: ignore[assignment]
        _tee_users += 1


def release_stdout() -> None:
    """Stops capturing once the last worker that started it stopped."""
    global _tee, _tee_users
    with _tee_lock:
        if _tee_users == 0:
            return
        _tee_users -= 1
        if _tee_users == 0 and _tee is not None:
            if sys.stdout is _tee:
                sys.stdout = _tee._real  # type: ignore[assignment]
            _tee = None


def attach_stdout(shipper: LogShipper) -> None:
    """This thread's stdout goes to ``shipper`` too (while capture is on)."""
    if _tee is not None:
        _tee.attach(shipper)


def detach_stdout() -> None:
    """Ends this thread's capture, shipping a last partial line."""
    if _tee is not None:
        _tee.detach()
