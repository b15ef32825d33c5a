"""The trex example's `report-generator` flow (entrypoint flows/reports.py:generate)."""


def generate(title="daily", fail=False):
    if fail:
        raise RuntimeError("report %s could not be generated" % title)
    lines = ["# %s report" % title, "all systems nominal"]
    return {"title": title, "lines": len(lines)}
