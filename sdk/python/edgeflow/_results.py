"""Results that finish close together go to the server in one call
(``POST /heartbeat/tasks/complete`` / ``…/fail``: docs/worker-protocol.md, "Many
results in one call, and the next tasks with them"), as the TypeScript SDK does
(shared/worker/result_batch.ts).

The first result of a kind opens a window of ``window`` seconds; every result
of that kind finishing inside it joins the same call (at most ``max_batch``: a
full batch leaves at once). The server fences and answers each entry on its
own, so each task's thread gets the outcome its single call would have had:
``accepted``, ``stale`` (409, final), ``rejected`` (another 4xx), ``gave_up`` or
``aborted``. A transient failure of the whole call is retried like a single
report, for the entries still ours.

A batch of results (completions or failures) asks for the worker's next tasks (``next``): the
claim is made in the results' transaction, so a chain's next step comes back
in the answer instead of a heartbeat later — one call per step for a busy
worker instead of a completion and a heartbeat.

Falls back to one call per result when the batch cannot be taken whole: a
control plane without the batch routes (404/405: remembered) or a body too
large or refused (413/422: each single call then decides, so a refused output
still fails its task as before).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._http import RawJson, Transport, is_transient, retry_delay
from ._tasks import REPORT_ATTEMPTS, HeldTask, report
from .errors import HttpError

log = logging.getLogger("edgeflow.worker")

#: Default window: results finishing within 2 ms of each other share a call.
WINDOW = 0.002
#: Most results in one call (the server takes up to 1,000).
MAX_BATCH = 100

Outcome = Tuple[str, Optional[BaseException]]


class Claimer:
    """How a batch of completions asks for the worker's next tasks (the Worker)."""

    def next_request(self, freed: int) -> Optional[Dict[str, Any]]:
        """``next`` for a batch whose answer frees ``freed`` slots; None: ask for nothing."""
        raise NotImplementedError

    def take_next(self, answer: Dict[str, Any], sent_at: float) -> None:
        """Takes the tasks ``next`` brought (before the batch's threads go on)."""
        raise NotImplementedError


class _Pending:
    __slots__ = ("held", "body", "done", "outcome")

    def __init__(self, held: HeldTask, body: str) -> None:
        self.held = held
        self.body = body
        self.done = threading.Event()
        #: None after `done`: send it alone (the batch fell back).
        self.outcome: Optional[Outcome] = None

    def settle(self, outcome: Optional[Outcome]) -> None:
        self.outcome = outcome
        self.done.set()


class _Batch:
    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: List[_Pending] = []


class ResultBatcher:
    """``report(held, kind, body)`` with batching; ``window`` 0 sends every result alone."""

    def __init__(
        self,
        transport: Transport,
        window: float = WINDOW,
        max_batch: int = MAX_BATCH,
        claimer: Optional[Claimer] = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._transport = transport
        self._window = window
        self._max = max_batch
        self._claimer = claimer
        self._sleep = sleep
        self._lock = threading.Lock()
        self._open: Dict[str, Optional[_Batch]] = {"complete": None, "fail": None}
        self.supported = True

    def report(self, held: HeldTask, kind: str, body: str) -> Outcome:
        # A suspension (ctx.wait_for_event) has no batch call.
        if kind not in self._open or not self.supported or self._window <= 0:
            return report(self._transport, held, kind, body)
        p = _Pending(held, body)
        with self._lock:
            batch = self._open[kind]
            lead = batch is None
            if batch is None:
                batch = self._open[kind] = _Batch()
            batch.entries.append(p)
            full = len(batch.entries) >= self._max
            if full:
                self._open[kind] = None
        if full:
            self._send(kind, batch.entries)
        elif lead:
            # The thread that opened the window sends it (it waits for its own answer anyway).
            self._sleep(self._window)
            with self._lock:
                mine = self._open[kind] is batch
                if mine:
                    self._open[kind] = None
            if mine:
                self._send(kind, batch.entries)
        p.done.wait()
        if p.outcome is None:
            return report(self._transport, held, kind, body)
        return p.outcome

    def _send(self, kind: str, batch: List[_Pending]) -> None:
        path = f"/heartbeat/tasks/{kind}"
        for attempt in range(1, REPORT_ATTEMPTS + 1):
            # A task whose lease was lost or run cancelled meanwhile is not ours to report.
            for p in batch:
                if p.held.dropped or p.held.ctx.cancelled.is_set():
                    p.settle(("aborted", None))
            batch = [p for p in batch if not p.done.is_set()]
            if not batch:
                return
            nxt = self._claimer.next_request(len(batch)) if self._claimer else None
            if len(batch) == 1 and nxt is None:
                batch[0].settle(None)  # alone and asking for nothing: the single call
                return
            # Each body is a JSON object with the lease first: the entry is it plus the task.
            entries = ",".join(
                '{"task":%s,%s' % (json.dumps(p.held.id), p.body[1:]) for p in batch
            )
            body = '{"results":[%s]%s}' % (
                entries, ',"next":' + json.dumps(nxt) if nxt is not None else ""
            )
            sent_at = time.time()
            try:
                _, res = self._transport.request("POST", path, RawJson(body))
            except Exception as err:  # noqa: BLE001 - sorted below
                status = err.status if isinstance(err, HttpError) else None
                if status in (404, 405, 413, 422):
                    if status in (404, 405):
                        self.supported = False
                    for p in batch:
                        p.settle(None)
                    return
                if not is_transient(err):
                    log.error("%s of %d tasks could not be reported: %s", kind, len(batch), err)
                    for p in batch:
                        p.settle(("rejected", err))
                    return
                if attempt == REPORT_ATTEMPTS:
                    log.error("%s of %d tasks could not be reported: %s", kind, len(batch), err)
                    for p in batch:
                        p.settle(("gave_up", err))
                    return
                log.warning("reporting %d results failed (%s); retrying", len(batch), err)
                # Retry-After is honoured, but never past half the shortest lease.
                delay = retry_delay(err, attempt)
                ends = [p.held.expires_at for p in batch if p.held.expires_at is not None]
                if ends:
                    delay = min(delay, max(0.05, (min(ends) - time.time()) / 2))
                self._sleep(delay)
                continue
            res = res if isinstance(res, dict) else {}
            # A control plane from before `next` answers none; a refused one (a problem) brings no tasks.
            got = res.get("next")
            if nxt is not None and isinstance(got, dict) and isinstance(got.get("tasks"), list):
                self._claimer.take_next(got, sent_at)  # type: ignore[union-attr]
            elif nxt is not None and isinstance(got, dict) and got.get("status"):
                log.warning("next was refused: %s %s", got.get("status"), got.get("code"))
            items = res.get("results") if isinstance(res.get("results"), list) else []
            for i, p in enumerate(batch):
                p.settle(_outcome(items[i] if i < len(items) else None, path))
            return


def _outcome(item: Any, path: str) -> Outcome:
    item = item if isinstance(item, dict) else {}
    try:
        status = int(item.get("status") or 0)
    except (TypeError, ValueError):
        status = 0
    if 200 <= status < 300:
        return "accepted", None
    err = HttpError(status or 502, item.get("code"), item.get("detail") or "no answer",
                    f"POST {path}", errors=item.get("errors"))
    if status == 409:
        log.warning("a result was refused: the lease is stale or the run is not running (%s)", err)
        return "stale", err
    # A missing entry (a server that answered fewer) is not the result's fault.
    if not status:
        return "gave_up", err
    return "rejected", err
