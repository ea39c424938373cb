"""v1 freezer controller: freezer.state is THAWED, FREEZING or FROZEN."""

import time

from .. import files
from ..files import CgroupError


def freeze(path, timeout=10.0):
    # A freeze can stall in FREEZING while a task is in an uninterruptible sleep;
    # thawing and freezing again lets it retry (runc does the same).
    deadline = time.monotonic() + timeout
    delay = 0.001
    attempt = 0
    while time.monotonic() < deadline:
        if attempt and attempt % 25 == 0:
            files.write(path, "freezer.state", "THAWED")
        files.write(path, "freezer.state", "FROZEN")
        if files.read(path, "freezer.state") == "FROZEN":
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
        attempt += 1
    files.write(path, "freezer.state", "THAWED")
    raise CgroupError(f"cgroup: {path}/freezer.state: still FREEZING after {timeout:g}s")


def thaw(path):
    files.write(path, "freezer.state", "THAWED")


def frozen(path):
    return files.read(path, "freezer.state") == "FROZEN"
