"""The conformance adapter of the Python SDK (sdk/python): the suite's handlers
on ``edgeflow.Worker``, one JSON event line per SDK event on stdout.
``worker.run()`` drains on SIGTERM/SIGINT, then ``{"event":"stopped"}``, exit 0.

    python3 tests/conformance/adapters/python_worker.py --url U --key K --pool P --worker W
"""
import argparse
import asyncio
import json
import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "sdk", "python"))

from edgeflow import Worker, WorkerStartError  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--url", required=True)
p.add_argument("--key", required=True)
p.add_argument("--pool", default="default")
p.add_argument("--worker", default=f"py-{uuid.uuid4().hex[:6]}")
p.add_argument("--capacity", type=int, default=1)
o = p.parse_args()


_out = threading.Lock()


def say(event, **fields):
    # One write per line, under a lock: print() from task threads interleaves.
    line = json.dumps({"event": event, "worker": o.worker, **fields}) + "\n"
    with _out:
        sys.stdout.write(line)
        sys.stdout.flush()


worker = Worker(url=o.url, key=o.key, pool=o.pool, capacity=o.capacity, name=o.worker)


def args(ctx):
    return ctx.input.get("args") or {}


@worker.handler("echo")
def echo(ctx):
    i = ctx.input
    return {"worker": o.worker, "attempt": ctx.attempt, "args": i.get("args"),
            "deps": i.get("deps"), "run": i.get("run")}


@worker.handler("sleep")
async def sleep(ctx):  # an async handler, on purpose
    await asyncio.sleep(args(ctx)["seconds"])
    return {"slept": args(ctx)["seconds"], "attempt": ctx.attempt}


@worker.handler("block")
def block(ctx):
    if ctx.attempt > args(ctx).get("block_attempts", 1):
        return {"attempt": ctx.attempt}
    ctx.cancelled.wait(60)
    return "unblocked"


@worker.handler("gate")
def gate(ctx):
    deadline = time.monotonic() + 60
    while not os.path.exists(args(ctx)["file"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"worker": o.worker, "attempt": ctx.attempt}


@worker.handler("fail")
def fail(ctx):
    if ctx.attempt < args(ctx)["ok_on"]:
        raise RuntimeError(f"attempt {ctx.attempt} failed")
    return {"attempt": ctx.attempt}


@worker.handler("log")
def log_lines(ctx):
    for i in range(args(ctx)["lines"]):
        ctx.log.info("line %d", i, extra={"i": i})
    ctx.log.warning("done logging")
    return {"logged": args(ctx)["lines"]}


def ids(t):
    return {"task": t["task"], "attempt": t["attempt"]}


worker.on("task:start", lambda e: say("task_start", **ids(e["task"]), handler=e["task"]["handler"]))
worker.on("task:done", lambda e: say("done", **ids(e["task"]), report=e["report"]))
worker.on("task:failed", lambda e: say("failed", **ids(e["task"]), report=e["report"]))
worker.on("task:aborted", lambda e: say("aborted", **ids(e["task"]), reason=e["reason"]))

worker.on("started", lambda e: say("started"))

try:
    worker.run()  # until SIGTERM/SIGINT, then drains
except WorkerStartError as err:
    say("start_failed", status=err.status)
    sys.exit(2)
say("stopped")
