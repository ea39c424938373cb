"""v1 cpuset controller: cpus and mems.

A new v1 cpuset starts with empty cpus and mems, and the kernel refuses tasks in it
(ENOSPC) until both are set, so every level create() makes inherits its parent's.
"""

import os

from .. import files

NAME = "cpuset"


def is_set(res):
    c = res.get("cpu") or {}
    return bool(c.get("cpus") or c.get("mems"))


def inherit(mountpoint, path):
    """Give every level from MOUNTPOINT down to PATH the cpus and mems of its parent
    where its own are empty (a pre-existing level may be empty too, as runc allows for)."""
    levels = []
    current = path
    while current != mountpoint and current.startswith(mountpoint + "/"):
        levels.append(current)
        current = os.path.dirname(current)
    for level in reversed(levels):
        parent = os.path.dirname(level)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not files.read(level, name):
                files.write(level, name, files.read(parent, name))


def apply(path, res, update=False):
    c = res.get("cpu") or {}
    if c.get("cpus"):
        files.write(path, "cpuset.cpus", c["cpus"])
    if c.get("mems"):
        files.write(path, "cpuset.mems", c["mems"])


def stats(path, data):
    pass
