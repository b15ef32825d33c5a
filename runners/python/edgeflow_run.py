"""Run one edgeflow task: ``python edgeflow_run.py path/module.py:function``.

The runner of edgeflow's container and process executors (docs/executors.md,
"The runner protocol"). Standard library only, Python >= 3.8, one file, so an
image can simply ``COPY`` it; the Python SDK ships the same runner as
``python -m edgeflow.run``.

In:  one JSON document on stdin: {"entrypoint", "parameters", "task"}.
Out: the line ``::edgeflow-result:: <json>`` on stdout is the step's output.
     An exception prints its traceback on stderr and exits 1 (the attempt
     fails and edgeflow's retry policy decides what next).

The function gets the parameters as keyword arguments; only those its
signature accepts, unless it takes ``**kwargs``. A Prefect ``@flow``/``@task``
object is unwrapped to its plain function (``.fn``), so Prefect code runs
unchanged without a Prefect server. Coroutine functions are awaited.
"""
import asyncio
import importlib.util
import inspect
import json
import os
import signal
import sys

RESULT_MARKER = "::edgeflow-result::"


def load(entrypoint):
    """The function an entrypoint ``path/module.py:function`` names."""
    path, _, name = entrypoint.rpartition(":")
    if not path or not name:
        raise SystemExit("edgeflow_run: entrypoint must be path/module.py:function, got %r" % entrypoint)
    full = os.path.abspath(path)
    # Sibling modules import as they would under `python path/module.py`.
    sys.path.insert(0, os.path.dirname(full))
    sys.path.insert(0, os.getcwd())
    module_name = os.path.splitext(os.path.basename(full))[0]
    spec = importlib.util.spec_from_file_location(module_name, full)
    if spec is None or spec.loader is None:
        raise SystemExit("edgeflow_run: cannot load %s" % full)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    fn = getattr(module, name)
    # Prefect's Flow and Task objects keep the user's function in `.fn`.
    return getattr(fn, "fn", fn)


def accepted(fn, parameters):
    """The parameters ``fn`` accepts as keywords."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return dict(parameters)
    params = sig.parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return dict(parameters)
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return {k: v for k, v in parameters.items() if k in names}


def main(argv):
    # As a container's PID 1, SIGTERM would be ignored and `docker stop`
    # would wait its whole timeout before killing: exit on it instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    raw = sys.stdin.read()
    doc = json.loads(raw) if raw.strip() else {}
    entrypoint = argv[1] if len(argv) > 1 and argv[1] else doc.get("entrypoint", "")
    fn = load(entrypoint)
    kwargs = accepted(fn, doc.get("parameters") or {})
    result = fn(**kwargs)
    if inspect.isawaitable(result):
        result = asyncio.run(_await(result))
    sys.stdout.flush()
    sys.stdout.write(RESULT_MARKER + " " + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    return 0


async def _await(awaitable):
    return await awaitable


if __name__ == "__main__":
    sys.exit(main(sys.argv))
