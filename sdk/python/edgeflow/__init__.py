"""edgeflow: Python workers and a client for the edgeflow control plane.

    from edgeflow import Worker

    worker = Worker(url="http://127.0.0.1:8000", key="ef_…", pool="default", capacity=4)

    @worker.handler("data.download_historical")
    def download(ctx):
        ctx.log.info("fetching %s", ctx.input["args"]["ticker"])
        return {"rows": 3}

    worker.run()   # blocks; SIGTERM/SIGINT drain

Standard library only; Python 3.9 or newer. The protocol it speaks is
docs/worker-protocol.md in the edgeflow repository.
"""
from .client import FINAL_STATUSES, Client
from .context import DeploymentRun, TaskContext, Variables, WaitTimeout
from .errors import (
    DeploymentRunError,
    EdgeflowError,
    HttpError,
    KeyRefusedError,
    NonRetryableError,
    TaskAborted,
    WorkerStartError,
)
from .worker import Worker

__version__ = "0.1.0"

__all__ = [
    "Client",
    "DeploymentRun",
    "DeploymentRunError",
    "EdgeflowError",
    "FINAL_STATUSES",
    "HttpError",
    "KeyRefusedError",
    "NonRetryableError",
    "TaskAborted",
    "TaskContext",
    "Variables",
    "WaitTimeout",
    "Worker",
    "__version__",
]
