"""v1 memory controller: limits, swap (memory+swap), OOM killer, swappiness; stats."""

import errno

from .. import files
from ..files import CgroupError

NAME = "memory"
LIMIT = "memory.limit_in_bytes"
MEMSW = "memory.memsw.limit_in_bytes"


def is_set(res):
    m = res.get("memory") or {}
    return bool(m.get("limit") or m.get("swap") or m.get("reservation")
                or m.get("disableOOMKiller") is not None
                or m.get("useHierarchy") is not None
                or m.get("swappiness") not in (None, -1))


def _set_limit(path, value):
    try:
        files.write(path, LIMIT, value)
    except CgroupError as e:
        if e.errno != errno.EBUSY:
            raise
        # The kernel refuses a limit below what the group already uses.
        usage = files.maybe(files.read_int, path, "memory.usage_in_bytes")
        peak = files.maybe(files.read_int, path, "memory.max_usage_in_bytes")
        raise CgroupError(f"cgroup: {path}/{LIMIT}: unable to set memory limit to {value} "
                          f"(current usage: {usage}, peak usage: {peak})", e.path, e.errno) from None


def _set_swap(path, value):
    if not files.exists(path, MEMSW):
        raise CgroupError(f"cgroup: {path}/{MEMSW}: linux.resources.memory.swap is set, but "
                          f"this kernel has no swap accounting")
    files.write(path, MEMSW, value)


def check_before_update(path, limit):
    usage = files.read_int(path, "memory.usage_in_bytes")
    if limit > 0 and usage is not None and limit < usage:
        raise CgroupError(f"cgroup: {path}/{LIMIT}: rejecting memory limit {limit} below "
                          f"current usage {usage} (checkBeforeUpdate)")


def apply(path, res, update=False):
    m = res.get("memory") or {}
    limit = m.get("limit") or 0
    swap = m.get("swap") or 0
    if update and m.get("checkBeforeUpdate") and limit:
        check_before_update(path, limit)
    # Unlimited memory with swap unset means unlimited swap too, or the old memsw
    # limit would stay and cap the group below its (now unlimited) memory limit.
    if limit == -1 and swap == 0 and files.exists(path, MEMSW):
        swap = -1
    # memsw must stay >= limit at every step: raising both writes swap first,
    # lowering both writes the limit first.
    swap_first = False
    if limit and swap:
        current = files.read_int(path, LIMIT)
        swap_first = swap == -1 or (current is not None and current < swap)
    if swap_first:
        _set_swap(path, swap)
    if limit:
        _set_limit(path, limit)
    if swap and not swap_first:
        _set_swap(path, swap)
    if m.get("reservation"):
        files.write(path, "memory.soft_limit_in_bytes", m["reservation"])
    if m.get("disableOOMKiller"):
        files.write(path, "memory.oom_control", 1)
    if m.get("useHierarchy") is not None:
        files.write(path, "memory.use_hierarchy", 1 if m["useHierarchy"] else 0)
    sw = m.get("swappiness")
    if sw is not None and sw != -1:
        if not 0 <= sw <= 100:
            raise CgroupError(f"cgroup: linux.resources.memory.swappiness: {sw}: "
                              f"valid memory swappiness range is 0-100")
        files.write(path, "memory.swappiness", sw)


def _entry(path, prefix):
    if prefix and not files.exists(path, prefix + "usage_in_bytes"):
        return {"limit": 0, "failcnt": 0}
    get = lambda name: files.maybe(files.read_int, path, prefix + name) or 0
    out = {"limit": get("limit_in_bytes"), "failcnt": get("failcnt")}
    usage, peak = get("usage_in_bytes"), get("max_usage_in_bytes")
    if usage:
        out["usage"] = usage
    if peak:
        out["max"] = peak
    return out


def stats(path, data):
    raw = files.read_keyed(path, "memory.stat")
    mem = {"usage": _entry(path, "memory."), "swap": _entry(path, "memory.memsw."),
           "kernel": _entry(path, "memory.kmem."), "kernelTCP": _entry(path, "memory.kmem.tcp.")}
    if raw.get("cache"):
        mem["cache"] = raw["cache"]
    if raw:
        mem["raw"] = raw
    data["memory"] = mem
