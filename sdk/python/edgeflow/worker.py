"""The worker: a heartbeat thread that keeps leases, claims tasks into free
slots and runs their handlers on threads of their own.

The timing rules are the TypeScript SDK's (shared/worker/schedule.ts) and
are written down in docs/worker-protocol.md: one heartbeat in flight at a
time; at once again when the last one brought tasks and slots are free; else
the server's ``heartbeat_seconds`` — but never later than half the shortest
remaining lease; a long poll (``wait_seconds``) while idle.
"""
from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

from ._http import Abort, Aborted, Transport, is_transient, retry_delay
from . import _logs
from ._results import WINDOW, Claimer, ResultBatcher
from ._slots import Slots
from ._tasks import HeldTask, report
from .context import TaskContext
from .errors import HttpError, KeyRefusedError, WorkerStartError

__all__ = ["Worker"]

log = logging.getLogger("edgeflow.worker")

#: Never beat more often than this, even for a lease about to expire.
MIN_BEAT = 0.05
#: Longest long poll the worker asks for (the server caps it at 20 s too).
MAX_WAIT = 20

Handler = Callable[[TaskContext], Any]


class Worker(Slots, Claimer):
    """Runs task handlers of one pool against an edgeflow control plane.

    ``url`` and ``key`` default to ``$EDGEFLOW_URL`` and ``$EDGEFLOW_KEY``;
    ``capacity`` is how many handlers run at once; ``poll_seconds`` the idle
    poll interval (default: the server's ``heartbeat_seconds``).

    ``ship_logs`` (default True): ``ctx.log`` lines go to the run's logs
    (``GET /trigger/runs/:id/logs``) as well as to ``logging``; a batch waits
    at most ``log_flush_seconds`` (default 1 s), at most ``log_max_buffer``
    lines wait per task (more are counted as dropped). ``capture_stdout``
    (default False): ``print()`` inside a handler is shipped too.

    ``result_batch_seconds`` (default 0.002): results finishing within this
    window of each other go to the server in one call, which also claims the
    worker's next tasks (``next``); 0 reports every result on its own call."""

    def __init__(
        self,
        url: Optional[str] = None,
        key: Optional[str] = None,
        pool: str = "default",
        capacity: int = 1,
        *,
        name: Optional[str] = None,
        poll_seconds: Optional[float] = None,
        request_timeout: float = 30.0,
        start_attempts: int = 8,
        ship_logs: bool = True,
        log_flush_seconds: float = 1.0,
        log_max_buffer: int = 1000,
        capture_stdout: bool = False,
        result_batch_seconds: float = WINDOW,
    ) -> None:
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError("Worker: capacity must be a whole number >= 1")
        if not isinstance(result_batch_seconds, (int, float)) or result_batch_seconds < 0:
            raise ValueError("Worker: result_batch_seconds must be a number >= 0")
        self._batch_window = float(result_batch_seconds)
        self._batcher: Optional[ResultBatcher] = None
        # Read at start(), so `python3 -m edgeflow worker --url … --key …` can set them.
        self.url = url
        self.key = key
        self._transport: Optional[Transport] = None
        self.pool = pool
        self.capacity = capacity
        self.name = name or f"py-{uuid.uuid4().hex[:8]}"
        self.handlers: Dict[str, Handler] = {}
        self._poll = poll_seconds
        self._timeout = request_timeout
        self._start_attempts = start_attempts
        self._listeners: Dict[str, List[Callable[[Dict[str, Any]], None]]] = {}
        self._cv = threading.Condition()
        self._held: List[HeldTask] = []
        self._want_at = math.inf
        self._heartbeat = 10.0
        self._lease_seconds = 0.0
        self._long_poll = False
        self._last_got = 0
        self._beating = False
        self._poll_abort: Optional[Abort] = None
        self._failures = 0
        self.state = "idle"  # → running → stopping → stopped
        self._stopping = False
        self._deadline = math.inf
        self._thread: Optional[threading.Thread] = None
        self._fatal: Optional[BaseException] = None
        if log_flush_seconds <= 0 or log_max_buffer < 1:
            raise ValueError("Worker: log_flush_seconds must be > 0 and log_max_buffer >= 1")
        self._logs: Optional[Dict[str, Any]] = (
            {"flush_seconds": log_flush_seconds, "max_buffer": log_max_buffer}
            if ship_logs else None
        )
        self._capture_stdout = capture_stdout and ship_logs
        self._capturing = False

    # -- registration -------------------------------------------------------

    def handler(self, name: str) -> Callable[[Handler], Handler]:
        """Decorator: ``@worker.handler("etl.extract")`` registers a sync or async def."""

        def register(fn: Handler) -> Handler:
            if not callable(fn):
                raise TypeError(f'handler "{name}" is not callable')
            self.handlers[name] = fn
            return fn

        return register

    def on(self, event: str, fn: Callable[[Dict[str, Any]], None]) -> None:
        """Listens to ``started``, ``task:start``, ``task:done``, ``task:failed``, ``task:aborted``,
        ``error`` or ``fatal``; ``fn`` gets a dict (a listener that raises is logged)."""
        self._listeners.setdefault(event, []).append(fn)

    def _emit(self, event: str, payload: Dict[str, Any]) -> None:
        for fn in self._listeners.get(event, []):
            try:
                fn(payload)
            except Exception:  # noqa: BLE001 - a listener must not break the worker
                log.exception('a "%s" listener raised', event)

    @property
    def transport(self) -> Transport:
        """The HTTP client (made at first use from ``url``/``key`` or the environment)."""
        if self._transport is None:
            url = self.url or os.environ.get("EDGEFLOW_URL") or "http://127.0.0.1:8000"
            key = self.key or os.environ.get("EDGEFLOW_KEY", "")
            if not key:
                raise ValueError("Worker: key must be an API key with scope worker "
                                 "(or set EDGEFLOW_KEY)")
            self._transport = Transport(url, key, self._timeout)
            self.url = self._transport.url
        return self._transport

    def _send_result(self, held: HeldTask, kind: str, body: str) -> Any:
        """Reports a task's result: batched (with ``next``) unless the window is 0."""
        if self._batch_window <= 0:
            return report(self.transport, held, kind, body)
        if self._batcher is None:
            with self._cv:
                if self._batcher is None:
                    self._batcher = ResultBatcher(self.transport, self._batch_window, claimer=self)
        return self._batcher.report(held, kind, body)

    # -- next: the claim a batch of completions makes ---------------------------

    def next_request(self, freed: int) -> Optional[Dict[str, Any]]:
        """``next`` for a batch of completions: the slots free now plus those its answer frees."""
        with self._cv:
            if self._stopping or self.state != "running":
                return None
            capacity = min(self.capacity, self._free() + freed)
        if capacity <= 0:
            return None
        return {"worker": self.name, "pool": self.pool, "handlers": sorted(self.handlers),
                "capacity": capacity}

    def take_next(self, answer: Dict[str, Any], sent_at: float) -> None:
        """Takes the tasks a batch's ``next`` brought, as a heartbeat's (no leases were sent)."""
        with self._cv:
            self._take(answer, [], sent_at, time.time(), beat=False)
            # Their leases are kept by the next beat: never later than half of one.
            self._plan(min(self._heartbeat, self._lease_bound()))

    @property
    def running(self) -> int:
        """Tasks held: queued, running or being reported."""
        with self._cv:
            return len(self._held)

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Sends the first heartbeat (retrying transient failures) and starts the
        heartbeat thread. Raises ``WorkerStartError`` on 401/403, another 4xx, or
        a server that stays unreachable."""
        if not self.handlers:
            raise ValueError("Worker: register at least one handler first")
        self.transport  # noqa: B018 - validates url and key now, not in the first beat
        if self.state != "idle":
            raise RuntimeError(f"worker is {self.state}")
        self.state = "starting"
        for n in range(1, self._start_attempts + 1):
            try:
                got = self._beat()
                break
            except Exception as err:  # noqa: BLE001 - sorted below
                status = err.status if isinstance(err, HttpError) else None
                if status in (401, 403):
                    why = "does not know the key" if status == 401 else "says the key lacks scope worker"
                    self.state = "idle"
                    self.transport.close()
                    raise WorkerStartError(f"edgeflow at {self.url} {why} ({err})", status) from err
                if not is_transient(err) or n == self._start_attempts:
                    self.state = "idle"
                    self.transport.close()
                    what = "refused the heartbeat" if status else "is unreachable"
                    raise WorkerStartError(f"edgeflow at {self.url} {what}: {err}", status) from err
                log.warning("first heartbeat failed (%s); retrying", err)
                time.sleep(retry_delay(err, n))
        self.state = "running"
        if self._capture_stdout and not self._capturing:
            _logs.capture_stdout()
            self._capturing = True
        with self._cv:
            self._plan(self._next_delay(got))
        self._thread = threading.Thread(target=self._loop, name=f"edgeflow-{self.name}", daemon=True)
        self._thread.start()
        log.info("worker %s started (pool %s, capacity %d)", self.name, self.pool, self.capacity)
        self._emit("started", {"worker": self.name})

    def run(self, drain_timeout: Optional[float] = None, install_signals: bool = True) -> None:
        """Starts and blocks until stopped. SIGTERM/SIGINT drain: no more claims, the
        long poll ends, running tasks finish (keeping their leases) within
        ``drain_timeout`` seconds (None: as long as they take); a second signal
        stops at once. Raises ``KeyRefusedError`` when the key is refused mid-run."""
        stop_requested = threading.Event()
        if install_signals and threading.current_thread() is threading.main_thread():
            def on_signal(signum: int, _frame: Any) -> None:
                if stop_requested.is_set():
                    threading.Thread(target=self.stop, kwargs={"timeout": 0}, daemon=True).start()
                stop_requested.set()
                with self._cv:
                    self._cv.notify_all()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, on_signal)
        self.start()
        with self._cv:
            while self.state == "running" and not stop_requested.is_set():
                self._cv.wait(0.5)
        self.stop(timeout=drain_timeout)
        if self._fatal is not None:
            raise self._fatal

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stops claiming, ends a long poll in flight, waits up to ``timeout`` seconds
        for running tasks (None: as long as they take) — then aborts the rest with
        reason ``shutdown`` (their results are not reported; the server re-queues
        them when the leases expire) — and sends a last heartbeat with capacity 0."""
        with self._cv:
            if self.state in ("idle", "stopped"):
                self.state = "stopped"
                return
            if self._stopping:
                # A second stop (a second signal): shorten the drain, don't wait twice.
                self._deadline = min(self._deadline, time.monotonic() + (timeout or 0))
                self._cv.notify_all()
                return
            self._stopping = True
            self.state = "stopping"
            self._deadline = math.inf if timeout is None else time.monotonic() + timeout
            if self._poll_abort is not None:
                self._poll_abort.abort()
            self._cv.notify_all()
            # A beat sent before stop() may still bring tasks: they are ours, run them too.
            while self._beating:
                self._cv.wait()
            while self._held and time.monotonic() < self._deadline:
                self._cv.wait(min(0.5, max(0.0, self._deadline - time.monotonic())))
            for h in list(self._held):
                self._drop(h, "shutdown")
            self.state = "stopped"
            self._cv.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        try:
            self._send([], 0, 0, None)
        except Exception as err:  # noqa: BLE001 - best effort
            log.warning("final heartbeat failed: %s", err)
        if self._capturing:
            _logs.release_stdout()
            self._capturing = False
        self.transport.close()
        log.info("worker %s stopped", self.name)

    # -- the loop -----------------------------------------------------------

    def _plan(self, delay: Optional[float]) -> None:
        """The next beat is due within ``delay`` (never later than already planned)."""
        if delay is not None:
            self._want_at = min(self._want_at, time.monotonic() + delay)
            self._cv.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while self.state != "stopped" and time.monotonic() < self._want_at:
                    self._cv.wait(min(1.0, self._want_at - time.monotonic()))
                if self.state == "stopped":
                    return
                self._want_at = math.inf
            try:
                got = self._beat()
                self._failures = 0
                with self._cv:
                    self._plan(self._next_delay(got))
            except Aborted:
                # stop() ended the long poll; beat on only to keep held leases.
                with self._cv:
                    self._plan(self._next_delay(0))
                continue
            except Exception as err:  # noqa: BLE001 - the loop must go on
                if isinstance(err, HttpError) and err.status in (401, 403):
                    self._refused(err)
                    return
                # Keep going: handlers still run, and retries within half a lease
                # keep the leases alive if the server comes back in time.
                self._failures += 1
                log.warning("heartbeat failed: %s", err)
                self._emit("error", {"error": err, "during": "heartbeat"})
                with self._cv:
                    # No long poll until the server answers again (its "ask again
                    # at once" would spin on a failing server); the backoff honours
                    # Retry-After, but the interval and half a lease come first.
                    self._long_poll = False
                    nxt = self._next_delay(0)
                    if nxt is not None:
                        self._plan(max(MIN_BEAT, min(nxt, retry_delay(err, self._failures))))

    def _refused(self, err: HttpError) -> None:
        """The key was refused mid-run: say so once and stop instead of retrying forever."""
        self._fatal = KeyRefusedError(self.url, err)
        log.error("%s", self._fatal)
        self._emit("fatal", {"error": self._fatal})
        threading.Thread(target=self.stop, kwargs={"timeout": 0}, daemon=True).start()

    def _lease_bound(self) -> float:
        """Half the shortest remaining lease (at least MIN_BEAT); inf without leases."""
        now = time.time()
        ends = [h.expires_at for h in self._kept() if h.expires_at is not None]
        return max(MIN_BEAT, (min(ends) - now) / 2) if ends else math.inf

    def _wait_seconds(self) -> int:
        if not self._long_poll or self._stopping or self._free() == 0 or self._last_got > 0:
            return 0
        poll = self._poll if self._poll is not None else self._heartbeat
        bound = min(poll, self._lease_bound(), self._timeout - 5, MAX_WAIT)
        return int(bound) if bound >= 1 else 0

    def _next_delay(self, got: int) -> Optional[float]:
        if self._stopping and not self._held:
            return None
        if self._long_poll and got == 0 and self._wait_seconds() > 0:
            return 0.0
        if self._free() > 0 and got > 0:
            return 0.0
        poll = self._poll if self._poll is not None else self._heartbeat
        interval = self._heartbeat if self._held else poll
        return min(interval, self._lease_bound())

    def _beat(self) -> int:
        """One heartbeat: applies its answer and returns how many tasks it brought."""
        with self._cv:
            sent = self._kept()
            capacity = self._free()
            wait = self._wait_seconds()
            abort = Abort() if wait > 0 else None
            self._poll_abort = abort
            self._beating = True
        sent_at = time.time()
        try:
            res = self._send(sent, capacity, wait, abort)
        finally:
            with self._cv:
                self._beating = False
                self._poll_abort = None
                self._cv.notify_all()
        received_at = time.time()
        with self._cv:
            return self._take(res, sent, sent_at, received_at)

    def _take(self, res: Dict[str, Any], sent: List[HeldTask], sent_at: float,
              received_at: float, beat: bool = True) -> int:
        """Applies a heartbeat's answer (or a batch's ``next``): returns the tasks it brought.
        Lock held."""
        tasks = res.get("tasks") or []
        if beat:  # `next` is never a long poll: it says nothing of the server's
            self._long_poll = res.get("long_poll") is True
        self._last_got = len(tasks)
        if (res.get("heartbeat_seconds") or 0) > 0:
            self._heartbeat = float(res["heartbeat_seconds"])
        if (res.get("lease_seconds") or 0) > 0:
            self._lease_seconds = float(res["lease_seconds"])
        lost, cancel = set(res.get("lost") or []), set(res.get("cancel") or [])
        for h in sent:
            # A result on its way may cross this beat: its own answer settles it.
            if h.dropped or h.phase == "reporting":
                continue
            if h.id in lost:
                self._drop(h, "lost")
            elif h.id in cancel:
                self._drop(h, "cancelled")
            else:
                h.kept_by_beat(sent_at)
        for t in tasks:
            ctx = TaskContext(t, self.name, self.transport, self._logs)
            self._held.append(HeldTask(t, ctx, received_at, sent_at, self._lease_seconds))
        self._pump()
        return len(tasks)

    def _send(self, sent: List[HeldTask], capacity: int, wait: int, abort: Optional[Abort]) -> Dict[str, Any]:
        body: Dict[str, Any] = {
            "worker": self.name,
            "pool": self.pool,
            "handlers": sorted(self.handlers),
            "capacity": capacity,
            "running": [{"task": h.id, "lease": h.ctx.lease} for h in sent],
        }
        if wait > 0:
            body["wait_seconds"] = wait
        _, res = self.transport.request(
            "POST", "/heartbeat", body, timeout=self._timeout + wait, abort=abort
        )
        return res if isinstance(res, dict) else {}
