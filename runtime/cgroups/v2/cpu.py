"""v2 cpu controller: cpu.weight (from shares), cpu.max, cpu.max.burst, cpu.idle; stats.

Real-time bandwidth has no v2 interface: a config asking for it is refused.
"""

from .. import files
from ..convert import shares_to_weight
from ..files import CgroupError

NAME = "cpu"


def is_set(res):
    c = res.get("cpu") or {}
    return bool(c.get("shares") or c.get("quota") or c.get("period") or c.get("burst") is not None
                or c.get("idle") is not None)


def rt_set(res):
    c = res.get("cpu") or {}
    return bool(c.get("realtimeRuntime") or c.get("realtimePeriod"))


def max_line(quota, period):
    """cpu.max: "$QUOTA $PERIOD", "max" for no quota; period alone keeps the default."""
    line = str(quota) if quota and quota > 0 else "max"
    if period:
        line += f" {period}"
    return line


def apply(path, res, update=False):
    c = res.get("cpu") or {}
    if rt_set(res):
        raise CgroupError("cgroup: linux.resources.cpu.realtimeRuntime: real-time cpu "
                          "bandwidth is not supported on cgroup v2")
    # cpu.idle=1 makes the kernel ignore the weight; write it first so a later weight
    # is not refused.
    if c.get("idle") is not None:
        files.write(path, "cpu.idle", c["idle"])
    if c.get("shares"):
        files.write(path, "cpu.weight", shares_to_weight(c["shares"]))
    quota, period = c.get("quota") or 0, c.get("period") or 0
    if quota or period:
        files.write(path, "cpu.max", max_line(quota, period))
    if c.get("burst") is not None:
        files.write(path, "cpu.max.burst", c["burst"])


def stats(path, data):
    st = files.maybe(files.read_keyed, path, "cpu.stat", default={})
    usage = {"kernel": st.get("system_usec", 0) * 1000, "user": st.get("user_usec", 0) * 1000}
    if st.get("usage_usec"):
        usage["total"] = st["usage_usec"] * 1000
    throttling = {}
    for src, dst, mult in (("nr_periods", "periods", 1), ("nr_throttled", "throttledPeriods", 1),
                           ("throttled_usec", "throttledTime", 1000)):
        if st.get(src):
            throttling[dst] = st[src] * mult
    data["cpu"] = {"usage": usage, "throttling": throttling}
