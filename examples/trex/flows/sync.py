"""The trex example's `data-sync` flow (entrypoint flows/sync.py:run).

Plain Python: under Prefect it would carry `@flow`; edgeflow's runner calls
the function itself (a Prefect flow object is unwrapped to it).
"""
import time


def run(source="crm", rows=3, sleep_seconds=0):
    print("starting a sync from %s" % source)
    # A long sync, for trying a cancel: the container is stopped mid-way.
    deadline = time.time() + float(sleep_seconds)
    while time.time() < deadline:
        time.sleep(0.1)
    print("syncing %d rows from %s" % (rows, source))
    return {"source": source, "synced": rows}
