"""The v2 driver on a real cgroup2 mount.

On a hybrid host that is /sys/fs/cgroup/unified, which has no controllers: the core
(cgroup.procs, cgroup.freeze, cgroup.kill, cgroup.events, cpu.stat) and the BPF device
filter are tested for real there. On a pure v2 host (tests/cgroups/v2_device_check.sh)
the root is /sys/fs/cgroup and the controller tests run too.
"""

import os
import signal
import time

import pytest

from cgroup_helpers import cpu_ticks, wait_for, host_mode, requires_root
from pyrunc.cgroups import CgroupError, Manager, open_manager
from pyrunc.cgroups.v2 import V2Manager

MODE = host_mode()
ROOT = {"unified": "/sys/fs/cgroup", "hybrid": "/sys/fs/cgroup/unified"}.get(MODE)
pytestmark = [requires_root(), pytest.mark.skipif(ROOT is None, reason="requires(a cgroup2 mount)")]
needs_controllers = pytest.mark.skipif(MODE != "unified", reason="requires(pure cgroup v2 host)")


def make(cgname, sub="c"):
    if MODE == "unified":
        mgr = open_manager(cgname + "/" + sub, "c")
        assert isinstance(mgr, V2Manager)
    else:
        # Enabling controllers at the root of the shared unified mount would change the
        # host for everyone; this mount has none anyway.
        mgr = V2Manager(ROOT + cgname + "/" + sub, ROOT, controllers=())
    mgr.create()
    return mgr


def read(mgr, name):
    with open(os.path.join(mgr.path, name)) as f:
        return f.read().strip()


def test_create_add_pids_destroy(cgname, spawn):
    mgr = make(cgname)
    assert mgr.created == [ROOT + cgname, ROOT + cgname + "/c"]
    p, go = spawn("import time; time.sleep(30)")
    mgr.add(p.pid)
    assert mgr.pids() == [p.pid]
    assert read(mgr, "cgroup.events").startswith("populated 1")
    os.mkdir(mgr.path + "/inner")
    mgr.kill_all(signal.SIGKILL)
    assert p.wait(timeout=10) == -signal.SIGKILL
    Manager.from_dict(mgr.to_dict()).destroy()
    assert not os.path.exists(ROOT + cgname)


def test_destroy_keeps_a_preexisting_parent(cgname):
    os.makedirs(ROOT + cgname)
    mgr = make(cgname)
    assert mgr.created == [ROOT + cgname + "/c"]
    mgr.destroy()
    assert os.path.isdir(ROOT + cgname) and not os.path.exists(mgr.path)


def test_freeze_and_thaw(cgname, spawn):
    mgr = make(cgname)
    p, go = spawn("while True: pass")
    mgr.add(p.pid)
    go()
    time.sleep(0.2)
    mgr.freeze()
    assert mgr.frozen() and "frozen 1" in read(mgr, "cgroup.events")
    t0 = cpu_ticks(p.pid)
    time.sleep(0.5)
    assert cpu_ticks(p.pid) == t0
    mgr.thaw()
    assert not mgr.frozen()
    assert wait_for(lambda: cpu_ticks(p.pid) > t0)


def test_kill_all_with_sigterm_freezes_signals_and_thaws(cgname, spawn):
    mgr = make(cgname)
    p, go = spawn("import time\nif os.fork() == 0:\n    time.sleep(60)\n    os._exit(0)\n"
                  "print('ready', flush=True)\ntime.sleep(60)")
    mgr.add(p.pid)
    go()
    assert p.stdout.readline() == b"ready\n"
    assert len(mgr.pids()) == 2
    mgr.kill_all(signal.SIGTERM)
    assert p.wait(timeout=10) == -signal.SIGTERM
    deadline = time.monotonic() + 10
    while mgr.pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mgr.pids() == [] and not mgr.frozen()


def test_device_filter_is_enforced_and_replaced_on_reapply(cgname, spawn):
    mgr = make(cgname)
    mgr.apply({"devices": [{"allow": False, "access": "rwm"}]})
    mgr.apply({"devices": [{"allow": False, "access": "rwm"},
                           {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "w"}]})
    from pyrunc.linux import bpf
    fd = os.open(mgr.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert len(bpf.prog_query(fd, bpf.BPF_CGROUP_DEVICE)) == 1
    finally:
        os.close(fd)
    p, go = spawn("""
for dev, mode in (('/dev/null', 'r'), ('/dev/kmsg', 'r'), ('/dev/kmsg', 'w'), ('/dev/zero', 'w')):
    try:
        open(dev, mode).close()
        print(dev, mode, 'ok')
    except OSError as e:
        print(dev, mode, e.errno)
""")
    mgr.add(p.pid)
    go()
    out, _ = p.communicate(timeout=30)
    assert out.decode().splitlines() == ["/dev/null r ok", "/dev/kmsg r 1", "/dev/kmsg w ok", "/dev/zero w ok"]


def test_stats_from_the_core(cgname, spawn):
    mgr = make(cgname)
    p, go = spawn("for i in range(3000000): pass\nprint('done', flush=True)\nimport time; time.sleep(30)")
    mgr.add(p.pid)
    go()
    assert p.stdout.readline() == b"done\n"
    s = mgr.stats()
    assert s["cpu"]["usage"]["total"] > 0 and s["cpu"]["usage"]["user"] > 0


@pytest.mark.skipif(MODE != "hybrid", reason="requires(controller-less cgroup2)")
def test_controller_missing_on_the_unified_mount(cgname):
    mgr = make(cgname)
    with pytest.raises(CgroupError, match="memory controller is not available"):
        mgr.apply({"memory": {"limit": 1 << 20}})
    with pytest.raises(CgroupError, match="no oom notifications"):
        mgr.oom_events()
    mgr.apply({})


# -- pure v2 only: controllers --------------------------------------------------------

@needs_controllers
def test_v2_every_file_is_read_back(cgname):
    mgr = make(cgname)
    have = mgr.available()
    res = {"memory": {"limit": 64 << 20, "reservation": 16 << 20},
           "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
           "pids": {"limit": 10}}
    mgr.apply(res)
    assert read(mgr, "memory.max") == str(64 << 20)
    assert read(mgr, "memory.low") == str(16 << 20)
    assert read(mgr, "cpu.weight") == "39"
    assert read(mgr, "cpu.max") == "50000 100000"
    assert read(mgr, "pids.max") == "10"
    if "cpuset" in have:
        assert read(mgr, "cpuset.cpus") == "0" and read(mgr, "cpuset.mems") == "0"
    if os.path.exists(mgr.path + "/memory.swap.max"):
        mgr.apply({"memory": {"limit": 64 << 20, "swap": 96 << 20}})
        assert read(mgr, "memory.swap.max") == str(32 << 20)
    mgr.apply({"unified": {"memory.high": str(48 << 20)}})
    assert read(mgr, "memory.high") == str(48 << 20)
    with pytest.raises(CgroupError, match="memory.max: writing 'lots'"):
        mgr.apply({"unified": {"memory.max": "lots"}})


@needs_controllers
def test_v2_oom_kill_is_reported(cgname, spawn):
    mgr = make(cgname)
    res = {"memory": {"limit": 32 << 20}}
    if os.path.exists(mgr.path + "/memory.swap.max"):
        res["memory"]["swap"] = 32 << 20
    mgr.apply(res)
    w = mgr.oom_events()
    try:
        p, go = spawn("b = bytearray(200 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\n")
        mgr.add(p.pid)
        go()
        assert p.wait(timeout=30) == -signal.SIGKILL
        assert w.wait(5) >= 1
    finally:
        w.close()


@needs_controllers
def test_v2_pids_limit_stops_forks(cgname, spawn):
    mgr = make(cgname)
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
    assert out.decode().strip() == "3"
    assert mgr.stats()["pids"]["limit"] == 4
