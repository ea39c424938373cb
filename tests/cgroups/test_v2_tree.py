"""The v2 driver against a plain directory tree: every file each controller writes,
with its value and conversion; controller enabling; error paths."""

import os
import signal

import pytest

from pyrunc.cgroups import CgroupError, files
from pyrunc.cgroups import convert
from pyrunc.cgroups.devices import reduce
from pyrunc.cgroups.v2 import V2Manager, devprog

ALL = "cpuset cpu io memory hugetlb pids rdma"
LEAF_FILES = {
    "cgroup.controllers": ALL, "cgroup.procs": "", "cgroup.freeze": "0", "cgroup.kill": "",
    "cgroup.events": "populated 1\nfrozen 0\n", "cgroup.subtree_control": "",
    "memory.max": "max", "memory.swap.max": "max", "memory.low": "0", "memory.current": "4096",
    "memory.events": "low 0\nhigh 0\nmax 3\noom 0\noom_kill 0\n",
    "cpu.weight": "100", "cpu.weight.nice": "0", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0",
    "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 7\nnr_throttled 2\nthrottled_usec 30\n",
    "cpuset.cpus": "", "cpuset.mems": "", "pids.max": "max", "pids.current": "0",
    "io.weight": "default 100", "io.max": "", "io.stat": "",
    "hugetlb.2MB.max": "max", "hugetlb.2MB.rsvd.max": "max", "hugetlb.1GB.max": "max",
    "rdma.max": "",
}


def _fill(path, contents):
    os.makedirs(path, exist_ok=True)
    for name, text in contents.items():
        with open(os.path.join(path, name), "w") as f:
            f.write(text)


@pytest.fixture
def tree(tmp_path):
    root = str(tmp_path / "cgroup")
    _fill(root, {"cgroup.controllers": ALL, "cgroup.subtree_control": ""})
    _fill(root + "/pod", {"cgroup.controllers": ALL, "cgroup.subtree_control": "cpu"})
    return root


@pytest.fixture
def mgr(tree, monkeypatch):
    m = V2Manager(tree + "/pod/ctr", tree)
    m.create()
    _fill(m.path, LEAF_FILES)
    m.attached = []
    m.attach_devices = lambda path, insns: m.attached.append((path, insns))
    return m


@pytest.fixture
def writes(monkeypatch):
    log = []
    real = files.write

    def record(dirpath, name, value):
        log.append((os.path.basename(dirpath), name, str(value)))
        real(dirpath, name, value)
    monkeypatch.setattr(files, "write", record)
    return log


def read(m, name):
    with open(os.path.join(m.path, name)) as f:
        return f.read()


def test_create_enables_controllers_top_down(tree):
    m = V2Manager(tree + "/pod/ctr", tree)
    m.create()
    assert m.created == [tree + "/pod/ctr"]
    with open(tree + "/cgroup.subtree_control") as f:
        assert f.read() == "+cpuset +cpu +io +memory +hugetlb +pids +rdma"
    with open(tree + "/pod/cgroup.subtree_control") as f:
        assert f.read() == "+cpuset +io +memory +hugetlb +pids +rdma"   # cpu was on already


def test_memory_files_and_swap_conversion(mgr, writes):
    mgr.apply({"memory": {"limit": 64 << 20, "swap": 96 << 20, "reservation": 32 << 20,
                          "swappiness": 30, "disableOOMKiller": True}})
    assert read(mgr, "memory.max") == str(64 << 20)
    assert read(mgr, "memory.swap.max") == str(32 << 20)   # v2 swap excludes memory
    assert read(mgr, "memory.low") == str(32 << 20)
    assert [w[1] for w in writes] == ["memory.swap.max", "memory.max", "memory.low"]


def test_memory_unlimited_sets_swap_unlimited(mgr):
    mgr.apply({"memory": {"limit": -1}})
    assert read(mgr, "memory.max") == "max" and read(mgr, "memory.swap.max") == "max"


@pytest.mark.parametrize("memory, message", [
    ({"limit": 64 << 20, "swap": 32 << 20}, "should be >= memory limit"),
    ({"swap": 32 << 20}, "without memory limit"),
])
def test_memory_swap_errors(mgr, memory, message):
    with pytest.raises(CgroupError, match=message):
        mgr.apply({"memory": memory})


def test_check_before_update(mgr):
    mgr.apply({"memory": {"limit": 1024, "checkBeforeUpdate": True}})  # create: not checked
    with pytest.raises(CgroupError, match="rejecting memory limit 2048 below current usage 4096"):
        mgr.apply({"memory": {"limit": 2048, "checkBeforeUpdate": True}}, update=True)


def test_cpu_files_and_weight_conversion(mgr, writes):
    mgr.apply({"cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000, "idle": 0,
                       "cpus": "0-1", "mems": "0"}})
    assert read(mgr, "cpu.weight") == "39"
    assert read(mgr, "cpu.max") == "50000 100000"
    assert read(mgr, "cpu.max.burst") == "1000"
    assert read(mgr, "cpu.idle") == "0"
    assert read(mgr, "cpuset.cpus") == "0-1" and read(mgr, "cpuset.mems") == "0"
    names = [w[1] for w in writes]
    assert names.index("cpu.idle") < names.index("cpu.weight")


@pytest.mark.parametrize("quota, period, line", [(-1, 0, "max"), (0, 250000, "max 250000"),
                                                 (20000, 0, "20000")])
def test_cpu_max_forms(mgr, quota, period, line):
    mgr.apply({"cpu": {"quota": quota, "period": period}})
    assert read(mgr, "cpu.max") == line


def test_conversions():
    assert convert.shares_to_weight(2) == 1
    assert convert.shares_to_weight(262144) == 10000
    assert convert.shares_to_weight(0) == 0
    assert convert.blkio_to_io_weight(10) == 1 and convert.blkio_to_io_weight(1000) == 10000
    assert convert.blkio_to_io_weight(500) == 4950
    assert convert.swap_to_v2(0, -1) == -1 and convert.swap_to_v2(-1, 100) == -1


def test_realtime_and_network_are_refused(mgr):
    with pytest.raises(CgroupError, match="real-time"):
        mgr.apply({"cpu": {"realtimeRuntime": 1000}})
    with pytest.raises(CgroupError, match="net_cls and net_prio do not exist"):
        mgr.apply({"network": {"classID": 1}})


def test_pids(mgr):
    mgr.apply({"pids": {"limit": 42}})
    assert read(mgr, "pids.max") == "42"
    mgr.apply({"pids": {"limit": -1}})
    assert read(mgr, "pids.max") == "max"


def test_io_weight_converted_and_throttles(mgr, writes):
    mgr.apply({"blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                           "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 50}]}})
    assert read(mgr, "io.weight") == "4950"
    assert ("ctr", "io.max", "8:0 rbps=1000") in writes
    assert ("ctr", "io.max", "8:16 wiops=50") in writes
    with pytest.raises(CgroupError, match="need the bfq scheduler"):
        mgr.apply({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 100}]}})


def test_io_uses_bfq_when_present(mgr, writes):
    _fill(mgr.path, {"io.bfq.weight": "100"})
    mgr.apply({"blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 300}]}})
    assert ("ctr", "io.bfq.weight", "500") in writes
    assert ("ctr", "io.bfq.weight", "8:0 300") in writes
    assert read(mgr, "io.weight") == "default 100"


def test_hugetlb_and_rdma(mgr, writes):
    mgr.apply({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 21}],
               "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "mlx4_0": {"hcaObjects": 5}}})
    assert read(mgr, "hugetlb.2MB.max") == str(4 << 21)
    assert read(mgr, "hugetlb.2MB.rsvd.max") == str(4 << 21)
    assert ("ctr", "rdma.max", "mlx4_0 hca_object=5") in writes
    assert ("ctr", "rdma.max", "mlx5_1 hca_handle=3 hca_object=10000") in writes


def test_unified_keys(mgr):
    mgr.apply({"memory": {"limit": 1 << 30}, "unified": {"memory.max": "2000000", "cpu.weight.nice": "5"}})
    assert read(mgr, "memory.max") == "2000000"  # unified is written last and wins
    for bad, message in (({"foo.bar": "1"}, "the foo controller is not available"),
                         ({"../memory.max": "1"}, "must be a file name"),
                         ({"cgroup.procs": "1"}, "may not be set")):
        with pytest.raises(CgroupError, match=message):
            mgr.apply({"unified": bad})


def test_missing_controller_is_an_error_only_when_set(mgr):
    _fill(mgr.path, {"cgroup.controllers": "cpu pids"})
    mgr.apply({"pids": {"limit": 5}, "memory": {"limit": 0}})
    with pytest.raises(CgroupError, match=r"resources\.memory: set, but the memory controller"):
        mgr.apply({"memory": {"limit": 1 << 20}})
    with pytest.raises(CgroupError, match="the hugetlb controller"):
        mgr.apply({"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]})
    with pytest.raises(CgroupError, match="the memory controller is not available"):
        mgr.apply({"unified": {"memory.high": "10"}})


def test_refused_value_names_file_and_value(mgr):
    os.chmod(os.path.join(mgr.path, "pids.max"), 0o444)
    os.rename(os.path.join(mgr.path, "pids.max"), os.path.join(mgr.path, "gone"))
    with pytest.raises(CgroupError) as e:
        mgr.apply({"pids": {"limit": 7}})
    assert str(e.value).startswith(f"cgroup: {mgr.path}/pids.max:") and "'7'" in str(e.value)


def test_devices_program_is_attached_at_create_not_update(mgr):
    rules = [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10, "minor": 200}]
    mgr.apply({"devices": rules})
    assert mgr.attached == [(mgr.path, devprog.generate(reduce(rules)))]
    mgr.apply({}, update=True)
    assert len(mgr.attached) == 1


def test_freeze_thaw_and_kill(mgr):
    _fill(mgr.path, {"cgroup.events": "populated 1\nfrozen 1\n"})
    mgr.freeze()
    assert read(mgr, "cgroup.freeze") == "1" and mgr.frozen()
    mgr.thaw()
    assert read(mgr, "cgroup.freeze") == "0" and not mgr.frozen()
    mgr.kill_all(signal.SIGKILL)
    assert read(mgr, "cgroup.kill") == "1"


def test_freeze_that_never_completes_is_undone(mgr):
    with pytest.raises(CgroupError, match="not frozen after"):
        mgr.freeze(timeout=0.2)
    assert read(mgr, "cgroup.freeze") == "0"


def test_pids_are_collected_recursively(mgr):
    _fill(mgr.path, {"cgroup.procs": "10\n11\n"})
    _fill(mgr.path + "/sub", {"cgroup.procs": "12\n"})
    assert mgr.pids() == [10, 11, 12]


def test_stats(mgr):
    _fill(mgr.path, {"memory.stat": "anon 100\nfile 200\n", "memory.peak": "8192",
                     "memory.swap.current": "50", "pids.current": "3", "pids.max": "max",
                     "io.stat": "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n",
                     "hugetlb.2MB.current": "2097152", "hugetlb.2MB.events": "max 1\n"})
    s = mgr.stats()
    assert s["cpu"]["usage"] == {"total": 1500000, "user": 1000000, "kernel": 500000}
    assert s["cpu"]["throttling"] == {"periods": 7, "throttledPeriods": 2, "throttledTime": 30000}
    assert s["memory"]["usage"] == {"usage": 4096, "max": 8192, "limit": 2 ** 64 - 1, "failcnt": 3}
    assert s["memory"]["swap"]["usage"] == 4146
    assert s["memory"]["cache"] == 200 and s["memory"]["raw"]["anon"] == 100
    assert s["pids"] == {"current": 3}
    assert {"major": 8, "op": "Read", "value": 10} in s["blkio"]["ioServiceBytesRecursive"]
    assert {"major": 8, "op": "Write", "value": 2} in s["blkio"]["ioServicedRecursive"]
    assert s["hugetlb"]["2MB"] == {"usage": 2097152, "failcnt": 1}
    assert s["hugetlb"]["1GB"] == {"failcnt": 0}


def test_oom_watcher_counts_new_oom_events(mgr):
    w = mgr.oom_events()
    try:
        assert w.wait(0.01) == 0
        _fill(mgr.path, {"memory.events": "max 9\noom 2\noom_kill 2\n"})
        assert w.wait(0.01) == 2
        assert w.wait(0.01) == 0
    finally:
        w.close()
    os.unlink(os.path.join(mgr.path, "memory.events"))
    with pytest.raises(CgroupError, match="no oom notifications"):
        mgr.oom_events()


def test_destroy_reports_a_directory_it_cannot_remove(mgr):
    with pytest.raises(CgroupError, match=f"{mgr.path}: removing"):
        mgr.destroy()
