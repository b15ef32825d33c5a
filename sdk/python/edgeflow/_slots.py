"""The slots of a worker: the tasks it holds and the threads running them.

A task takes a slot from the heartbeat that claims it until its result is
reported (or it was dropped and its handler returned). Handlers never
outnumber ``capacity``: tasks beyond it (a server sending more than was
asked for) wait here, their leases kept by heartbeats.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, List

from ._tasks import HeldTask, run_task

log = logging.getLogger("edgeflow.worker")

#: A freed slot asks for a beat this soon: finishes within the window share one beat.
SOON = 0.002


class Slots:
    """Mixed into ``Worker``; every method runs with ``self._cv`` held unless it says not."""

    _held: List[HeldTask]
    _cv: threading.Condition
    _stopping: bool
    capacity: int
    handlers: Dict[str, Callable[..., Any]]
    transport: Any
    _emit: Callable[[str, Dict[str, Any]], None]
    _plan: Callable[[float], None]
    _send_result: Callable[[HeldTask, str, str], Any]

    def _kept(self) -> List[HeldTask]:
        return [h for h in self._held if not h.dropped]

    def _free(self) -> int:
        return 0 if self._stopping else max(0, self.capacity - len(self._held))

    # -- slots --------------------------------------------------------------

    def _drop(self, h: HeldTask, reason: str) -> None:
        """Aborts a task: its result will not be reported and its lease is no longer
        sent. It keeps its slot until its handler returns. Call with the lock held."""
        if h.dropped:
            return
        h.dropped = True
        log.info("task %s %s", h.id, reason, extra={"task": h.id, "run": h.task.get("run_id")})
        h.ctx._abort(reason)
        self._emit("task:aborted", {"task": h.task, "reason": reason})
        if h.phase == "queued":
            self._release(h)

    def _pump(self) -> None:
        """Starts queued tasks while fewer than ``capacity`` run. Lock held."""
        active = sum(1 for h in self._held if h.phase != "queued")
        for h in self._held:
            if active >= self.capacity:
                return
            if h.phase != "queued" or h.dropped:
                continue
            h.phase = "active"
            active += 1
            threading.Thread(target=self._run, args=(h,), name=f"edgeflow-task-{h.id[:8]}",
                             daemon=True).start()

    def _run(self, h: HeldTask) -> None:
        try:
            run_task(h, self.handlers.get(h.task.get("handler", "")), self._send_result, self._emit)
        except Exception:  # noqa: BLE001 - run_task catches handler errors; this is an SDK bug
            log.exception("task %s crashed", h.id)
        finally:
            with self._cv:
                self._release(h)

    def _release(self, h: HeldTask) -> None:
        if h not in self._held:
            return
        self._held.remove(h)
        self._pump()
        # A free slot: ask for the next task (often the dependent step just enqueued).
        # None is free when a batch's `next` already filled the slots its results freed.
        if not self._stopping and self._free() > 0:
            self._plan(SOON)
        self._cv.notify_all()
