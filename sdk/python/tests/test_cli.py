"""``python3 -m edgeflow worker``: loads module:worker, runs it, drains on SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import unittest

from served import SDK, Served, until

served: Served

FLOWS = textwrap.dedent('''
    import time
    from edgeflow import Worker

    worker = Worker(capacity=1)   # url, key and pool come from the command line

    @worker.handler("slow")
    def slow(ctx):
        ctx.log.info("working on %s", ctx.step)
        time.sleep(ctx.input["args"]["seconds"])
        return {"done": True, "attempt": ctx.attempt}
''')


def setUpModule() -> None:
    global served
    served = Served()


def tearDownModule() -> None:
    served.close()


class CliTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        with open(os.path.join(self.dir, "my_flows.py"), "w") as f:
            f.write(FLOWS)

    def spawn(self, pool: str, target: str, key: str = "") -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": SDK}
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgeflow", "worker", "--pool", pool, "--url", served.url,
             "--key", key or served.key, target],
            cwd=self.dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait(),
                                 proc.stdout and proc.stdout.close()))
        return proc

    def test_runs_module_worker_and_drains_on_sigterm(self) -> None:
        name = served.flow([{"slug": "slow", "args": {"seconds": 1.5}, "timeout": 10}])
        proc = self.spawn(name, "my_flows:worker")
        run_id = served.client.trigger(name)["run_id"]
        until("the task to be running", lambda: served.client.get_run(run_id)["steps"][0]["status"]
              == "RUNNING")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, out)
        run = served.client.wait(run_id, 30)
        self.assertEqual(run["status"], "COMPLETED", out)
        self.assertEqual(run["output"], {"slow": {"done": True, "attempt": 1}})
        self.assertIn("working on slow", out)

    def test_a_file_path_target_works_too(self) -> None:
        name = served.flow([{"slug": "slow", "args": {"seconds": 0}}])
        proc = self.spawn(name, os.path.join(self.dir, "my_flows.py") + ":worker")
        run = served.client.run(name, timeout=30)
        self.assertEqual(run["status"], "COMPLETED")
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(30), 0)

    def test_a_refused_key_exits_2_with_the_reason(self) -> None:
        proc = self.spawn("default", "my_flows:worker", key="wrong")
        out, _ = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("does not know the key", out)

    def test_a_target_that_is_not_a_worker_is_refused(self) -> None:
        proc = self.spawn("default", "my_flows:time")
        out, _ = proc.communicate(timeout=30)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("is not an edgeflow.Worker", out)


if __name__ == "__main__":
    unittest.main()
