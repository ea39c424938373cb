"""v1 net_cls and net_prio controllers: packet class id and per-interface priorities."""

from .. import files


def classid_set(res):
    return (res.get("network") or {}).get("classID") is not None


def priorities_set(res):
    return bool((res.get("network") or {}).get("priorities"))


def apply_classid(path, res, update=False):
    files.write(path, "net_cls.classid", res["network"]["classID"])


def apply_priorities(path, res, update=False):
    for p in res["network"]["priorities"]:
        files.write(path, "net_prio.ifpriomap", f"{p['name']} {p['priority']}")
