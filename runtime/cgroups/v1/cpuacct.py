"""v1 cpuacct controller: CPU usage statistics only."""

import os

from .. import files

NAME = "cpuacct"
_NS_PER_TICK = 10 ** 9 // os.sysconf("SC_CLK_TCK")


def is_set(res):
    return False


def apply(path, res, update=False):
    pass


def _list(path, name):
    text = files.maybe(files.read, path, name, default="")
    return [int(v) for v in text.split()]


def stats(path, data):
    usage = {}
    total = files.maybe(files.read_int, path, "cpuacct.usage")
    if total:
        usage["total"] = total
    for name, key in (("cpuacct.usage_percpu", "percpu"), ("cpuacct.usage_percpu_sys", "percpu_kernel"),
                      ("cpuacct.usage_percpu_user", "percpu_user")):
        values = _list(path, name)
        if values:
            usage[key] = values
    # cpuacct.stat counts USER_HZ ticks (proc(5)); runc reports nanoseconds.
    st = files.maybe(files.read_keyed, path, "cpuacct.stat", default={})
    usage["kernel"] = st.get("system", 0) * _NS_PER_TICK
    usage["user"] = st.get("user", 0) * _NS_PER_TICK
    data.setdefault("cpu", {})["usage"] = usage
