"""Helpers shared by the cgroup tests (a module of its own: every directory's conftest.py
is named "conftest", so importing from one is ambiguous)."""

import os
import time

import pytest

from pyrunc.cgroups import paths as P


def host_mode():
    try:
        return P.detect_mode()
    except Exception:
        return None


def requires_root():
    return pytest.mark.skipif(os.geteuid() != 0, reason="requires(root)")


def requires_v1():
    return pytest.mark.skipif(host_mode() not in ("legacy", "hybrid"),
                              reason="requires(cgroup v1 or hybrid host)")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_for(cond, timeout=5.0):
    """Poll COND until it holds or TIMEOUT passes (the machine's cores are shared)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
