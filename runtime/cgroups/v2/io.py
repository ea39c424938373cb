"""v2 io controller: weight (BFQ's own file when present, else io.weight converted),
per-device weights (BFQ only) and io.max throttling; stats from io.stat."""

from .. import files
from ..convert import blkio_to_io_weight
from ..files import CgroupError

NAME = "io"
THROTTLES = (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
             ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops"))


def is_set(res):
    b = res.get("blockIO") or {}
    return bool(b.get("weight") or b.get("weightDevice") or any(b.get(k) for k, _ in THROTTLES))


def apply(path, res, update=False):
    b = res.get("blockIO") or {}
    bfq = files.exists(path, "io.bfq.weight")
    if b.get("weight"):
        if bfq:
            files.write(path, "io.bfq.weight", b["weight"])
        else:
            files.write(path, "io.weight", blkio_to_io_weight(b["weight"]))
    for i, wd in enumerate(b.get("weightDevice") or ()):
        if not wd.get("weight"):
            continue
        if not bfq:
            raise CgroupError(f"cgroup: {path}/io.bfq.weight: linux.resources.blockIO."
                              f"weightDevice[{i}]: per-device weights need the bfq scheduler")
        files.write(path, "io.bfq.weight", f"{wd['major']}:{wd['minor']} {wd['weight']}")
    for key, word in THROTTLES:
        for td in b.get(key) or ():
            files.write(path, "io.max", f"{td['major']}:{td['minor']} {word}={td['rate']}")


def stats(path, data):
    text = files.maybe(files.read, path, "io.stat", default="")
    service_bytes, serviced = [], []
    for line in text.splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, minor = (int(x) for x in parts[0].split(":"))
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, op, out in (("rbytes", "Read", service_bytes), ("wbytes", "Write", service_bytes),
                             ("rios", "Read", serviced), ("wios", "Write", serviced)):
            if key in kv:
                e = {"major": major, "minor": minor, "op": op, "value": int(kv[key])}
                out.append({k: v for k, v in e.items() if v})
    blkio = {}
    if service_bytes:
        blkio["ioServiceBytesRecursive"] = service_bytes
    if serviced:
        blkio["ioServicedRecursive"] = serviced
    data["blkio"] = blkio
