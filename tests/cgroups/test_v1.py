"""The v1 driver on this host's real hierarchies, under /pyrunc-test-<random>.

Every value written is read back from the kernel's file; enforcement is checked with
child processes placed in the cgroup (the pytest process never joins one).
"""

import os
import signal
import time

import pytest

from cgroup_helpers import cpu_ticks, wait_for, requires_root, requires_v1
from pyrunc.cgroups import CgroupError, Manager, events, open_manager

pytestmark = [requires_root(), requires_v1()]
CG = "/sys/fs/cgroup"


def cat(hierarchy, path, name):
    with open(f"{CG}/{hierarchy}{path}/{name}") as f:
        return f.read().strip()


def first_block_device():
    with open("/sys/block/vda/dev" if os.path.exists("/sys/block/vda/dev") else "/sys/block/loop0/dev") as f:
        return f.read().strip()


def test_create_add_places_process_everywhere(cgname, spawn):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    p, go = spawn("import time; time.sleep(30)")
    mgr.add(p.pid)
    for key, path in mgr.paths.items():
        with open(path + "/cgroup.procs") as f:
            assert str(p.pid) in f.read().split(), key
    assert "" in mgr.paths and mgr.paths[""].startswith(CG + "/unified/")
    assert mgr.pids() == [p.pid]


def test_every_resource_is_read_back(cgname, spawn):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    dev = first_block_device()
    major, minor = (int(x) for x in dev.split(":"))
    mgr.apply({
        "memory": {"limit": 64 << 20, "swap": 96 << 20, "reservation": 32 << 20, "swappiness": 10,
                   "disableOOMKiller": True, "useHierarchy": True},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000, "realtimePeriod": 500000,
                "idle": 0, "cpus": "0", "mems": "0"},
        "pids": {"limit": 10},
        "blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
                    "throttleWriteBpsDevice": [{"major": major, "minor": minor, "rate": 2097152}],
                    "throttleReadIOPSDevice": [{"major": major, "minor": minor, "rate": 100}],
                    "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 200}]},
        "devices": [{"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"}],
    })
    p = cgname + "/c"
    assert cat("memory", p, "memory.limit_in_bytes") == str(64 << 20)
    assert cat("memory", p, "memory.memsw.limit_in_bytes") == str(96 << 20)
    assert cat("memory", p, "memory.soft_limit_in_bytes") == str(32 << 20)
    assert cat("memory", p, "memory.swappiness") == "10"
    assert "oom_kill_disable 1" in cat("memory", p, "memory.oom_control")
    assert cat("memory", p, "memory.use_hierarchy") == "1"
    assert cat("cpu", p, "cpu.shares") == "512"
    assert cat("cpu", p, "cpu.cfs_quota_us") == "50000"
    assert cat("cpu", p, "cpu.cfs_period_us") == "100000"
    assert cat("cpu", p, "cpu.cfs_burst_us") == "1000"
    assert cat("cpu", p, "cpu.rt_period_us") == "500000"
    assert cat("cpu", p, "cpu.idle") == "0"
    assert cat("cpuset", p, "cpuset.cpus") == "0" and cat("cpuset", p, "cpuset.mems") == "0"
    assert cat("pids", p, "pids.max") == "10"
    assert cat("blkio", p, "blkio.throttle.read_bps_device") == f"{dev} 1048576"
    assert cat("blkio", p, "blkio.throttle.write_bps_device") == f"{dev} 2097152"
    assert cat("blkio", p, "blkio.throttle.read_iops_device") == f"{dev} 100"
    assert cat("blkio", p, "blkio.throttle.write_iops_device") == f"{dev} 200"
    allowed = set(cat("devices", p, "devices.list").splitlines())
    assert {"c 10:200 rwm", "c 1:3 rwm", "c 136:* rwm", "c 5:2 rwm", "b *:* m"} <= allowed
    assert "a *:* rwm" not in allowed and not any(l.startswith("b 8:") for l in allowed)


def test_update_changes_values_and_leaves_devices(cgname):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    mgr.apply({"devices": [{"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"}],
               "memory": {"limit": 64 << 20, "swap": 64 << 20}})
    before = cat("devices", cgname + "/c", "devices.list")
    # Raising both: memsw must be written before the limit, or the kernel refuses.
    mgr.apply({"memory": {"limit": 128 << 20, "swap": 256 << 20}, "pids": {"limit": -1}}, update=True)
    assert cat("memory", cgname + "/c", "memory.limit_in_bytes") == str(128 << 20)
    assert cat("memory", cgname + "/c", "memory.memsw.limit_in_bytes") == str(256 << 20)
    assert cat("pids", cgname + "/c", "pids.max") == "max"
    # Lowering both: the limit goes first.
    mgr.apply({"memory": {"limit": 32 << 20, "swap": 48 << 20}}, update=True)
    assert cat("memory", cgname + "/c", "memory.memsw.limit_in_bytes") == str(48 << 20)
    mgr.apply({"memory": {"limit": -1}}, update=True)
    assert int(cat("memory", cgname + "/c", "memory.memsw.limit_in_bytes")) > 1 << 60
    assert cat("devices", cgname + "/c", "devices.list") == before


def test_memory_limit_oom_kills_the_child_and_is_reported(cgname, spawn):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    mgr.apply({"memory": {"limit": 32 << 20, "swap": 32 << 20}})
    watcher = mgr.oom_events()
    try:
        p, go = spawn("b = bytearray(200 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('survived')")
        mgr.add(p.pid)
        go()
        assert p.wait(timeout=30) == -signal.SIGKILL
        assert watcher.wait(5) >= 1
    finally:
        watcher.close()
    assert "oom_kill 1" in cat("memory", cgname + "/c", "memory.oom_control")


def test_pids_limit_stops_forks(cgname, spawn):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    mgr.apply({"pids": {"limit": 4}})
    p, go = spawn("""
import time
kids = []
for i in range(10):
    try:
        pid = os.fork()
    except BlockingIOError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    kids.append(pid)
print(len(kids), flush=True)
for k in kids:
    os.kill(k, 9)
    os.waitpid(k, 0)
""")
    mgr.add(p.pid)
    go()
    out, _ = p.communicate(timeout=30)
    assert out.decode().strip() == "3"       # the child itself is the fourth
    assert mgr.stats()["pids"]["limit"] == 4


def test_freeze_stops_a_busy_process_and_thaw_resumes_it(cgname, spawn):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    p, go = spawn("while True: pass")
    mgr.add(p.pid)
    go()
    time.sleep(0.2)
    mgr.freeze()
    assert mgr.frozen() and cat("freezer", cgname + "/c", "freezer.state") == "FROZEN"
    t0 = cpu_ticks(p.pid)
    time.sleep(0.5)
    assert cpu_ticks(p.pid) == t0
    mgr.thaw()
    assert not mgr.frozen()
    assert wait_for(lambda: cpu_ticks(p.pid) > t0)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_kill_all_reaches_every_process(cgname, spawn, sig):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    p, go = spawn("""
import time
for i in range(3):
    if os.fork() == 0:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        time.sleep(60)
        os._exit(0)
print('ready', flush=True)
time.sleep(60)
""")
    mgr.add(p.pid)
    go()
    assert p.stdout.readline() == b"ready\n"
    deadline = time.monotonic() + 5
    while len(mgr.pids()) < 7 and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = mgr.pids()
    assert len(pids) == 7
    mgr.kill_all(sig)
    assert p.wait(timeout=10) == -sig
    deadline = time.monotonic() + 10
    while mgr.pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mgr.pids() == []
    assert not mgr.frozen()


def test_destroy_removes_what_it_created_and_keeps_a_preexisting_parent(cgname, spawn):
    os.makedirs(f"{CG}/memory{cgname}/parent")
    mgr = open_manager(cgname + "/parent/c", "c")
    mgr.create()
    assert f"{CG}/memory{cgname}/parent" not in mgr.created
    assert f"{CG}/memory{cgname}/parent/c" in mgr.created
    assert f"{CG}/pids{cgname}" in mgr.created
    os.mkdir(mgr.paths["memory"] + "/made-by-the-container")
    # A process that is being killed: destroy waits for it to leave.
    p, go = spawn("import time; time.sleep(30)")
    mgr.add(p.pid)
    p.kill()
    saved = Manager.from_dict(mgr.to_dict())
    saved.destroy()
    p.wait()
    assert os.path.isdir(f"{CG}/memory{cgname}/parent")
    assert not os.path.exists(f"{CG}/memory{cgname}/parent/c")
    for root in ("pids", "cpu", "devices", "freezer", "unified", "systemd"):
        assert not os.path.exists(f"{CG}/{root}{cgname}"), root
    assert saved.created == []


def test_a_parent_shared_with_another_container_outlives_its_creator(cgname):
    """Two containers under a parent the first one's create made: deleting the
    first leaves the parent (the second lives there), deleting the second removes it."""
    first = open_manager(cgname + "/shared/a", "a")
    first.create()
    second = open_manager(cgname + "/shared/b", "b")
    second.create()
    assert f"{CG}/pids{cgname}/shared" in first.created
    assert f"{CG}/pids{cgname}/shared" not in second.created
    first.destroy()
    assert not os.path.exists(f"{CG}/pids{cgname}/shared/a")
    assert os.path.isdir(f"{CG}/pids{cgname}/shared/b")
    second.destroy()
    assert os.path.isdir(f"{CG}/pids{cgname}/shared")  # made by the first: not the second's to remove
    os.rmdir(f"{CG}/pids{cgname}/shared")


def test_destroy_with_a_live_process_fails_clearly(cgname, spawn):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    p, go = spawn("import time; time.sleep(30)")
    mgr.add(p.pid)
    from pyrunc.cgroups import manager
    with pytest.raises(CgroupError, match="still busy"):
        manager.remove_tree(mgr.paths["memory"], [mgr.paths["memory"]], timeout=0.2)


def test_devices_are_enforced(cgname, spawn):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    mgr.apply({"devices": [{"allow": False, "access": "rwm"}]})
    p, go = spawn("""
for dev in ('/dev/null', '/dev/kmsg'):
    try:
        open(dev).close()
        print(dev, 'ok')
    except OSError as e:
        print(dev, e.errno)
""")
    mgr.add(p.pid)
    go()
    out, _ = p.communicate(timeout=30)
    assert out.decode().split("\n")[:2] == ["/dev/null ok", "/dev/kmsg 1"]


def test_refused_values_name_file_and_value(cgname):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    with pytest.raises(CgroupError) as e:
        mgr.apply({"cpu": {"cpus": "1000"}})
    assert f"{CG}/cpuset{cgname}/c/cpuset.cpus" in str(e.value) and "'1000'" in str(e.value)
    with pytest.raises(CgroupError, match="maximum allowed cpu-shares is 262144"):
        mgr.apply({"cpu": {"shares": 300000}})
    with pytest.raises(CgroupError, match="minimum allowed cpu-shares is 2"):
        mgr.apply({"cpu": {"shares": 1}})
    with pytest.raises(CgroupError, match="swappiness range is 0-100"):
        mgr.apply({"memory": {"swappiness": 101}})
    with pytest.raises(CgroupError, match=r"memory\.limit_in_bytes: writing 'lots'"):
        mgr.apply({"memory": {"limit": "lots"}})


def test_memory_limit_below_usage(cgname, spawn):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    mgr.apply({"memory": {"swap": -1}})
    p, go = spawn("b = bytearray(48 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\n"
                  "print('ready', flush=True)\nimport time; time.sleep(30)")
    mgr.add(p.pid)
    go()
    assert p.stdout.readline() == b"ready\n"
    with pytest.raises(CgroupError, match="rejecting memory limit"):
        mgr.apply({"memory": {"limit": 8 << 20, "checkBeforeUpdate": True}}, update=True)
    with pytest.raises(CgroupError, match=r"unable to set memory limit to 8388608 \(current usage: \d+"):
        mgr.apply({"memory": {"limit": 8 << 20}})


@pytest.mark.parametrize("resources, message", [
    ({"network": {"classID": 1048577}}, "net_cls controller is not available"),
    ({"network": {"priorities": [{"name": "eth0", "priority": 5}]}}, "net_prio controller"),
    ({"rdma": {"mlx5_1": {"hcaHandles": 3}}}, "rdma controller"),
    ({"blockIO": {"leafWeight": 500}}, "no io scheduler here supports weights"),
    ({"unified": {"memory.high": "1"}}, "unified keys need cgroup v2"),
])
def test_resources_this_host_cannot_honour(cgname, resources, message):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    with pytest.raises(CgroupError, match=message):
        mgr.apply(resources)
    mgr.apply({"hugepageLimits": [], "network": {}, "rdma": {}, "blockIO": {"weight": 0}})


def test_hugetlb_limit_or_its_absence(cgname):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    limits = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 21}]}
    if "hugetlb" not in mgr.paths:
        with pytest.raises(CgroupError, match="hugetlb controller is not available"):
            mgr.apply(limits)
        return
    mgr.apply(limits)
    assert cat("hugetlb", cgname + "/c", "hugetlb.2MB.limit_in_bytes") == str(4 << 21)
    assert mgr.stats()["hugetlb"]["2MB"] == {"failcnt": 0}


def test_blkio_weight_uses_bfq_files(cgname):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    if not os.path.exists(mgr.paths["blkio"] + "/blkio.bfq.weight"):
        pytest.skip("requires(bfq blkio files)")
    mgr.apply({"blockIO": {"weight": 300}})
    assert cat("blkio", cgname + "/c", "blkio.bfq.weight").split()[-1] == "300"
    # A per-device weight for a disk whose scheduler is not BFQ is refused by the kernel.
    dev = first_block_device()
    with open(f"/sys/block/{os.path.basename(os.path.realpath('/sys/dev/block/' + dev))}/queue/scheduler") as f:
        if "[bfq]" in f.read():
            return
    with pytest.raises(CgroupError, match=f"blkio.bfq.weight_device: writing '{dev} 200'"):
        mgr.apply({"blockIO": {"weightDevice": [
            {"major": int(dev.split(":")[0]), "minor": int(dev.split(":")[1]), "weight": 200}]}})


def test_stats_and_events(cgname, spawn):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    mgr.apply({"memory": {"limit": 32 << 20, "swap": 32 << 20}, "pids": {"limit": 20}})
    p, go = spawn("import time\nfor i in range(3000000): pass\nprint('ready', flush=True)\ntime.sleep(0.5)\n"
                  "b = bytearray(200 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\n")
    mgr.add(p.pid)
    go()
    assert p.stdout.readline() == b"ready\n"
    [only] = list(events(mgr, "ctr", stats_only=True))
    assert only["type"] == "stats" and only["id"] == "ctr"
    data = only["data"]
    assert set(data) >= {"cpu", "memory", "pids", "blkio", "hugetlb"}
    assert data["cpu"]["usage"]["total"] > 0 and len(data["cpu"]["usage"]["percpu"]) == os.cpu_count()
    assert data["memory"]["usage"]["limit"] == 32 << 20 and data["memory"]["usage"]["usage"] > 0
    assert data["memory"]["raw"]["rss"] >= 0
    assert data["pids"] == {"current": 1, "limit": 20}
    seen = []
    for ev in events(mgr, "ctr", interval=0.3):
        seen.append(ev["type"])
        if ev["type"] == "oom" or len(seen) > 60:
            break
    assert "oom" in seen and "stats" in seen
    p.wait(timeout=10)
    mgr.destroy()
    assert list(events(mgr, "ctr", interval=0.1)) == []


def test_events_interval_must_be_positive(cgname):
    mgr = open_manager(cgname + "/c", "c")
    with pytest.raises(CgroupError, match="must be greater than 0"):
        next(events(mgr, "x", interval=0))


def test_kill_all_of_a_paused_container(cgname, spawn):
    mgr = open_manager(cgname + "/c", "c")
    mgr.create()
    p, go = spawn("import time; time.sleep(60)")
    mgr.add(p.pid)
    go()
    mgr.freeze()
    mgr.kill_all(signal.SIGTERM)          # stays paused; the signal waits for the thaw
    assert mgr.frozen()
    time.sleep(0.2)
    assert p.poll() is None
    mgr.kill_all(signal.SIGKILL)          # SIGKILL thaws so the processes can die
    assert p.wait(timeout=10) in (-signal.SIGTERM, -signal.SIGKILL)
    assert not mgr.frozen()


def test_freeze_without_freezer_hierarchy_is_an_error(cgname):
    mgr = open_manager(cgname + "/c", "c")
    del mgr.paths["freezer"]
    with pytest.raises(CgroupError, match="freezer controller is not mounted"):
        mgr.freeze()
    assert not mgr.frozen()


def test_cpuset_is_inherited_through_an_empty_preexisting_parent(cgname, spawn):
    os.makedirs(f"{CG}/cpuset{cgname}/parent")   # a new v1 cpuset starts empty
    assert cat("cpuset", cgname + "/parent", "cpuset.cpus") == ""
    mgr = open_manager(cgname + "/parent/c", "c")
    mgr.create()
    assert cat("cpuset", cgname + "/parent/c", "cpuset.cpus") == cat("cpuset", "", "cpuset.cpus")
    p, go = spawn("import time; time.sleep(30)")
    mgr.add(p.pid)                               # ENOSPC if cpus or mems were empty
    assert mgr.pids() == [p.pid]
