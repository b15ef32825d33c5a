"""The Worker against a served edgeflow: claim and complete, async handlers,
retries, capacity, cancellation, variables and run_deployment."""
from __future__ import annotations

import asyncio
import threading
import time
import unittest
from typing import Any, Dict, List

from served import Background, Served, until

from edgeflow import NonRetryableError, Worker, WorkerStartError

served: Served


def setUpModule() -> None:
    global served
    served = Served()


def tearDownModule() -> None:
    served.close()


class WorkerTest(unittest.TestCase):
    def worker(self, pool: str, capacity: int = 1) -> Worker:
        w = Worker(url=served.url, key=served.key, pool=pool, capacity=capacity)
        self.addCleanup(lambda: w.stop(timeout=5))
        return w

    def test_a_chain_runs_through_sync_and_async_handlers(self) -> None:
        name = served.flow(
            [
                {"slug": "extract", "handler": "etl.extract", "args": {"ticker": "ACME"}},
                {"slug": "load", "handler": "etl.load", "depends_on": ["extract"]},
            ],
            parameters={"day": "2026-12-01"},
        )
        w = self.worker(name)
        seen: Dict[str, Any] = {}

        @w.handler("etl.extract")
        def extract(ctx: Any) -> Dict[str, Any]:
            ctx.log.info("fetching %s", ctx.input["args"]["ticker"])
            seen["attempt"], seen["run"] = ctx.attempt, ctx.input["run"]
            return {"rows": 3, "ticker": ctx.input["args"]["ticker"]}

        @w.handler("etl.load")
        async def load(ctx: Any) -> Dict[str, Any]:
            await asyncio.sleep(0)
            return {"loaded": ctx.input["deps"]["extract"]["rows"]}

        Background(w)
        run = served.client.run(name, {"day": "2026-12-02"}, timeout=30)
        self.assertEqual(run["status"], "COMPLETED", run)
        self.assertEqual(run["output"], {"load": {"loaded": 3}})
        self.assertEqual(seen, {"attempt": 1, "run": {"day": "2026-12-02"}})

    def test_an_exception_fails_the_attempt_and_is_retried(self) -> None:
        name = served.flow([{"slug": "flaky"}], max_attempts=3, base_delay=0)
        w = self.worker(name)
        attempts: List[int] = []

        @w.handler("flaky")
        def flaky(ctx: Any) -> Any:
            attempts.append(ctx.attempt)
            if ctx.attempt < 2:
                raise ConnectionError("upstream hiccup")
            return "ok"

        Background(w)
        run = served.client.run(name, timeout=30)
        self.assertEqual(run["status"], "COMPLETED", run)
        self.assertEqual(attempts, [1, 2])
        self.assertEqual(run["steps"][0]["attempts"], 2)

    def test_a_non_retryable_error_fails_the_step_at_once(self) -> None:
        name = served.flow([{"slug": "bad"}], max_attempts=5)
        w = self.worker(name)
        calls: List[int] = []

        @w.handler("bad")
        def bad(ctx: Any) -> Any:
            calls.append(ctx.attempt)
            raise NonRetryableError("the ticker does not exist")

        Background(w)
        run = served.client.run(name, timeout=30)
        self.assertEqual(run["status"], "FAILED", run)
        self.assertEqual(calls, [1])
        error = run["steps"][0]["error"]
        self.assertIn("the ticker does not exist", error["message"])
        self.assertEqual(error.get("type"), "NonRetryableError")

    def test_an_output_that_is_not_json_fails_the_step_without_retries(self) -> None:
        name = served.flow([{"slug": "odd"}], max_attempts=3)
        w = self.worker(name)
        w.handler("odd")(lambda ctx: {"a set": {1, 2}})
        Background(w)
        run = served.client.run(name, timeout=30)
        self.assertEqual((run["status"], run["steps"][0]["attempts"]), ("FAILED", 1), run)
        self.assertIn("not JSON-serialisable", run["steps"][0]["error"]["message"])

    def test_capacity_runs_that_many_handlers_at_once_and_no_more(self) -> None:
        name = served.flow([
            {"slug": "items"},
            {"slug": "each", "depends_on": ["items"], "map": "items"},
        ])
        w = self.worker(name, capacity=2)
        both = threading.Barrier(2, timeout=20)
        lock, active, peak = threading.Lock(), [0], [0]

        @w.handler("items")
        def items(ctx: Any) -> List[int]:
            return list(range(6))

        @w.handler("each")
        def each(ctx: Any) -> int:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            try:
                if ctx.input["item"] < 2:
                    both.wait()  # the first two must run side by side
                time.sleep(0.05)
                return ctx.input["item"] * 10
            finally:
                with lock:
                    active[0] -= 1

        Background(w)
        run = served.client.run(name, timeout=60)
        self.assertEqual(run["status"], "COMPLETED", run)
        self.assertEqual(sorted(run["output"]["each"]), [0, 10, 20, 30, 40, 50])
        self.assertEqual(peak[0], 2)

    def test_a_cancelled_run_sets_ctx_cancelled(self) -> None:
        # A dropped task's lease lapses after its timeout: then the run is CANCELLED.
        name = served.flow([{"slug": "long", "timeout": 2}])
        w = self.worker(name)
        started, reasons = threading.Event(), []

        @w.handler("long")
        def long(ctx: Any) -> str:
            started.set()
            ctx.cancelled.wait(30)
            reasons.append(ctx.cancel_reason)
            return "too late"

        Background(w)
        run_id = served.client.trigger(name)["run_id"]
        self.assertTrue(started.wait(30))
        served.client.cancel(run_id)
        until("the handler to see the cancel", lambda: reasons)
        self.assertEqual(reasons, ["cancelled"])
        self.assertEqual(served.client.wait(run_id, 30)["status"], "CANCELLED")

    def test_run_deployment_and_variables(self) -> None:
        child = served.flow([{"slug": "double", "handler": "math.double"}])
        parent = served.flow([{"slug": "call", "handler": "math.call"}])
        # The child runs in the parent's pool, so one worker serves both.
        served.client.deploy({"name": child, "flow": child, "pool": parent})
        w = self.worker(parent, capacity=2)
        traces: Dict[str, Any] = {}

        @w.handler("math.double")
        def double(ctx: Any) -> int:
            traces["child"] = ctx.trace
            x = ctx.input["run"]["x"]
            ctx.variables.set(f"{child}-result", {"doubled": x * 2})
            return x * 2

        @w.handler("math.call")
        def call(ctx: Any) -> Dict[str, Any]:
            traces["parent"] = ctx.trace
            got = ctx.run_deployment(child, {"x": 21}, poll_seconds=0.1)
            return {"child": got["output"], "var": ctx.variables.get(f"{child}-result"),
                    "missing": ctx.variables.get("no-such-variable", "default")}

        Background(w)
        run = served.client.run(parent, timeout=60)
        self.assertEqual(run["status"], "COMPLETED", run)
        self.assertEqual(run["output"]["call"], {
            "child": {"double": 42}, "var": {"doubled": 42}, "missing": "default"})
        # The child run continues the parent task's trace (W3C: version-trace-span-flags).
        parent_tp = traces["parent"]["traceparent"].split("-")
        child_tp = traces["child"]["traceparent"].split("-")
        self.assertEqual((len(parent_tp), len(parent_tp[1])), (4, 32))
        self.assertEqual(child_tp[1], parent_tp[1])
        self.assertNotEqual(child_tp[2], parent_tp[2])

    def test_a_drain_that_runs_out_aborts_with_reason_shutdown(self) -> None:
        name = served.flow([{"slug": "stuck", "timeout": 30}])
        w = Worker(url=served.url, key=served.key, pool=name)
        started, seen = threading.Event(), []

        @w.handler("stuck")
        def stuck(ctx: Any) -> str:
            started.set()
            ctx.cancelled.wait(30)
            seen.append(ctx.cancel_reason)
            return "not reported"

        reports: List[str] = []
        w.on("task:done", lambda e: reports.append(e["report"]))
        Background(w)
        run_id = served.client.trigger(name)["run_id"]
        self.assertTrue(started.wait(30))
        w.stop(timeout=0.2)
        until("the handler to see the shutdown", lambda: seen)
        self.assertEqual((seen, reports, w.state), (["shutdown"], [], "stopped"))
        # Handed back only by its lease: the task is still RUNNING under the old one.
        self.assertEqual(served.client.get_run(run_id)["steps"][0]["status"], "RUNNING")

    def test_a_key_revoked_mid_run_stops_the_worker(self) -> None:
        made = served.client.create_key(f"k-{time.time_ns()}", ["worker"])
        w = Worker(url=served.url, key=made["key"], pool="default")
        w.handler("nothing")(lambda ctx: None)
        errors: List[BaseException] = []
        thread = threading.Thread(target=lambda: _run_catching(w, errors), daemon=True)
        thread.start()
        until("the worker to start", lambda: w.state == "running")
        served.client.request("DELETE", f"/deploy/keys/{made['id']}")
        thread.join(30)
        self.assertFalse(thread.is_alive())
        self.assertEqual([type(e).__name__ for e in errors], ["KeyRefusedError"])
        self.assertEqual(getattr(errors[0], "status", None), 401)

    def test_a_refused_key_fails_start(self) -> None:
        w = Worker(url=served.url, key="not-a-key", pool="default")
        w.handler("x")(lambda ctx: None)
        with self.assertRaises(WorkerStartError) as got:
            w.start()
        self.assertEqual(got.exception.status, 401)


def _run_catching(w: Worker, errors: List[BaseException]) -> None:
    try:
        w.run(install_signals=False)
    except BaseException as err:  # noqa: BLE001 - the test reads it
        errors.append(err)


if __name__ == "__main__":
    unittest.main()
