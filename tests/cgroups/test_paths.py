"""Pure tests: cgroupsPath resolution and host layout detection, from sample files."""

import pytest

from pyrunc.cgroups import CgroupError, open_manager
from pyrunc.cgroups import paths as P
from pyrunc.cgroups.v1 import V1Manager, plan
from pyrunc.cgroups.v2 import V2Manager

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/net_cls,net_prio rw,relatime - cgroup cgroup rw,net_cls,net_prio
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
99 31 0:33 /docker /mnt/elsewhere rw,relatime - cgroup cgroup rw,devices
"""
SELF = """\
12:net_cls,net_prio:/
9:name=systemd:/user.slice/session-3.scope
5:devices:/user.slice
4:memory:/user.slice/session-3.scope
3:cpuset:/
2:cpu,cpuacct:/user.slice
1:freezer:/
0::/user.slice/session-3.scope
"""
UNIFIED = "25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
LEGACY = "\n".join(HYBRID.splitlines()[:8]) + "\n"


@pytest.mark.parametrize("raw, clean", [
    ("", ""), ("/a/b", "/a/b"), ("/a/../b", "/b"), ("//a//b/", "/a/b"), ("/../..", "/"),
    ("a/b", "a/b"), ("../../x", "x"), ("a/../../y", "y"), ("./a", "a"), ("..", ""),
])
def test_clean_path_as_runc(raw, clean):
    assert P.clean(raw) == clean


def test_detect_mode_from_mountinfo():
    assert P.detect_mode(HYBRID) == "hybrid"
    assert P.detect_mode(UNIFIED) == "unified"
    assert P.detect_mode(LEGACY) == "legacy"
    with pytest.raises(CgroupError, match="no cgroup filesystem"):
        P.detect_mode("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n")


def test_hierarchies_prefer_sys_fs_cgroup_and_split_comounts():
    h = P.v1_hierarchies(HYBRID)
    assert h["cpu"] is h["cpuacct"] and h["cpu"].mountpoint == "/sys/fs/cgroup/cpu,cpuacct"
    assert h["devices"].mountpoint == "/sys/fs/cgroup/devices"
    assert h["name=systemd"].controllers == ("name=systemd",)
    assert "xattr" not in h["name=systemd"].controllers


def test_own_cgroups():
    own = P.own_cgroups(SELF)
    assert own["cpu"] == own["cpuacct"] == "/user.slice"
    assert own[""] == "/user.slice/session-3.scope"
    assert own["name=systemd"] == "/user.slice/session-3.scope"


def test_absolute_path_is_from_every_hierarchy_root():
    paths, mps = plan("/pods/c1", P.v1_hierarchies(HYBRID), P.own_cgroups(SELF), hybrid=True)
    assert paths["memory"] == "/sys/fs/cgroup/memory/pods/c1"
    assert paths["cpu"] == paths["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/pods/c1"
    assert paths["name=systemd"] == "/sys/fs/cgroup/systemd/pods/c1"
    assert paths[""] == "/sys/fs/cgroup/unified/pods/c1"
    assert mps["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"


def test_relative_path_is_under_own_cgroup_per_controller():
    paths, _ = plan("c1", P.v1_hierarchies(HYBRID), P.own_cgroups(SELF), hybrid=True)
    assert paths["memory"] == "/sys/fs/cgroup/memory/user.slice/session-3.scope/c1"
    assert paths["devices"] == "/sys/fs/cgroup/devices/user.slice/c1"
    assert paths["cpuset"] == "/sys/fs/cgroup/cpuset/c1"
    assert paths[""] == "/sys/fs/cgroup/unified/user.slice/session-3.scope/c1"


def test_relative_path_strips_the_mount_root():
    h = P.Hierarchy("/sys/fs/cgroup/memory", "/docker/abc", ("memory",))
    assert P.v1_path(h, "c1", "/docker/abc/sub") == "/sys/fs/cgroup/memory/sub/c1"
    assert P.v1_path(h, "c1", "/docker/abc") == "/sys/fs/cgroup/memory/c1"


def test_default_is_the_container_id_relative():
    m = V1Manager.open(None, "ctr-1", mountinfo=HYBRID, self_cgroup=SELF, hybrid=False)
    assert m.paths["freezer"] == "/sys/fs/cgroup/freezer/ctr-1"
    assert "" not in m.paths


def test_v2_relative_path_is_under_the_parent_of_own_cgroup():
    m = V2Manager.open("c1", "x", root="/r", self_cgroup="0::/user.slice/session-3.scope\n")
    assert m.path == "/r/user.slice/c1"
    assert V2Manager.open(None, "x", root="/r", self_cgroup="0::/\n").path == "/r/x"
    assert V2Manager.open("/a/../b", "x", root="/r", self_cgroup="0::/s\n").path == "/r/b"


def test_missing_devices_hierarchy_is_refused():
    no_devices = "".join(l + "\n" for l in HYBRID.splitlines() if "devices" not in l)
    with pytest.raises(CgroupError, match="devices controller is not mounted"):
        plan("/x", P.v1_hierarchies(no_devices), {}, hybrid=False)
    paths, _ = plan("/x", P.v1_hierarchies(no_devices), {}, hybrid=False, rootless=True)
    assert "devices" not in paths


def test_relative_path_without_own_entry_is_an_error():
    with pytest.raises(CgroupError, match="has no cpuset entry"):
        plan("c1", P.v1_hierarchies(HYBRID), {"cpu": "/"}, hybrid=False)


@pytest.mark.parametrize("bad", ["/", "/..", "..", "."])
def test_path_resolving_to_a_root_is_refused(bad):
    with pytest.raises(CgroupError, match="resolves to a hierarchy root"):
        P.inner_path(bad, "")


def test_systemd_style_path_is_refused():
    with pytest.raises(CgroupError, match="systemd cgroup driver is not supported"):
        open_manager("system.slice:pyrunc:abc", "abc")


def test_mounts_for_comounted_hierarchies():
    m = V1Manager.open("/p/c", "c", mountinfo=HYBRID, self_cgroup=SELF, hybrid=True)
    by_name = {mt.name: mt for mt in m.mounts()}
    assert by_name["cpu,cpuacct"].source == "/sys/fs/cgroup/cpu,cpuacct/p/c"
    assert set(by_name["cpu,cpuacct"].symlinks) == {"cpu", "cpuacct"}
    assert set(by_name["net_cls,net_prio"].symlinks) == {"net_cls", "net_prio"}
    assert by_name["systemd"].symlinks == ()
    assert by_name["unified"].source == "/sys/fs/cgroup/unified/p/c"
    assert V2Manager("/sys/fs/cgroup/p/c").mounts()[0].source == "/sys/fs/cgroup/p/c"


def test_state_round_trip():
    from pyrunc.cgroups import Manager
    m = V1Manager.open("/p/c", "c", mountinfo=HYBRID, self_cgroup=SELF, hybrid=True)
    m.created = ["/sys/fs/cgroup/memory/p"]
    again = Manager.from_dict(m.to_dict())
    assert isinstance(again, V1Manager) and again.to_dict() == m.to_dict()
    v2 = V2Manager("/sys/fs/cgroup/p/c", created=["/sys/fs/cgroup/p"])
    again = Manager.from_dict(v2.to_dict())
    assert isinstance(again, V2Manager) and again.to_dict() == v2.to_dict()
