"""A process joining its container's cgroup by itself (see pyrunc.init.bootstrap
for why the children do this rather than the parent)."""

import os

_PERMISSION = (1, 13, 30)  # EPERM, EACCES, EROFS


def join_v1(plan):
    """Join every v1 hierarchy: "0" to each tasks file moves the caller's thread
    (all there is) without the kernel's global lock."""
    v1, _, tolerant = plan.cgroup
    for path in v1:
        join_self(path, "tasks", tolerant)


def open_v2(plan):
    """An O_PATH fd of the v2 directory, for clone3(CLONE_INTO_CGROUP)."""
    return os.open(plan.cgroup[1], os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def join_v2(plan):
    """Join the v2 cgroup the slow way (a cgroup.procs write); see pyrunc.init.bootstrap."""
    _, v2, tolerant = plan.cgroup
    if v2:
        join_self(v2, "cgroup.procs", tolerant)


def join_self(path, name, tolerant=False):
    """Write "0" (the caller) to PATH/NAME."""
    target = f"{path}/{name}"
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
    except OSError as e:
        # Rootless without an explicit cgroupsPath: use the hierarchies we may (as runc).
        if tolerant and e.errno in _PERMISSION:
            return
        raise OSError(e.errno, f"joining: {e.strerror}", target) from None
