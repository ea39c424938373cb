"""v2 memory controller: memory.max, memory.swap.max (swap alone), memory.low; stats.

Kernel v2 has no swappiness or OOM-killer switch per group; runc ignores those fields
there, and so do we, so that one config runs on both.
"""

import errno

from .. import files
from ..convert import swap_to_v2, v2_number
from ..files import CgroupError

NAME = "memory"
UNLIMITED = 2 ** 64 - 1


def is_set(res):
    m = res.get("memory") or {}
    return bool(m.get("limit") or m.get("swap") or m.get("reservation"))


def apply(path, res, update=False):
    m = res.get("memory") or {}
    limit = m.get("limit") or 0
    swap = v2_number(swap_to_v2(m.get("swap") or 0, limit))
    if update and m.get("checkBeforeUpdate") and limit > 0:
        usage = files.read_int(path, "memory.current")
        if usage is not None and limit < usage:
            raise CgroupError(f"cgroup: {path}/memory.max: rejecting memory limit {limit} below "
                              f"current usage {usage} (checkBeforeUpdate)")
    if swap is not None:
        try:
            files.write(path, "memory.swap.max", swap)
        except CgroupError as e:
            # Without swap accounting there is no file; "max" then asks for nothing.
            if not (e.errno == errno.ENOENT and swap == "max"):
                raise
    if v2_number(limit) is not None:
        files.write(path, "memory.max", v2_number(limit))
    if v2_number(m.get("reservation")) is not None:
        files.write(path, "memory.low", v2_number(m["reservation"]))


def _entry(path, current, limit, events_key):
    usage = files.maybe(files.read_int, path, current) or 0
    lim = files.maybe(files.read_int, path, limit, default=None)
    ev = files.maybe(files.read_keyed, path, events_key[0], default={})
    out = {"limit": UNLIMITED if lim is None else lim, "failcnt": ev.get(events_key[1], 0)}
    if usage:
        out["usage"] = usage
    return out


def stats(path, data):
    raw = files.maybe(files.read_keyed, path, "memory.stat", default={})
    usage = _entry(path, "memory.current", "memory.max", ("memory.events", "max"))
    peak = files.maybe(files.read_int, path, "memory.peak")
    if peak:
        usage["max"] = peak
    swap = _entry(path, "memory.swap.current", "memory.swap.max", ("memory.swap.events", "max"))
    # v1 reports swap as memory+swap; add memory so the figures compare across versions.
    swap["usage"] = swap.get("usage", 0) + usage.get("usage", 0)
    if not swap["usage"]:
        del swap["usage"]
    if swap["limit"] != UNLIMITED:
        swap["limit"] += usage["limit"] if usage["limit"] != UNLIMITED else 0
    mem = {"usage": usage, "swap": swap, "kernel": {"limit": 0, "failcnt": 0},
           "kernelTCP": {"limit": 0, "failcnt": 0}}
    if raw.get("file"):
        mem["cache"] = raw["file"]
    if raw:
        mem["raw"] = raw
    data["memory"] = mem
