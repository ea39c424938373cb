"""Fixtures for the cgroup tests: private cgroups under absolute paths, always cleaned up.

Every test that touches the host's cgroups gets a random top-level name
(/pyrunc-test-<hex>) and, afterwards, every process left in any directory under that
name is killed by pid and every such directory removed, in every hierarchy. The pytest
process itself never joins a cgroup.
"""

import os
import secrets
import signal
import subprocess
import sys
import time

import pytest

from pyrunc.cgroups import paths as P

ROOT = "/sys/fs/cgroup"


def hierarchy_roots():
    roots = {h.mountpoint for h in P.v1_hierarchies().values()}
    for mp, _, fstype, _ in P.read_mountinfo():
        if fstype == "cgroup2" and mp.startswith(ROOT):
            roots.add(mp)
    return sorted(roots)


def _kill_and_remove(top):
    if not os.path.isdir(top):
        return
    for dirpath, _, _ in os.walk(top):
        for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            f = os.path.join(dirpath, name)
            if os.path.exists(f):
                try:
                    with open(f, "w") as fh:
                        fh.write(value)
                except OSError:
                    pass
    deadline = time.monotonic() + 5
    while True:
        busy = False
        for dirpath, _, _ in os.walk(top, topdown=False):
            try:
                with open(os.path.join(dirpath, "cgroup.procs")) as fh:
                    for pid in fh.read().split():
                        busy = True
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
            except OSError:
                pass
            try:
                os.rmdir(dirpath)
            except OSError:
                busy = True
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(0.05)


@pytest.fixture
def cgname():
    """A fresh absolute cgroup name; everything under it is removed afterwards."""
    name = "/pyrunc-test-" + secrets.token_hex(4)
    yield name
    for root in hierarchy_roots():
        _kill_and_remove(root + name)
    for root in hierarchy_roots():
        assert not os.path.exists(root + name), f"left behind: {root + name}"


@pytest.fixture
def spawn():
    """Start a Python child that waits for a byte on stdin before running CODE.

    Returns (popen, go): add the pid to a cgroup, then call go() to let it run.
    """
    procs = []

    def start(code):
        p = subprocess.Popen([sys.executable, "-I", "-S", "-c",
                              "import os, sys\nos.read(0, 1)\n" + code],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(p)

        def go():
            p.stdin.write(b"x")
            p.stdin.flush()
        return p, go

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
        for f in (p.stdin, p.stdout, p.stderr):
            f.close()
