"""pids controller, the same files on v1 and v2: pids.max ("max" for a limit <= 0); stats."""

from . import files

NAME = "pids"


def is_set(res):
    return bool((res.get("pids") or {}).get("limit"))


def apply(path, res, update=False):
    limit = res["pids"]["limit"]
    files.write(path, "pids.max", limit if limit > 0 else "max")


def stats(path, data):
    out = {}
    current = files.maybe(files.read_int, path, "pids.current")
    limit = files.maybe(files.read_int, path, "pids.max")
    if current:
        out["current"] = current
    if limit:
        out["limit"] = limit
    data["pids"] = out
