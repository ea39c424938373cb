"""The three ways the init comes to be, each ending with it in its cgroup in
every hierarchy and at the root of its cgroup namespace:

- direct: the runtime clones it straight into its namespaces and v2 cgroup
  (clone3 CLONE_INTO_CGROUP); it joins the v1 hierarchies itself;
- bootstrap: with a user namespace, a bootstrap child joins and forks it;
- no clone3: the kernel (or a seccomp profile, as Docker's default one does
  for a runtime run inside a container) refuses clone3 with ENOSYS.
"""

import json
import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="requires root")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def no_clone3(pyrunc, errno_ret=38):
    """A Python program that runs pyrunc with clone3 failing (ENOSYS: as on a
    kernel without it)."""
    return f"""
import os, sys
sys.path.insert(0, {os.path.join(ROOT, "bin", "pkg")!r})
from pyrunc.linux import prctl, seccomp
from pyrunc.seccomp.compile import compile_filter
f = compile_filter({{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
    {{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": {errno_ret}}}]}})
prctl.set_no_new_privs()
seccomp.load(f.program, f.flags)
os.execv({pyrunc!r}, [{pyrunc!r}] + sys.argv[1:])
"""

# The init's own view of its cgroups.
SHOW = ["sh", "-c", "cat /proc/self/cgroup; echo --"]


def host_groups(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        return {line.split(":", 2)[1]: line.rstrip("\n").split(":", 2)[2] for line in f}


def check_placement(rt, cfg, without_clone3=False):
    bundle = rt.bundle(cfg)
    cid = rt.new_id()
    argv = rt.cmd("create", "--bundle", bundle, cid)
    if without_clone3:
        argv = [sys.executable, "-I", "-S", "-c", no_clone3(argv[0])] + argv[1:]
    # stdio on files: the created init keeps it open (a pipe would never end),
    # and the container writes to create's stdout.
    out = os.path.join(rt.tmp, "inside")
    with open(out, "w") as f, open(os.path.join(rt.tmp, "create.err"), "w+") as err:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=err)
        err.seek(0)
        assert p.returncode == 0, err.read()
    pid = json.loads(rt("state", cid, check=True).stdout)["pid"]
    outside = host_groups(pid)
    rt("start", cid, check=True)
    deadline = time.monotonic() + 10
    while json.loads(rt("state", cid, check=True).stdout)["status"] != "stopped":
        assert time.monotonic() < deadline, "the container did not finish"
        time.sleep(0.05)
    rt("delete", cid, check=True)
    inside = open(out).read().split("--")[0].split()
    # The host sees the container's cgroupsPath in every hierarchy, unified included.
    want = cfg["linux"]["cgroupsPath"]
    assert outside and set(outside.values()) == {want}, outside
    assert "" in outside
    # The init sees itself at the root of each (cgroup namespace rooted there).
    assert inside and all(line.endswith(":/") for line in inside), inside
    assert len(inside) == len(outside)


def test_direct_clone(rt):
    check_placement(rt, rt.config(SHOW))


def test_without_clone3(rt):
    check_placement(rt, rt.config(SHOW), without_clone3=True)


def test_bootstrap_with_user_namespace(rt):
    cfg = rt.config(SHOW)
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
    check_placement(rt, cfg)


def test_clone3_refused_otherwise_is_one_error_and_no_trace(rt):
    """An errno other than "unsupported" is an error (EPERM here), with nothing left."""
    runner = no_clone3(rt.cmd()[0], errno_ret=1)
    bundle = rt.bundle(rt.config(["true"]))
    cid = rt.new_id()
    with open(os.path.join(rt.tmp, "create.err"), "w+") as err:
        p = subprocess.run([sys.executable, "-I", "-S", "-c", runner, "--root", rt.root, "create",
                            "--bundle", bundle, cid], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        assert (p.returncode, err.read()) == (1, "pyrunc: clone3: operation not permitted\n")
    assert not os.path.exists(os.path.join(rt.root, cid))
    assert not os.path.exists(os.path.join("/sys/fs/cgroup/pids", rt.cgroups[-1].lstrip("/")))
