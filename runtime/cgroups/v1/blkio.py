"""v1 blkio controller: weights (CFQ or BFQ files), per-device weights and throttling."""

from .. import files
from ..files import CgroupError

NAME = "blkio"
THROTTLES = (("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
             ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
             ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
             ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"))


def is_set(res):
    b = res.get("blockIO") or {}
    return bool(b.get("weight") or b.get("leafWeight") or b.get("weightDevice")
                or any(b.get(k) for k, _ in THROTTLES))


def _weight_file(path, cfq, bfq, field):
    # CFQ's files are gone since Linux 5.0; BFQ offers the same knobs under its own name.
    for name in (cfq, bfq):
        if name and files.exists(path, name):
            return name
    raise CgroupError(f"cgroup: {path}/{cfq}: linux.resources.blockIO.{field} is set, but "
                      f"no io scheduler here supports weights")


def apply(path, res, update=False):
    b = res.get("blockIO") or {}
    if b.get("weight"):
        files.write(path, _weight_file(path, "blkio.weight", "blkio.bfq.weight", "weight"), b["weight"])
    if b.get("leafWeight"):
        files.write(path, _weight_file(path, "blkio.leaf_weight", None, "leafWeight"), b["leafWeight"])
    for i, wd in enumerate(b.get("weightDevice") or ()):
        dev = f"{wd['major']}:{wd['minor']}"
        if wd.get("weight"):
            name = _weight_file(path, "blkio.weight_device", "blkio.bfq.weight_device",
                                f"weightDevice[{i}].weight")
            files.write(path, name, f"{dev} {wd['weight']}")
        if wd.get("leafWeight"):
            name = _weight_file(path, "blkio.leaf_weight_device", None, f"weightDevice[{i}].leafWeight")
            files.write(path, name, f"{dev} {wd['leafWeight']}")
    for key, name in THROTTLES:
        for td in b.get(key) or ():
            files.write(path, name, f"{td['major']}:{td['minor']} {td['rate']}")


def _entries(path, name):
    out = []
    text = files.maybe(files.read, path, name, default="")
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            major, minor = parts[0].split(":")
            out.append(_entry(int(major), int(minor), parts[1], int(parts[2])))
        elif len(parts) == 2 and ":" in parts[0]:
            major, minor = parts[0].split(":")
            out.append(_entry(int(major), int(minor), "", int(parts[1])))
    return out


def _entry(major, minor, op, value):
    # runc's JSON omits zero fields of a blkio entry.
    e = {"major": major, "minor": minor, "op": op, "value": value}
    return {k: v for k, v in e.items() if v}


def stats(path, data):
    out = {}
    # Prefer the scheduler's recursive counters, falling back to BFQ's, then throttle's.
    for prefix in ("blkio.", "blkio.bfq.", "blkio.throttle."):
        if files.exists(path, prefix + "io_service_bytes_recursive"):
            out["ioServiceBytesRecursive"] = _entries(path, prefix + "io_service_bytes_recursive")
            out["ioServicedRecursive"] = _entries(path, prefix + "io_serviced_recursive")
            break
    for key, name in (("ioQueueRecursive", "blkio.io_queued_recursive"),
                      ("ioServiceTimeRecursive", "blkio.io_service_time_recursive"),
                      ("ioWaitTimeRecursive", "blkio.io_wait_time_recursive"),
                      ("ioMergedRecursive", "blkio.io_merged_recursive"),
                      ("ioTimeRecursive", "blkio.time_recursive"),
                      ("sectorsRecursive", "blkio.sectors_recursive")):
        if files.exists(path, name):
            out[key] = _entries(path, name)
    data["blkio"] = {k: v for k, v in out.items() if v}
