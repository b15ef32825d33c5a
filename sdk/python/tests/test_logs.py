"""Task logs from the Python SDK against a served edgeflow: ``ctx.log`` lines
(levels, ``%``-args, ``extra=`` fields, tracebacks) read back through
``GET /trigger/runs/:id/logs``; the worker's buffer bound counted as dropped;
``print()`` captured only when asked; a stale lease ends shipping."""
from __future__ import annotations

import logging
import unittest
import uuid
from typing import Any, List

from served import Background, Served, until

from edgeflow import Worker
from edgeflow._http import Transport
from edgeflow._logs import LogShipper

served: Served


def setUpModule() -> None:
    global served
    served = Served()


def tearDownModule() -> None:
    served.close()


class LogsTest(unittest.TestCase):
    def worker(self, pool: str, **options: Any) -> Worker:
        w = Worker(url=served.url, key=served.key, pool=pool, **options)
        self.addCleanup(lambda: w.stop(timeout=5))
        return w

    def lines(self, run_id: str, **query: Any) -> List[Any]:
        return [(x["step"], x["level"], x["message"])
                for x in served.client.logs(run_id, **query)["logs"]]

    def test_ctx_log_lines_reach_the_run_with_levels_args_and_fields(self) -> None:
        name = served.flow([
            {"slug": "fetch", "handler": "fetch", "args": {"ticker": "ACME"}},
            {"slug": "load", "handler": "load", "depends_on": ["fetch"]},
        ])
        w = self.worker(name)

        @w.handler("fetch")
        def fetch(ctx: Any) -> int:
            ctx.log.debug("connecting")
            ctx.log.info("fetching %s for %d days", ctx.input["args"]["ticker"], 3)
            ctx.log.warning("slow upstream", extra={"ms": 950})
            return 3

        @w.handler("load")
        def load(ctx: Any) -> str:
            try:
                raise KeyError("rows")
            except KeyError:
                ctx.log.exception("no rows column")
            ctx.log.error("giving up on %r", "x")
            return "ok"

        Background(w)
        run = served.client.run(name, timeout=30)
        self.assertEqual(run["status"], "COMPLETED", run)
        # The result waits for the lines: all of them are in once the run ended.
        got = served.client.logs(run["id"])
        self.assertEqual(
            [(x["step"], x["level"], x["message"].split("\n")[0]) for x in got["logs"]],
            [
                ("fetch", "debug", "connecting"),
                ("fetch", "info", "fetching ACME for 3 days"),
                ("fetch", "warn", "slow upstream"),
                ("load", "error", "no rows column"),
                ("load", "error", "giving up on 'x'"),
            ],
        )
        self.assertEqual(got["logs"][2]["fields"], {"ms": 950})
        self.assertIn("KeyError: 'rows'", got["logs"][3]["message"])
        self.assertEqual(got["dropped"], [])
        self.assertEqual(self.lines(run["id"], level="warn", step="fetch"),
                         [("fetch", "warn", "slow upstream")])

    def test_shipping_debug_lines_prints_nothing_new_on_the_console(self) -> None:
        name = served.flow([{"slug": "one", "handler": "one"}])
        w = self.worker(name)
        seen: List[str] = []

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                seen.append(record.getMessage())

        keep = Keep()
        parent = logging.getLogger("edgeflow.task")
        parent.addHandler(keep)
        parent.setLevel(logging.INFO)
        self.addCleanup(lambda: (parent.removeHandler(keep), parent.setLevel(logging.NOTSET)))

        @w.handler("one")
        def one(ctx: Any) -> None:
            ctx.log.debug("quiet detail")
            ctx.log.info("loud news")

        Background(w)
        run = served.client.run(name, timeout=30)
        self.assertEqual([m for _, _, m in self.lines(run["id"])], ["quiet detail", "loud news"])
        self.assertEqual(seen, ["loud news"])

    def test_lines_over_the_worker_buffer_are_counted_as_dropped(self) -> None:
        name = served.flow([{"slug": "chatty", "handler": "chatty"}])
        # A long flush interval: every line of the handler lands in one buffer of 50.
        w = self.worker(name, log_max_buffer=50, log_flush_seconds=60)

        @w.handler("chatty")
        def chatty(ctx: Any) -> None:
            for i in range(80):
                ctx.log.info("line %d", i)

        Background(w)
        run = served.client.run(name, timeout=30)
        got = served.client.logs(run["id"])
        self.assertEqual([x["message"] for x in got["logs"]], [f"line {i}" for i in range(50)])
        self.assertEqual([(d["step"], d["dropped"]) for d in got["dropped"]], [("chatty", 30)])

    def test_print_is_shipped_only_with_capture_stdout(self) -> None:
        for capture in (False, True):
            name = served.flow([{"slug": "talk", "handler": "talk"}])
            w = self.worker(name, capture_stdout=capture)

            @w.handler("talk")
            def talk(ctx: Any) -> None:
                print("hello from", ctx.step)
                print("no newline at the end", end="")
                ctx.log.info("logged")

            Background(w)
            run = served.client.run(name, timeout=30)
            w.stop(timeout=5)
            want = [("talk", "info", "hello from talk"), ("talk", "info", "logged"),
                    ("talk", "info", "no newline at the end")] if capture else [
                        ("talk", "info", "logged")]
            self.assertEqual(self.lines(run["id"]), want, f"capture_stdout={capture}")

    def test_a_stale_lease_ends_shipping_for_the_task(self) -> None:
        name = served.flow([{"slug": "held", "handler": "held"}])
        run_id = served.client.trigger(name)["run_id"]
        t = Transport(served.url, served.key)
        self.addCleanup(t.close)
        task = until("a claim", lambda: (t.request("POST", "/heartbeat", {
            "worker": f"w-{uuid.uuid4().hex[:6]}", "pool": name, "capacity": 1,
        })[1].get("tasks") or [None])[0])
        stale = LogShipper(t, task["task"], str(uuid.uuid4()))
        stale.push("info", "from a worker that lost its lease")
        stale.flush()
        stale.push("info", "never sent")
        stale.flush()
        self.assertEqual(stale.pending_dropped, 0)
        current = LogShipper(t, task["task"], task["lease"])
        current.push("info", "from the lease holder")
        current.flush()
        self.assertEqual(self.lines(run_id), [("held", "info", "from the lease holder")])


if __name__ == "__main__":
    unittest.main()
