"""v2 hugetlb controller: hugetlb.<size>.max (and .rsvd.max where the kernel has it)."""

import os

from .. import files

NAME = "hugetlb"


def is_set(res):
    return bool(res.get("hugepageLimits"))


def apply(path, res, update=False):
    for h in res["hugepageLimits"]:
        files.write(path, f"hugetlb.{h['pageSize']}.max", h["limit"])
        rsvd = f"hugetlb.{h['pageSize']}.rsvd.max"
        if files.exists(path, rsvd):
            files.write(path, rsvd, h["limit"])


def stats(path, data):
    out = {}
    sizes = sorted({n.split(".")[1] for n in os.listdir(path)
                    if n.startswith("hugetlb.") and n.endswith(".max") and ".rsvd." not in n})
    for size in sizes:
        usage = files.maybe(files.read_int, path, f"hugetlb.{size}.current") or 0
        ev = files.maybe(files.read_keyed, path, f"hugetlb.{size}.events", default={})
        e = {"failcnt": ev.get("max", 0)}
        if usage:
            e["usage"] = usage
        out[size] = e
    data["hugetlb"] = out
