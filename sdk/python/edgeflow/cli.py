"""The command line: ``python3 -m edgeflow worker [options] module:attribute``.

``module:attribute`` names a ``Worker`` (``flows.etl:worker``, or a file:
``flows/etl.py:worker``); the command line overrides its url, key, pool,
capacity and name, then runs it until SIGTERM/SIGINT (drain).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from typing import List, Optional

from .errors import KeyRefusedError, WorkerStartError
from .worker import Worker

__all__ = ["load_worker", "main"]


def load_worker(spec: str) -> Worker:
    """The ``Worker`` that ``module:attribute`` (or ``path/file.py:attribute``) names."""
    target, _, attr = spec.partition(":")
    attr = attr or "worker"
    if target.endswith(".py") or os.sep in target:
        path = os.path.abspath(target)
        name = os.path.splitext(os.path.basename(path))[0]
        sys.path.insert(0, os.path.dirname(path))
        loader = importlib.util.spec_from_file_location(name, path)
        if loader is None or loader.loader is None:
            raise SystemExit(f"edgeflow: cannot load {path}")
        module = importlib.util.module_from_spec(loader)
        sys.modules[name] = module
        loader.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        module = importlib.import_module(target)
    worker = getattr(module, attr, None)
    if not isinstance(worker, Worker):
        raise SystemExit(f"edgeflow: {spec} is not an edgeflow.Worker (got {type(worker).__name__})")
    return worker


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m edgeflow", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run the handlers of a Worker until SIGTERM/SIGINT")
    w.add_argument("target", help="module:attribute naming an edgeflow.Worker")
    w.add_argument("--url", help="control plane URL (default $EDGEFLOW_URL)")
    w.add_argument("--key", help="API key with scope worker (default $EDGEFLOW_KEY)")
    w.add_argument("--pool", help="work pool (default: the Worker's)")
    w.add_argument("--capacity", type=int, help="handlers running at once")
    w.add_argument("--name", help="worker name shown in GET /heartbeat/workers")
    w.add_argument("--drain-seconds", type=float, default=None,
                   help="on SIGTERM wait this long for running tasks (default: as long as they take)")
    w.add_argument("--log-level", default=os.environ.get("EDGEFLOW_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.url:
        os.environ["EDGEFLOW_URL"] = args.url
    if args.key:
        os.environ["EDGEFLOW_KEY"] = args.key
    worker = load_worker(args.target)
    worker.url = args.url or worker.url
    worker.key = args.key or worker.key
    if args.pool:
        worker.pool = args.pool
    if args.capacity:
        if args.capacity < 1:
            parser.error("--capacity must be >= 1")
        worker.capacity = args.capacity
    if args.name:
        worker.name = args.name
    try:
        worker.run(drain_timeout=args.drain_seconds)
    except (WorkerStartError, ValueError) as err:
        print(f"edgeflow: {err}", file=sys.stderr)
        return 2
    except KeyRefusedError as err:
        print(f"edgeflow: {err}", file=sys.stderr)
        return 3
    return 0
