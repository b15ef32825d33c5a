"""What batched results change for a Python worker (not a test: unittest skips it).

Chains of 3 quick steps through one Worker against a served edgeflow
(tests/conformance/server.ts: PGlite, or a Postgres clone with DATABASE_URL),
with ``result_batch_seconds`` 0 (one call per result, then a heartbeat) and the
default (the batch route with ``next``), interleaved rounds. Prints one JSON
line per round: steps/s and HTTP calls per step.

    python3 sdk/python/tests/bench_results.py [--chains 100] [--rounds 3] [--capacity 1]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from served import Background, Served, until  # noqa: E402

from edgeflow import Worker  # noqa: E402


def measure(served: Served, window: float, chains: int, capacity: int) -> dict:
    name = served.flow([
        {"slug": "a"}, {"slug": "b", "depends_on": ["a"]}, {"slug": "c", "depends_on": ["b"]},
    ])
    w = Worker(url=served.url, key=served.key, pool=name, capacity=capacity,
               result_batch_seconds=window)
    for s in "abc":
        w.handler(s)(lambda ctx: 1)
    calls, lock = [0], threading.Lock()
    inner = w.transport.request

    def counted(*args, **kw):
        with lock:
            calls[0] += 1
        return inner(*args, **kw)

    w.transport.request = counted  # type: ignore[method-assign]
    runs = [served.client.trigger(name)["run_id"] for _ in range(chains)]
    done = [0]
    w.on("task:done", lambda e: done.__setitem__(0, done[0] + 1))
    started = time.monotonic()
    bg = Background(w)
    until("every step", lambda: done[0] >= 3 * chains, timeout=300, every=0.01)
    took = time.monotonic() - started
    bg.stop(timeout=5)
    for run_id in runs[-1:]:
        assert served.client.get_run(run_id)["status"] == "COMPLETED"
    return {"window_s": window, "capacity": capacity, "steps": 3 * chains,
            "steps_per_s": round(3 * chains / took, 1),
            "calls_per_step": round(calls[0] / (3 * chains), 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--capacity", type=int, default=1)
    a = ap.parse_args()
    served = Served()
    try:
        for r in range(a.rounds):
            for window in (0.0, 0.002):
                print(json.dumps({"round": r + 1, **measure(served, window, a.chains, a.capacity)}),
                      flush=True)
    finally:
        served.close()


if __name__ == "__main__":
    main()
