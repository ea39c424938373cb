"""v1 -> v2 unit conversions, the same formulas runc and crun use, so that a config
written for v1 means the same on a v2 host."""

from .files import CgroupError


def shares_to_weight(shares):
    """cpu.shares [2, 262144] onto cpu.weight [1, 10000]; 0 stays "unset"."""
    if not shares:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight):
    """blkio.weight [10, 1000] onto io.weight [1, 10000]; 0 stays "unset"."""
    if not weight:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def swap_to_v2(swap, memory):
    """OCI memory.swap (memory+swap, v1 style) as v2's memory.swap.max (swap alone).

    -1 is unlimited and 0 unset. Unlimited memory with swap unset means unlimited
    swap too, as on v1.
    """
    if memory == -1 and swap == 0:
        return -1
    if swap in (-1, 0):
        return swap
    if memory in (0, -1):
        raise CgroupError("cgroup: linux.resources.memory.swap: unable to set swap limit "
                          "without memory limit")
    if memory < 0:
        raise CgroupError(f"cgroup: linux.resources.memory.limit: invalid memory value: {memory}")
    if swap < memory:
        raise CgroupError(f"cgroup: linux.resources.memory.swap: {swap}: memory+swap limit "
                          f"should be >= memory limit ({memory})")
    return swap - memory


def v2_number(value):
    """How a v2 limit file spells VALUE: -1 is "max", 0 is unset (None)."""
    if value is None or value == 0:
        return None
    if value < 0:
        return "max"
    return str(value)
