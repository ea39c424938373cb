"""v1 hugetlb controller: a limit per huge page size ("2MB", "1GB")."""

import os

from .. import files

NAME = "hugetlb"


def is_set(res):
    return bool(res.get("hugepageLimits"))


def apply(path, res, update=False):
    for i, h in enumerate(res["hugepageLimits"]):
        name = f"hugetlb.{h['pageSize']}.limit_in_bytes"
        files.write(path, name, h["limit"])
        # Reservations are accounted separately since Linux 5.7; keep both in step.
        rsvd = f"hugetlb.{h['pageSize']}.rsvd.limit_in_bytes"
        if files.exists(path, rsvd):
            files.write(path, rsvd, h["limit"])


def page_sizes(path):
    return sorted({n.split(".")[1] for n in os.listdir(path)
                   if n.startswith("hugetlb.") and n.endswith(".limit_in_bytes") and ".rsvd." not in n})


def stats(path, data):
    out = {}
    for size in page_sizes(path):
        get = lambda name: files.maybe(files.read_int, path, f"hugetlb.{size}.{name}") or 0
        e = {"failcnt": get("failcnt")}
        if get("usage_in_bytes"):
            e["usage"] = get("usage_in_bytes")
        if get("max_usage_in_bytes"):
            e["max"] = get("max_usage_in_bytes")
        out[size] = e
    data["hugetlb"] = out
