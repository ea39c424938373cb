"""v1 cpu controller: shares, CFS bandwidth (quota, period, burst), RT bandwidth, idle."""

import errno

from .. import files
from ..files import CgroupError

NAME = "cpu"


def is_set(res):
    c = res.get("cpu") or {}
    return bool(c.get("shares") or c.get("quota") or c.get("period") or c.get("burst") is not None
                or c.get("realtimeRuntime") or c.get("realtimePeriod") or c.get("idle") is not None)


def apply(path, res, update=False):
    c = res.get("cpu") or {}
    shares = c.get("shares") or 0
    if shares:
        files.write(path, "cpu.shares", shares)
        # The kernel clamps out-of-range shares silently; read back to say so.
        got = files.read_int(path, "cpu.shares")
        if shares > got:
            raise CgroupError(f"cgroup: {path}/cpu.shares: {shares}: the maximum allowed cpu-shares is {got}")
        if shares < got:
            raise CgroupError(f"cgroup: {path}/cpu.shares: {shares}: the minimum allowed cpu-shares is {got}")
    quota, period = c.get("quota") or 0, c.get("period") or 0
    pending_period = False
    if period:
        try:
            files.write(path, "cpu.cfs_period_us", period)
        except CgroupError as e:
            # A shorter period can make the old quota/period ratio exceed the parent's
            # (EINVAL); when a quota comes too, retry the period after it.
            if e.errno != errno.EINVAL or not quota:
                raise
            pending_period = True
    if quota:
        files.write(path, "cpu.cfs_quota_us", quota)
        if pending_period:
            files.write(path, "cpu.cfs_period_us", period)
    if c.get("burst") is not None:
        _optional(path, "cpu.cfs_burst_us", c["burst"], "cpu.burst")
    if c.get("realtimePeriod"):
        files.write(path, "cpu.rt_period_us", c["realtimePeriod"])
    if c.get("realtimeRuntime"):
        files.write(path, "cpu.rt_runtime_us", c["realtimeRuntime"])
    if c.get("idle") is not None:
        _optional(path, "cpu.idle", c["idle"], "cpu.idle")


def _optional(path, name, value, field):
    if not files.exists(path, name):
        raise CgroupError(f"cgroup: {path}/{name}: linux.resources.{field} is set, but this "
                          f"kernel lacks {name}")
    files.write(path, name, value)


def stats(path, data):
    st = files.maybe(files.read_keyed, path, "cpu.stat", default={})
    throttling = {}
    for src, dst in (("nr_periods", "periods"), ("nr_throttled", "throttledPeriods"),
                     ("throttled_time", "throttledTime")):
        if st.get(src):
            throttling[dst] = st[src]
    data.setdefault("cpu", {})["throttling"] = throttling
