"""Batched results against a served edgeflow: results that finish together share
one call, a batch of completions brings the worker's next tasks (``next``), and
a control plane without the batch routes gets one call per result."""
from __future__ import annotations

import json
import threading
import unittest
from typing import Any, Dict, List, Tuple

from served import Background, Served

from edgeflow import Worker
from edgeflow.errors import HttpError

served: Served


def setUpModule() -> None:
    global served
    served = Served()


def tearDownModule() -> None:
    served.close()


Call = Tuple[str, Dict[str, Any], Any]


def record(w: Worker, refuse_batches: bool = False) -> List[Call]:
    """Every POST the worker's transport makes: (path, body, answer). ``refuse_batches``:
    the batch routes answer 404, as a control plane from before them does."""
    calls: List[Call] = []
    lock = threading.Lock()
    transport = w.transport
    inner = transport.request

    def request(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        sent = json.loads(body) if isinstance(body, str) else body
        if refuse_batches and path in ("/heartbeat/tasks/complete", "/heartbeat/tasks/fail"):
            with lock:
                calls.append((path, sent, None))
            raise HttpError(404, "not_found", "no route", f"{method} {path}")
        status, answer = inner(method, path, body, **kw)
        with lock:
            calls.append((path, sent, answer))
        return status, answer

    transport.request = request  # type: ignore[method-assign]
    return calls


class ResultBatchTest(unittest.TestCase):
    def worker(self, pool: str, **opts: Any) -> Worker:
        w = Worker(url=served.url, key=served.key, pool=pool, **opts)
        self.addCleanup(lambda: w.stop(timeout=5))
        return w

    def test_a_chains_next_step_comes_back_with_the_result_before_it(self) -> None:
        slugs = ["a", "b", "c", "d"]
        name = served.flow([
            {"slug": s, "depends_on": [slugs[i - 1]] if i else []} for i, s in enumerate(slugs)
        ])
        w = self.worker(name)
        for s in slugs:
            w.handler(s)(lambda ctx, s=s: f"{s}{ctx.attempt}")
        calls = record(w)
        Background(w)
        run = served.client.run(name, timeout=30)
        self.assertEqual(run["status"], "COMPLETED", run)
        self.assertEqual(run["output"], {"d": "d1"})

        batches = [(b, a) for p, b, a in calls if p == "/heartbeat/tasks/complete"]
        self.assertEqual(len(batches), 4, calls)
        singles = [p for p, _, _ in calls if p.endswith("/complete") and p.count("/") == 4]
        self.assertEqual(singles, [], "every result went through the batch route")
        for body, answer in batches:
            self.assertEqual(len(body["results"]), 1)
            self.assertEqual(body["next"]["capacity"], 1)
            self.assertEqual(body["next"]["worker"], w.name)
            self.assertEqual([r["status"] for r in answer["results"]], [200])
        # b, c and d came in the answers to a, b and c: no heartbeat brought them.
        by_next = [t["step"] for _, a in batches for t in a["next"]["tasks"]]
        self.assertEqual(by_next, ["b", "c", "d"])
        by_beat = [t["step"] for p, _, a in calls if p == "/heartbeat" for t in a.get("tasks", [])]
        self.assertEqual(by_beat, ["a"])

    def test_a_retry_due_at_once_comes_back_with_the_failure_before_it(self) -> None:
        name = served.flow([{"slug": "x", "max_attempts": 3, "base_delay": 0}])
        w = self.worker(name)
        w.handler("x")(lambda ctx: "ok" if ctx.attempt == 3 else (_ for _ in ()).throw(
            RuntimeError(f"attempt {ctx.attempt}")))
        calls = record(w)
        Background(w)
        run = served.client.run(name, timeout=30)
        self.assertEqual(run["status"], "COMPLETED", run)

        fails = [(b, a) for p, b, a in calls if p == "/heartbeat/tasks/fail"]
        self.assertEqual(len(fails), 2, calls)
        for body, answer in fails:
            self.assertEqual(body["next"]["capacity"], 1)
            self.assertEqual([r["status"] for r in answer["results"]], [200])
        # Attempts 2 and 3 came in the answers to the failures of 1 and 2.
        self.assertEqual([t["attempt"] for _, a in fails for t in a["next"]["tasks"]], [2, 3])
        by_beat = [t["attempt"] for p, _, a in calls if p == "/heartbeat" for t in a.get("tasks", [])]
        self.assertEqual(by_beat, [1])

    def test_results_finishing_inside_the_window_share_one_call(self) -> None:
        name = served.flow([
            {"slug": "items"},
            {"slug": "each", "depends_on": ["items"], "map": "items"},
        ])
        # A wide window: the five results join one call however the threads are scheduled.
        w = self.worker(name, capacity=5, result_batch_seconds=0.5)
        together = threading.Barrier(5, timeout=20)
        w.handler("items")(lambda ctx: [1, 2, 3, 4, 5])

        @w.handler("each")
        def each(ctx: Any) -> int:
            together.wait()
            return ctx.input["item"] * 10

        calls = record(w)
        Background(w)
        run = served.client.run(name, timeout=30)
        self.assertEqual(run["status"], "COMPLETED", run)
        self.assertEqual(sorted(run["output"]["each"]), [10, 20, 30, 40, 50])
        sizes = [len(b["results"]) for p, b, _ in calls if p == "/heartbeat/tasks/complete"]
        self.assertEqual(sizes, [1, 5], "items alone, then the five map tasks in one call")
        last = [a for p, _, a in calls if p == "/heartbeat/tasks/complete"][-1]
        self.assertEqual([r["status"] for r in last["results"]], [200] * 5)
        self.assertEqual(last["results"][-1]["run_status"], "COMPLETED")

    def test_without_batch_routes_every_result_gets_its_own_call(self) -> None:
        name = served.flow([{"slug": "a"}, {"slug": "b", "depends_on": ["a"]}])
        w = self.worker(name)
        w.handler("a")(lambda ctx: 1)
        w.handler("b")(lambda ctx: ctx.input["deps"]["a"] + 1)
        calls = record(w, refuse_batches=True)
        Background(w)
        run = served.client.run(name, timeout=30)
        self.assertEqual(run["status"], "COMPLETED", run)
        self.assertEqual(run["output"], {"b": 2})
        paths = [p for p, _, _ in calls if p != "/heartbeat"]
        # The first result tried the batch route once; the 404 is remembered.
        self.assertEqual(paths[0], "/heartbeat/tasks/complete")
        self.assertEqual(paths.count("/heartbeat/tasks/complete"), 1, paths)
        singles = [p for p in paths if p.startswith("/heartbeat/tasks/") and p.count("/") == 4]
        self.assertEqual(len(singles), 2, paths)

    def test_a_window_of_zero_reports_every_result_alone(self) -> None:
        name = served.flow([{"slug": "a"}, {"slug": "b", "depends_on": ["a"]}])
        w = self.worker(name, result_batch_seconds=0)
        w.handler("a")(lambda ctx: 1)
        w.handler("b")(lambda ctx: 2)
        calls = record(w)
        Background(w)
        self.assertEqual(served.client.run(name, timeout=30)["status"], "COMPLETED")
        self.assertNotIn("/heartbeat/tasks/complete", [p for p, _, _ in calls])
        with self.assertRaises(ValueError):
            Worker(url=served.url, key=served.key, result_batch_seconds=-1)


if __name__ == "__main__":
    unittest.main()
