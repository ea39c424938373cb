"""v2 cpuset controller: cpuset.cpus and cpuset.mems."""

from .. import files

NAME = "cpuset"


def is_set(res):
    c = res.get("cpu") or {}
    return bool(c.get("cpus") or c.get("mems"))


def apply(path, res, update=False):
    c = res.get("cpu") or {}
    if c.get("cpus"):
        files.write(path, "cpuset.cpus", c["cpus"])
    if c.get("mems"):
        files.write(path, "cpuset.mems", c["mems"])
