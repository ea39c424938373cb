"""linux.resources from config.json, applied at create and enforced for real: read back
from the host's cgroup files and observed from inside the container."""

import json
import os

MOUNT = "/sys/fs/cgroup"
UNIFIED = os.path.exists(os.path.join(MOUNT, "cgroup.controllers"))


def cgread(cgroup, controller, v1, v2=None):
    if UNIFIED:
        p = os.path.join(MOUNT, cgroup.lstrip("/"), v2 or v1)
    else:
        p = os.path.join(MOUNT, controller, cgroup.lstrip("/"), v1)
    with open(p) as f:
        return f.read().strip()


def keyed(text):
    return {k: int(v) for k, v in (line.split() for line in text.splitlines())}


def run_kept(rt, cfg):
    """Run in the foreground, keeping the stopped container (and its cgroup) to inspect;
    the fixture deletes it."""
    cid = rt.new_id()
    p = rt("run", "--keep", "--bundle", rt.bundle(cfg), cid, timeout=120)
    return cid, p


def test_memory_limit_oom_kills(rt):
    limit = 16 << 20
    # busybox tail keeps the last line of /dev/zero, which never ends: it grows until killed.
    cfg = rt.config(["tail", "/dev/zero"])
    cfg["linux"]["resources"] = {"memory": {"limit": limit, "swap": limit}}
    cg = cfg["linux"]["cgroupsPath"]
    cid, p = run_kept(rt, cfg)
    assert p.returncode == 137, (p.returncode, p.stderr)
    assert int(cgread(cg, "memory", "memory.limit_in_bytes", "memory.max")) == limit
    if UNIFIED:
        assert keyed(cgread(cg, "memory", "memory.events"))["oom_kill"] >= 1
    else:
        oom = dict(line.split() for line in cgread(cg, "memory", "memory.oom_control").splitlines())
        assert int(oom["oom_kill"]) >= 1, oom
        assert int(cgread(cg, "memory", "memory.max_usage_in_bytes")) <= limit


def test_memory_under_the_limit_runs(rt):
    cfg = rt.config(["sh", "-c", "head -c 4m /dev/zero | tail > /dev/null; echo fine"])
    cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}}
    p = rt.run(cfg)
    assert p.returncode == 0 and p.stdout == "fine\n", p.stderr


def test_pids_limit_makes_fork_fail(rt):
    # 20 background sleeps under a limit of 8: the shell and 7 sleeps fill the group,
    # the next fork fails (busybox sh then gives up). echo is a builtin: no fork.
    script = ("i=0; while [ $i -lt 20 ]; do echo $i; sleep 30 & i=$((i+1)); done; "
              "echo all-forked")
    cfg = rt.config(["sh", "-c", script])
    cfg["linux"]["resources"] = {"pids": {"limit": 8}}
    cg = cfg["linux"]["cgroupsPath"]
    cid, p = run_kept(rt, cfg)
    assert cgread(cg, "pids", "pids.max") == "8"
    assert "can't fork" in p.stderr or "Resource temporarily unavailable" in p.stderr, p.stderr
    attempts = p.stdout.split()
    assert "all-forked" not in attempts and 0 < int(attempts[-1]) <= 7, p.stdout
    assert keyed(cgread(cg, "pids", "pids.events"))["max"] > 0


def test_cpu_shares_quota_cpuset(rt):
    # A busy loop for one second under a 20% quota on cpu 0.
    script = ("grep Cpus_allowed_list /proc/self/status; "
              "sh -c 'while :; do :; done' & sleep 1; kill $!")
    cfg = rt.config(["sh", "-c", script])
    cfg["linux"]["resources"] = {"cpu": {"shares": 256, "quota": 20000, "period": 100000,
                                         "cpus": "0", "mems": "0"}}
    cg = cfg["linux"]["cgroupsPath"]
    cid, p = run_kept(rt, cfg)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["Cpus_allowed_list:", "0"]
    assert cgread(cg, "cpuset", "cpuset.cpus") == "0"
    assert cgread(cg, "cpuset", "cpuset.mems") == "0"
    if UNIFIED:
        assert cgread(cg, "cpu", "cpu.max") == "20000 100000"
        stat = keyed(cgread(cg, "cpu", "cpu.stat"))
        assert stat["nr_throttled"] > 0
        assert stat["usage_usec"] < 600_000
    else:
        assert cgread(cg, "cpu", "cpu.shares") == "256"
        assert cgread(cg, "cpu", "cpu.cfs_quota_us") == "20000"
        assert cgread(cg, "cpu", "cpu.cfs_period_us") == "100000"
        assert keyed(cgread(cg, "cpu", "cpu.stat"))["nr_throttled"] > 0
        # 20% of one second, with slack for a loaded machine; unthrottled would be ~1s.
        assert int(cgread(cg, "cpuacct", "cpuacct.usage")) < 600_000_000


# /dev/fuse opens without any capability (fuse_dev_open), so only the device cgroup
# decides; the driver is built into Debian's kernel.
FUSE = {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666,
        "uid": 0, "gid": 0}
OPEN_FUSE = "(: < /dev/fuse) 2>&1 && echo fuse-ok; (: > /dev/fuse) 2>&1 && echo fuse-ok"


def test_devices_denied_device_cannot_be_opened(rt):
    # /dev/fuse is made in the container but no rule allows it: only the default
    # devices (/dev/null and friends) are allowed on top of deny-all.
    cfg = rt.config(["sh", "-c", "echo ok > /dev/null && echo null-ok; " + OPEN_FUSE + "; true"])
    cfg["linux"]["devices"] = [FUSE]
    cfg["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    cg = cfg["linux"]["cgroupsPath"]
    cid, p = run_kept(rt, cfg)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "null-ok", p.stdout
    assert len(lines) == 3 and all("Operation not permitted" in x for x in lines[1:]), p.stdout
    if not UNIFIED:
        allowed = cgread(cg, "devices", "devices.list").splitlines()
        assert "c 1:3 rwm" in allowed and not any(r.startswith("c 10:229 ") for r in allowed)
        assert "a *:* rwm" not in allowed


def test_devices_allowed_rule_opens(rt):
    cfg = rt.config(["sh", "-c", OPEN_FUSE])
    cfg["linux"]["devices"] = [FUSE]
    cfg["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"},
                                             {"allow": True, "type": "c", "major": 10,
                                              "minor": 229, "access": "r"}]}
    p = rt.run(cfg)
    # read allowed, write not: the access letters are enforced one by one
    lines = p.stdout.splitlines()
    assert lines[0] == "fuse-ok" and "Operation not permitted" in lines[1], (p.stdout, p.stderr)


def test_resource_the_kernel_refuses_fails_create(rt):
    cfg = rt.config(["true"])
    cfg["linux"]["resources"] = {"cpu": {"cpus": "4095"}}
    b = rt.bundle(cfg)
    cid = rt.new_id()
    p = rt("create", "--bundle", b, cid)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "cpuset.cpus" in lines[0] and "'4095'" in lines[0], p.stderr
    assert rt("state", cid).returncode == 1  # nothing kept: the fixture checks the cgroup


def test_resources_saved_for_events(rt):
    """What create applied is what events reports."""
    cfg = rt.config(["sleep", "300"])
    cfg["linux"]["resources"] = {"memory": {"limit": 48 << 20}, "pids": {"limit": 21}}
    cid = rt.new_id()
    rt("run", "-d", "--bundle", rt.bundle(cfg), cid, check=True)
    ev = json.loads(rt("events", "--stats", cid, check=True).stdout)
    assert ev["data"]["memory"]["usage"]["limit"] == 48 << 20
    assert ev["data"]["pids"]["limit"] == 21
