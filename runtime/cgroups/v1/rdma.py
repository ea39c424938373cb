"""rdma controller (same file on v1 and v2): per-device HCA handle and object limits."""

from .. import files

NAME = "rdma"


def is_set(res):
    return bool(res.get("rdma"))


def lines(rdma):
    """One "DEVICE hca_handle=N hca_object=M" line per device, omitting unset limits."""
    out = []
    for dev in sorted(rdma):
        limits = rdma[dev] or {}
        parts = [dev]
        if limits.get("hcaHandles") is not None:
            parts.append(f"hca_handle={limits['hcaHandles']}")
        if limits.get("hcaObjects") is not None:
            parts.append(f"hca_object={limits['hcaObjects']}")
        if len(parts) > 1:
            out.append(" ".join(parts))
    return out


def apply(path, res, update=False):
    for line in lines(res["rdma"]):
        files.write(path, "rdma.max", line)
