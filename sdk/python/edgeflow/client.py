"""``Client``: the control plane's public API for scripts — register flows,
deploy them, trigger runs and wait for them (/work/shared/spec/api.md)."""
from __future__ import annotations

import os
import time
import urllib.parse
from typing import Any, Dict, Mapping, Optional, Sequence

from ._http import Transport, is_transient, retry_delay

__all__ = ["Client", "FINAL_STATUSES"]

FINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")


def _q(name: str) -> str:
    return urllib.parse.quote(name, safe="")


class Client:
    """A client of one edgeflow. ``url``/``key`` default to ``$EDGEFLOW_URL`` and
    ``$EDGEFLOW_KEY``. Non-2xx answers raise ``HttpError`` (``status``,
    ``code``, ``detail``, ``errors``); transient ones (429, 5xx, network) are
    retried ``retries`` times with backoff, honouring ``Retry-After``."""

    def __init__(
        self,
        url: Optional[str] = None,
        key: Optional[str] = None,
        *,
        timeout: float = 30.0,
        retries: int = 4,
    ) -> None:
        url = url or os.environ.get("EDGEFLOW_URL", "")
        key = key or os.environ.get("EDGEFLOW_KEY", "")
        self.transport = Transport(url, key, timeout)
        self.retries = retries

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Optional[Dict[str, str]] = None,
        retry: bool = True,
    ) -> Any:
        """One API call; returns the JSON answer."""
        for attempt in range(1, self.retries + 2):
            try:
                return self.transport.request(method, path, body, headers=headers)[1]
            except Exception as err:  # noqa: BLE001 - sorted by is_transient
                if not retry or not is_transient(err) or attempt > self.retries:
                    raise
                time.sleep(retry_delay(err, attempt))

    # register / deploy -----------------------------------------------------

    def register(self, flow: Mapping[str, Any]) -> Dict[str, Any]:
        """Registers a flow version (``POST /register``); the same definition again
        returns the existing version (``created: False``)."""
        return self.request("POST", "/register", dict(flow))

    def deploy(self, deployment: Mapping[str, Any]) -> Dict[str, Any]:
        """Creates or updates a deployment by name (``POST /deploy``)."""
        return self.request("POST", "/deploy", dict(deployment))

    def create_key(self, name: str, scopes: Sequence[str]) -> Dict[str, Any]:
        """A new API key (``{"id", "key"}``; the key is shown only once)."""
        return self.request("POST", "/deploy/keys", {"name": name, "scopes": list(scopes)})

    # runs ------------------------------------------------------------------

    def trigger(
        self,
        deployment: str,
        parameters: Optional[Mapping[str, Any]] = None,
        *,
        idempotency_key: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Starts a run of ``deployment``: ``{"run_id", "status", …}``. With an
        ``idempotency_key`` a repeated call returns the same run (and is retried
        safely); without one a failed request is not retried (it might have started a run)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.request(
            "POST",
            f"/trigger/{_q(deployment)}",
            {"parameters": dict(parameters or {})},
            headers,
            retry=idempotency_key is not None,
        )

    def trigger_flow(
        self,
        flow: str,
        parameters: Optional[Mapping[str, Any]] = None,
        *,
        version: Optional[int] = None,
        pool: Optional[str] = None,
    ) -> Dict[str, Any]:
        """An ad hoc run of a flow, without a deployment."""
        body: Dict[str, Any] = {"parameters": dict(parameters or {})}
        if version is not None:
            body["version"] = version
        if pool is not None:
            body["pool"] = pool
        return self.request("POST", f"/trigger/flows/{_q(flow)}", body, retry=False)

    def get_run(self, run_id: str) -> Dict[str, Any]:
        """The run with its steps (``GET /trigger/runs/:id``)."""
        return self.request("GET", f"/trigger/runs/{_q(run_id)}")

    def cancel(self, run_id: str) -> Dict[str, Any]:
        """Cancels a run; its workers see the task in ``cancel`` and abort."""
        return self.request("POST", f"/trigger/runs/{_q(run_id)}/cancel")

    def logs(self, run_id: str, **query: Any) -> Dict[str, Any]:
        """A page of the run's log lines (``GET /trigger/runs/:id/logs``): ``step``,
        ``task``, ``level`` (this level and above), ``after`` (a line id), ``limit``.
        ``{"run_id", "status", "logs": [...], "last_id", "dropped": [...]}``."""
        qs = "&".join(f"{_q(k)}={_q(str(v))}" for k, v in query.items() if v is not None)
        return self.request("GET", f"/trigger/runs/{_q(run_id)}/logs" + (f"?{qs}" if qs else ""))

    def wait(self, run_id: str, timeout: Optional[float] = None, poll: float = 0.25) -> Dict[str, Any]:
        """Polls the run until it is COMPLETED, FAILED, CANCELLED or CRASHED and returns
        it; raises ``TimeoutError`` when ``timeout`` seconds pass first."""
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self.get_run(run_id)
            if run.get("status") in FINAL_STATUSES:
                return run
            if until is not None and time.monotonic() >= until:
                raise TimeoutError(f"run {run_id} is still {run.get('status')} after {timeout} s")
            time.sleep(poll)

    def run(
        self,
        deployment: str,
        parameters: Optional[Mapping[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> Dict[str, Any]:
        """Triggers ``deployment`` and waits for the run to end."""
        return self.wait(self.trigger(deployment, parameters)["run_id"], timeout)

    # variables -------------------------------------------------------------

    def get_variable(self, name: str, default: Any = None) -> Any:
        status, doc = self.transport.request("GET", f"/deploy/variables/{_q(name)}", allow=(404,))
        return default if status == 404 else doc.get("value")

    def set_variable(self, name: str, value: Any) -> None:
        self.request("PUT", f"/deploy/variables/{_q(name)}", {"value": value})
