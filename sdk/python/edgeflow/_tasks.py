"""One claimed task on this worker: its lease estimate, its handler thread and
its result report (docs/worker-protocol.md, "Results").

A task keeps its slot from the heartbeat that claimed it until its result
is reported, not merely until its handler returns: the report is what
enqueues the dependent steps, so a heartbeat sent before it lands would find
nothing to claim.
"""
from __future__ import annotations

import asyncio
import datetime
import inspect
import json
import logging
import re
import time
from typing import Any, Callable, Dict, Optional, Tuple

from ._http import RawJson, Transport, is_transient, retry_delay
from ._logs import attach_stdout, detach_stdout
from .context import TaskContext
from .errors import HttpError, NonRetryableError, reported_error

log = logging.getLogger("edgeflow.worker")

#: Results are retried like the first heartbeat: about 20 s in all, well inside a lease.
REPORT_ATTEMPTS = 8


_ISO = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$"
)


def parse_time(value: Any) -> Optional[float]:
    """Epoch seconds of an ISO 8601 timestamp (any fraction; no zone: UTC), None when
    absent or unreadable. By hand: ``fromisoformat`` before 3.11 takes only 3 or 6 digits."""
    m = _ISO.match(value) if isinstance(value, str) else None
    if m is None:
        return None
    y, mo, d, h, mi, sec, frac, zone = m.groups()
    at = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec),
                           tzinfo=datetime.timezone.utc).timestamp()
    if frac:
        at += float("0." + frac)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        at -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return at


class HeldTask:
    """A task this worker holds. ``dropped``: cancelled, lost or shut down — never reported."""

    def __init__(self, task: Dict[str, Any], ctx: TaskContext, received_at: float,
                 sent_at: float, lease_seconds: float) -> None:
        self.task = task
        self.ctx = ctx
        self.phase = "queued"  # → "active" → "reporting"
        self.dropped = False
        # The lease in local wall-clock seconds. `lease_expires_at` is the
        # server's clock; measuring the length from when the answer arrived
        # errs on the short side. null: the flow runs without heartbeats.
        if "lease_expires_at" in task:
            at = parse_time(task["lease_expires_at"])
            self.expires_at: Optional[float] = at
            self.length: Optional[float] = None if at is None else max(0.0, at - received_at)
        elif lease_seconds > 0:
            self.expires_at = sent_at + lease_seconds
            self.length = lease_seconds
        else:
            self.expires_at = self.length = None

    @property
    def id(self) -> str:
        return self.task["task"]

    def kept_by_beat(self, sent_at: float) -> None:
        """A beat sent at ``sent_at`` kept the lease: the server extends a lease
        back to full length once less than half is left, so at least half a
        lease remains from ``sent_at``."""
        if self.expires_at is not None and self.length is not None:
            self.expires_at = max(self.expires_at, sent_at + self.length / 2)


def call_handler(fn: Callable[[TaskContext], Any], ctx: TaskContext) -> Any:
    """Runs a sync or async handler in this thread; an async one is cancelled
    (``asyncio.CancelledError`` inside it) when the task's result is no longer wanted."""
    result = fn(ctx)
    if not inspect.isawaitable(result):
        return result
    loop = asyncio.new_event_loop()
    try:
        future = asyncio.ensure_future(result, loop=loop)
        ctx._add_abort_callback(lambda: loop.call_soon_threadsafe(future.cancel))
        return loop.run_until_complete(future)
    finally:
        loop.close()


#: How a result is sent: ``send(held, kind, body)`` → (outcome, error), as ``report``.
Send = Callable[["HeldTask", str, str], Tuple[str, Optional[BaseException]]]


def run_task(
    held: HeldTask,
    fn: Optional[Callable[[TaskContext], Any]],
    send: Send,
    emit: Callable[[str, Dict[str, Any]], None],
) -> None:
    """Runs the handler and reports its outcome under the task's lease (never
    after the task was dropped: the result is not ours to give any more).
    ``send`` is ``report`` bound to a transport, or a ResultBatcher's."""
    ctx, task = held.ctx, held.task
    emit("task:start", {"task": task})
    ok, output, error = False, None, None
    shipper = ctx._shipper
    if shipper is not None:
        attach_stdout(shipper)
    try:
        if fn is None:
            raise NonRetryableError(f'worker {ctx.worker} has no handler named "{task["handler"]}"')
        output, ok = call_handler(fn, ctx), True
    except BaseException as err:  # noqa: BLE001 - any exception fails the attempt
        if isinstance(err, (KeyboardInterrupt, SystemExit)):
            raise
        error = reported_error(err)
    finally:
        if shipper is not None:
            detach_stdout()
    held.phase = "reporting"
    if shipper is not None:
        # Before the result: a result ends the lease, and an ended run has all its lines.
        # (A dropped task's lines go too while its lease is still current; else a 409.)
        shipper.flush()
    if held.dropped or ctx.cancelled.is_set():
        return
    if ctx._suspend is not None:  # ctx.wait_for_event: suspended until the event
        outcome, err = send(held, "suspend",
                              json.dumps({"lease": ctx.lease, "wait": ctx._suspend}))
        if outcome != "rejected" and not (isinstance(err, HttpError) and err.code == "conflict"):
            emit("task:suspended", {"task": task, "wait": ctx._suspend, "report": outcome})
            return
        ok, error = False, {"message": f"the wait was refused: {err}", "retryable": False}
    if ok:
        try:
            body = json.dumps({"lease": ctx.lease, "output": output}, allow_nan=False)
        except (TypeError, ValueError) as err:
            body = None
            error = {"message": f"the handler's output is not JSON-serialisable: {err}",
                     "retryable": False, "type": type(err).__name__}
        if body is not None:
            outcome, err = send(held, "complete", body)
            refused = isinstance(err, HttpError) and err.status in (413, 422)
            if outcome != "rejected" or not refused:
                emit("task:done", {"task": task, "output": output, "report": outcome})
                return
            # The server will never take this output; without a report the run
            # would wait a whole lease for nothing. Fail the attempt instead.
            error = {"message": f"the server refused the output: {err}", "retryable": False}
    assert error is not None
    outcome, _ = send(held, "fail", json.dumps({"lease": ctx.lease, "error": error}))
    emit("task:failed", {"task": task, "error": error, "report": outcome})


def report(transport: Transport, held: HeldTask, kind: str,
           body: str) -> Tuple[str, Optional[BaseException]]:
    """Sends a result. Outcomes: ``accepted`` (2xx), ``stale`` (409: the lease is no
    longer current or the run stopped — final, never retried), ``rejected`` (another
    4xx), ``gave_up`` (transient failures outlasted the retries), ``aborted``."""
    path = f"/heartbeat/tasks/{held.id}/{kind}"
    fields = {"task": held.id, "run": held.task.get("run_id"), "step": held.task.get("step")}
    for attempt in range(1, REPORT_ATTEMPTS + 1):
        if held.ctx.cancelled.is_set():
            return "aborted", None
        try:
            transport.request("POST", path, RawJson(body))
            return "accepted", None
        except Exception as err:  # noqa: BLE001 - sorted below
            if isinstance(err, HttpError) and err.status == 409:
                # Expected under at-least-once delivery: another attempt holds the task now.
                log.warning("%s refused: the lease is stale or the run is not running (%s)",
                            kind, err, extra=fields)
                return "stale", err
            if not is_transient(err):
                log.error("%s could not be reported: %s", kind, err, extra=fields)
                return "rejected", err
            if attempt == REPORT_ATTEMPTS:
                log.error("%s could not be reported: %s", kind, err, extra=fields)
                return "gave_up", err
            log.warning("reporting a result failed (%s); retrying", err, extra=fields)
            # Retry-After is honoured, but never past half a lease: the report must land in time.
            delay = retry_delay(err, attempt)
            if held.expires_at is not None:
                delay = min(delay, max(0.05, (held.expires_at - time.time()) / 2))
            if held.ctx.cancelled.wait(delay):
                return "aborted", None
    return "gave_up", None
