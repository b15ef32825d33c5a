"""ctx.wait_for_event against a served edgeflow (issue 16): the attempt ends
suspended, the event re-runs the handler with its payload memoized, on the
same attempt; a map step's task cannot suspend."""
from __future__ import annotations

import threading
import unittest
from typing import Any, Dict, List

from served import Background, Served, until

from edgeflow import Worker

served: Served


def setUpModule() -> None:
    global served
    served = Served()


def tearDownModule() -> None:
    served.close()


class WaitForEventTest(unittest.TestCase):
    def test_a_handler_waits_for_an_event_and_resumes_with_its_payload(self) -> None:
        name = served.flow([{"slug": "ask", "handler": "doc.ask", "timeout": 60}])
        w = Worker(url=served.url, key=served.key, pool=name, capacity=1)
        self.addCleanup(lambda: w.stop(timeout=5))
        calls: List[Dict[str, Any]] = []
        suspended = threading.Event()
        w.on("task:suspended", lambda e: suspended.set())

        @w.handler("doc.ask")
        def ask(ctx: Any) -> Dict[str, Any]:
            entry = {"attempt": ctx.attempt, "passed": False}
            calls.append(entry)
            try:
                ev = ctx.wait_for_event("doc.approved", key=ctx.input["run"]["doc"], timeout=3600,
                                        match={"/ok": True})
            except Exception:  # noqa: BLE001 - the suspension is not an Exception
                raise AssertionError("the suspension must pass through except Exception")
            entry["passed"] = True
            return {"approved": ev["ok"]}

        Background(w)
        started = served.client.request("POST", f"/trigger/{name}", {"parameters": {"doc": "p1"}})
        run_id = started["run_id"]
        until("the handler to suspend", suspended.is_set)
        doc = served.client.request("GET", f"/trigger/runs/{run_id}")
        self.assertEqual(doc["status"], "WAITING", doc)
        refused = served.client.request(
            "POST", "/trigger/events", {"name": "doc.approved", "key": "p1", "payload": {"ok": False}})
        self.assertEqual(refused["runs_resumed"], 0)
        ev = served.client.request(
            "POST", "/trigger/events", {"name": "doc.approved", "key": "p1", "payload": {"ok": True}})
        self.assertEqual(ev["runs_resumed"], 1)

        def done() -> Any:
            d = served.client.request("GET", f"/trigger/runs/{run_id}")
            return d if d["status"] in ("COMPLETED", "FAILED") else None

        final = until("the run to end", done)
        self.assertEqual(final["status"], "COMPLETED", final)
        self.assertEqual(final["output"], {"ask": {"approved": True}})
        self.assertEqual(calls, [{"attempt": 1, "passed": False}, {"attempt": 1, "passed": True}])


if __name__ == "__main__":
    unittest.main()
