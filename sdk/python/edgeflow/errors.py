"""Errors of the edgeflow Python SDK, and how a handler's exception is reported.

Retryability travels as a ``retryable`` attribute, not only by class, so an
exception from any library can opt out of retries with ``err.retryable = False``
(the TypeScript SDK's rule, docs/worker-protocol.md "Failing a task").
"""
from __future__ import annotations

import traceback
from typing import Any, Dict, List, Optional

__all__ = [
    "DeploymentRunError",
    "EdgeflowError",
    "HttpError",
    "KeyRefusedError",
    "NonRetryableError",
    "TaskAborted",
    "WorkerStartError",
    "reported_error",
]

#: The server keeps messages up to 64 KiB; tracebacks past a few KiB are noise.
MAX_MESSAGE = 65_536
MAX_STACK = 4_096


class EdgeflowError(Exception):
    """Base class of the SDK's own errors."""


class NonRetryableError(EdgeflowError):
    """Raise from a handler to fail the step at once, without further attempts."""

    retryable = False


class TaskAborted(EdgeflowError):
    """The task's result is no longer wanted: ``reason`` is ``cancelled``, ``lost`` or
    ``shutdown``. Raised by ``ctx.raise_if_cancelled()`` and by context calls."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HttpError(EdgeflowError):
    """A non-2xx answer of the control plane, with its problem document's fields."""

    def __init__(
        self,
        status: int,
        code: Optional[str],
        detail: Optional[str],
        what: str,
        retry_after: Optional[float] = None,
        errors: Optional[List[Any]] = None,
    ) -> None:
        text = f"{what} answered {status}"
        if code:
            text += f" {code}"
        if detail:
            text += f": {detail}"
        super().__init__(text)
        self.status = status
        self.code = code
        self.detail = detail
        #: Seconds the server asked us to wait (``Retry-After`` of a 429/503).
        self.retry_after = retry_after
        #: The problem document's ``errors`` (``[{"path", "message"}]``).
        self.errors = errors or []


class WorkerStartError(EdgeflowError):
    """The first heartbeat did not get through: a refused key (401/403), another
    4xx, or a server that stayed unreachable through the retries."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


class KeyRefusedError(EdgeflowError):
    """The server refused the key after the worker had started; the worker stopped."""

    def __init__(self, url: str, cause: HttpError) -> None:
        why = (
            "no longer knows the key"
            if cause.status == 401
            else "says the key lacks scope worker"
        )
        super().__init__(f"edgeflow at {url} {why} ({cause}); the worker stopped")
        self.status = cause.status


class DeploymentRunError(EdgeflowError):
    """A run started by ``ctx.run_deployment`` ended FAILED, CANCELLED or CRASHED.
    Retryable (the step's retry starts a new run) unless the run failed on the
    nesting depth limit (``code == "subflow_depth_exceeded"``)."""

    def __init__(self, deployment: str, run_id: str, status: str, error: Any) -> None:
        why = error.get("message") if isinstance(error, dict) else None
        super().__init__(
            f'run {run_id} of deployment "{deployment}" ended {status}'
            + (f": {why}" if why else "")
        )
        self.run_id = run_id
        self.status = status
        self.error = error
        self.code: Optional[str] = None
        self.retryable = True
        if isinstance(error, dict) and error.get("code") == "subflow_depth_exceeded":
            self.code = "subflow_depth_exceeded"
            self.retryable = False


def reported_error(err: BaseException) -> Dict[str, Any]:
    """The ``error`` object of ``POST /heartbeat/tasks/:task/fail`` for ``err``."""
    message = str(err) or type(err).__name__
    doc: Dict[str, Any] = {
        "message": message[:MAX_MESSAGE],
        "retryable": getattr(err, "retryable", True) is not False,
        "type": type(err).__name__,
    }
    code = getattr(err, "code", None)
    if isinstance(code, str):
        doc["code"] = code
    stack = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    if stack:
        doc["stack"] = stack[-MAX_STACK:]
    return doc
