"""What a handler gets: the task's identity and input, a cancellation event,
a logger bound to the task, variables and ``run_deployment``.

``ctx.cancelled`` is set when the result would not be accepted any more
(the run was cancelled, the lease was lost, or the worker's drain timed
out); ``ctx.cancel_reason`` says which. Context calls that talk to the
control plane stop waiting at once when it is set.
"""
from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ._http import Transport, is_transient, retry_delay
from ._logs import LogShipper, ShippingHandler
from .errors import DeploymentRunError, HttpError, NonRetryableError, TaskAborted

__all__ = ["DeploymentRun", "TaskContext", "Variables", "WaitTimeout"]

FINAL = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")
_ATTEMPTS = 8

_task_logger = logging.getLogger("edgeflow.task")


class _TaskFields(logging.Filter):
    """Adds ``task_id``, ``run_id``, ``flow`` and ``step`` to every record of one task."""

    def __init__(self, fields: Dict[str, Any]) -> None:
        super().__init__()
        self.fields = fields

    def filter(self, record: logging.LogRecord) -> bool:
        for k, v in self.fields.items():
            setattr(record, k, v)
        return True


def _task_log(task: Mapping[str, Any], shipper: Optional[LogShipper]) -> logging.Logger:
    # A Logger of its own per task, outside the manager's registry (so it is
    # garbage once the task ends), whose records carry the task's fields and
    # propagate to "edgeflow.task": configure handlers there, or on the root.
    # Shipping: every level is shipped (_logs.py), and a record is passed on to
    # "edgeflow.task" only where that logger is enabled for its level.
    log = logging.Logger(f"edgeflow.task.{task.get('step', '?')}")
    log.parent = _task_logger
    if shipper is not None:
        log.setLevel(logging.DEBUG)
        log.propagate = False
        log.addHandler(ShippingHandler(shipper, _task_logger))
    log.addFilter(
        _TaskFields(
            {
                "task_id": task.get("task"),
                "run_id": task.get("run_id"),
                "flow": task.get("flow"),
                "step": task.get("step"),
            }
        )
    )
    return log


class DeploymentRun(dict):
    """``{"run_id", "status", "output"}`` of a run started by ``ctx.run_deployment``."""

    @property
    def run_id(self) -> str:
        return self["run_id"]

    @property
    def status(self) -> str:
        return self["status"]

    @property
    def output(self) -> Any:
        return self["output"]


class TaskContext:
    """The argument of a handler."""

    def __init__(
        self,
        task: Mapping[str, Any],
        worker: str,
        transport: Transport,
        logs: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.task_id: str = task["task"]
        self.lease: str = task["lease"]
        self.run_id: str = task.get("run_id", "")
        self.flow: str = task.get("flow", "")
        self.step: str = task.get("step", "")
        self.handler: str = task.get("handler", "")
        self.attempt: int = int(task.get("attempt", 1))
        self.max_attempts: int = int(task.get("max_attempts", 1))
        self.task_index: int = int(task.get("task_index") or 0)
        #: ``{"run": parameters, "deps": {slug: output}, "args": static args, "item"?: map item}``
        self.input: Dict[str, Any] = task.get("input") or {"run": {}, "deps": {}, "args": None}
        self.worker = worker
        #: The attempt's W3C trace context, ``{"traceparent", "tracestate"}`` (or None from a
        #: server without traces): start the handler's spans from it, e.g. with
        #: ``opentelemetry.propagate.extract(ctx.trace)``. ``run_deployment`` passes it on.
        self.trace: Optional[Dict[str, Any]] = task.get("trace") or None
        #: Ships this task's lines (None when the worker keeps them local).
        self._shipper: Optional[LogShipper] = (
            LogShipper(transport, self.task_id, self.lease, **logs) if logs is not None else None
        )
        #: ``info/warn/error/debug`` with ``%``-style args; shipped to the run's logs.
        self.log: logging.Logger = _task_log(task, self._shipper)
        #: Set when the result is no longer wanted; see ``cancel_reason``.
        self.cancelled = threading.Event()
        #: ``"cancelled"``, ``"lost"`` or ``"shutdown"`` once ``cancelled`` is set.
        self.cancel_reason: Optional[str] = None
        self.variables = Variables(self)
        self._transport = transport
        self._on_abort: List[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._calls: Dict[str, int] = {}
        # ctx.wait_for_event: the waits this task has passed, and the one it asked for.
        self._waited: List[Dict[str, Any]] = list(task.get("waited") or [])
        self._wait_seq = 0
        self._suspend: Optional[Dict[str, Any]] = None

    def raise_if_cancelled(self) -> None:
        """Raises ``TaskAborted`` when the task was cancelled, lost or shut down."""
        if self.cancelled.is_set():
            raise TaskAborted(self.cancel_reason or "cancelled")

    def _abort(self, reason: str) -> None:
        with self._lock:
            if self.cancelled.is_set():
                return
            self.cancel_reason = reason
            self.cancelled.set()
            callbacks, self._on_abort = self._on_abort, []
        for fn in callbacks:
            fn()

    def _add_abort_callback(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if not self.cancelled.is_set():
                self._on_abort.append(fn)
                return
        fn()

    def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> Tuple[int, Any]:
        """One call with the worker's key; transient failures retried while the task lives."""
        for attempt in range(1, _ATTEMPTS + 1):
            self.raise_if_cancelled()
            try:
                return self._transport.request(method, path, body, headers=headers, allow=(404,))
            except Exception as err:  # noqa: BLE001 - sorted by is_transient
                if not is_transient(err) or attempt == _ATTEMPTS:
                    raise
                if self.cancelled.wait(retry_delay(err, attempt)):
                    self.raise_if_cancelled()
        raise AssertionError("unreachable")

    def _trace_headers(self) -> Dict[str, str]:
        """The headers that make a child run continue this attempt's trace."""
        out: Dict[str, str] = {}
        if self.trace and self.trace.get("traceparent"):
            out["traceparent"] = str(self.trace["traceparent"])
            if self.trace.get("tracestate"):
                out["tracestate"] = str(self.trace["tracestate"])
        return out

    def run_deployment(
        self,
        name: str,
        parameters: Optional[Mapping[str, Any]] = None,
        wait: bool = True,
        *,
        poll_seconds: float = 1.0,
        timeout: Optional[float] = None,
        idempotency_key: Optional[str] = None,
    ) -> DeploymentRun:
        """Runs deployment ``name`` with ``parameters`` as a child of this task and,
        unless ``wait=False``, waits for it: returns ``{"run_id", "status", "output"}``
        once it completes, raises ``DeploymentRunError`` (retryable) when it ends
        otherwise, ``NonRetryableError`` for an unknown deployment. Needs a key with
        scope ``trigger`` besides ``worker`` (or ``admin``)."""
        with self._lock:
            n = self._calls.get(name, 0) + 1
            self._calls[name] = n
        # A retried request (network failure) must not start a second run.
        key = idempotency_key or f"{self.task_id}:{self.attempt}:{name}" + (
            f":{n}" if n > 1 else ""
        )
        try:
            status, doc = self._request(
                "POST",
                f"/trigger/{urllib.parse.quote(name, safe='')}",
                {"parameters": dict(parameters or {}), "parent_task": self.task_id},
                {"Idempotency-Key": key, **self._trace_headers()},
            )
        except HttpError as err:
            if err.code == "depth_exceeded":
                raise _depth_error(name, err) from err
            raise
        if status == 404:
            raise NonRetryableError(f'no deployment named "{name}" can be run')
        run_id = doc["run_id"]
        if not wait:
            return DeploymentRun(run_id=run_id, status=doc["status"], output=None)
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            status, run = self._request("GET", f"/trigger/runs/{run_id}")
            if status == 404:
                raise NonRetryableError(f"run {run_id} is gone")
            if run["status"] == "COMPLETED":
                return DeploymentRun(run_id=run_id, status="COMPLETED", output=run.get("output"))
            if run["status"] in FINAL:
                raise DeploymentRunError(name, run_id, run["status"], run.get("error"))
            if until is not None and time.monotonic() + poll_seconds > until:
                raise TimeoutError(f'run {run_id} of deployment "{name}" did not end in {timeout} s')
            if self.cancelled.wait(poll_seconds):
                self.raise_if_cancelled()


    def wait_for_event(self, name: str, *, timeout: int, key: str = "",
                       match: Optional[Mapping[str, Any]] = None,
                       lookback: Optional[int] = None) -> Any:
        """Waits, durably, for event ``name`` with ``key`` (docs/events.md, "Waiting
        inside a handler"): the attempt ends suspended, holding no slot or lease, and
        the handler runs again from the top when the event arrives, this call then
        returning its payload; after ``timeout`` seconds it raises ``WaitTimeout``.
        Code before the call runs again on each resumption: keep it idempotent."""
        seq, self._wait_seq = self._wait_seq, self._wait_seq + 1
        if self._suspend is None and seq < len(self._waited):
            memo = self._waited[seq]
            if memo.get("event") != name or memo.get("key") != key:
                raise NonRetryableError(
                    f'wait {seq} of this task was for event "{memo.get("event")}" (key '
                    f'"{memo.get("key")}"), this run asks for "{name}" (key "{key}"): a '
                    "handler must reach its waits in the same order each time")
            if memo.get("timeout"):
                raise WaitTimeout(name, key)
            return memo.get("payload")
        if self._suspend is None:
            self._suspend = {"seq": seq, "event": name, "key": key, "timeout": timeout,
                             **({"match": dict(match)} if match else {}),
                             **({"lookback": lookback} if lookback is not None else {})}
        raise _WaitSuspended(self._suspend)


class WaitTimeout(NonRetryableError):
    """``ctx.wait_for_event`` timed out: no matching event arrived in time (not retried)."""

    def __init__(self, event: str, key: str) -> None:
        super().__init__(f'no event "{event}" with key "{key}" arrived in time')
        self.event, self.key = event, key


class _WaitSuspended(BaseException):
    """Ends a handler at ``wait_for_event`` (a BaseException: ``except Exception`` lets it
    through). One that is caught anyway still suspends the attempt."""


def _depth_error(name: str, err: HttpError) -> NonRetryableError:
    out = NonRetryableError(f'deployment "{name}": {err.detail}')
    out.code = "subflow_depth_exceeded"  # type: ignore[attr-defined]
    return out


class Variables:
    """``ctx.variables``: named JSON values (``/deploy/variables``), how a subflow
    hands a result back. Needs a key with scope ``deploy`` (or ``admin``)."""

    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx

    @staticmethod
    def _path(name: str) -> str:
        return f"/deploy/variables/{urllib.parse.quote(name, safe='')}"

    def get(self, name: str, default: Any = None) -> Any:
        """The variable's value, or ``default`` when there is none."""
        status, doc = self._ctx._request("GET", self._path(name))
        return default if status == 404 else doc.get("value")

    def set(self, name: str, value: Any) -> None:
        """Creates or replaces the variable."""
        self._ctx._request("PUT", self._path(name), {"value": value})

    def delete(self, name: str) -> bool:
        """Removes it; False when there was none."""
        status, _ = self._ctx._request("DELETE", self._path(name))
        return status != 404
