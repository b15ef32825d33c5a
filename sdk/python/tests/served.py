"""A served edgeflow for the SDK's tests: tests/conformance/server.ts in a Deno
process (PGlite, or a Postgres clone when DATABASE_URL is set), heartbeat 1 s,
lease 2 s, ticked every 250 ms. Tests skip loudly when Deno is missing."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
import unittest
import uuid
from typing import Any, Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(SDK))
SERVER = os.path.join(REPO, "tests", "conformance", "server.ts")

sys.path.insert(0, SDK)

from edgeflow import Client  # noqa: E402


class Served:
    """One server process; ``client`` holds its admin key."""

    def __init__(self) -> None:
        # EDGEFLOW_DENO: the command that runs deno (e.g. "npx -y deno@2.9.6").
        deno = shlex.split(os.environ.get("EDGEFLOW_DENO") or shutil.which("deno") or "")
        if not deno:
            raise unittest.SkipTest("SKIPPED: deno is not on PATH; these tests need a served edgeflow")
        self.proc = subprocess.Popen(
            [*deno, "run", "-A", "--no-check", SERVER],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("{"):
            self.proc.kill()
            raise RuntimeError(f"the test server did not start: {line!r}")
        info = json.loads(line)
        self.url: str = info["url"]
        self.key: str = info["key"]
        self.client = Client(self.url, self.key)

    def close(self) -> None:
        self.client.transport.close()
        if self.proc.stdout:
            self.proc.stdout.close()
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def flow(self, steps: List[Dict[str, Any]], parameters: Optional[Dict[str, Any]] = None,
             **defaults: Any) -> str:
        """Registers a flow and deploys it in a pool of its own; returns the name of both."""
        name = f"py-{uuid.uuid4().hex[:10]}"
        self.client.request("POST", "/deploy/pools", {"name": name})
        flow: Dict[str, Any] = {"name": name, "steps": steps}
        if defaults:
            flow["defaults"] = defaults
        self.client.register(flow)
        self.client.deploy({"name": name, "flow": name, "pool": name,
                            "parameters": parameters or {}})
        return name


def until(what: str, check: Callable[[], Any], timeout: float = 30.0, every: float = 0.05) -> Any:
    """Polls ``check`` until it returns something truthy; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class Background:
    """Runs ``worker.run()`` on a thread (without signal handlers); ``stop()`` drains."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        until("the worker to start", lambda: worker.state in ("running", "stopped") or self.error)

    def _run(self) -> None:
        try:
            self.worker.start()
        except BaseException as err:  # noqa: BLE001 - reported to the test
            self.error = err

    def stop(self, timeout: Optional[float] = None) -> None:
        self.worker.stop(timeout=timeout)
        self.thread.join(10)
