"""Planning in the parent: validation, bind sources, cgroup expansion, /dev."""

import os
import stat
import time

import pytest

from pyrunc.errors import ConfigError
from pyrunc.init.rootfs import plan_rootfs
from pyrunc.init.rootfs_plan import LinkStep, MountStep, RemountStep
from pyrunc.oci import mounts as m


def steps_at(plan, dest):
    return [s for s in plan.steps if getattr(s, "destination", None) == dest]


def test_default_spec_plan(bundle, spec):
    plan = plan_rootfs(spec, bundle)
    assert plan.rootfs == os.path.realpath(os.path.join(bundle, "rootfs"))
    assert plan.readonly and plan.setup_dev and not plan.no_pivot
    dev, = steps_at(plan, "/dev")
    assert dev.fstype == "tmpfs" and dev.data == "mode=755,size=65536k"
    assert dev.flags == m.MS_NOSUID | m.MS_STRICTATIME
    pts, = steps_at(plan, "/dev/pts")
    assert pts.data == "newinstance,ptmxmode=0666,mode=0620,gid=5"
    sys_, = steps_at(plan, "/sys")
    assert sys_.sys_fallback and sys_.flags == m.MS_NOSUID | m.MS_NOEXEC | m.MS_NODEV | m.MS_RDONLY
    assert [d.path for d in plan.devices] == ["/dev/null", "/dev/zero", "/dev/full",
                                              "/dev/random", "/dev/urandom", "/dev/tty"]
    assert "/proc/sys" in plan.readonly_paths and "/proc/kcore" in plan.masked_paths


def test_plan_is_fast(bundle, spec):
    t = time.perf_counter()
    for _ in range(20):
        plan_rootfs(spec, bundle)
    assert (time.perf_counter() - t) / 20 < 0.05


def test_relative_bind_source_is_relative_to_bundle(bundle, spec):
    os.mkdir(os.path.join(bundle, "data"))
    with open(os.path.join(bundle, "file"), "w"):
        pass
    spec["mounts"] = [
        {"destination": "/data", "type": "bind", "source": "data", "options": ["ro"]},
        {"destination": "/etc/file", "source": "file", "options": ["rbind", "nosuid"]},
    ]
    plan = plan_rootfs(spec, bundle)
    d, f = plan.steps
    assert d.source == os.path.join(bundle, "data") and d.is_dir and d.fstype is None
    assert d.flags == m.MS_BIND and d.remount == m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY
    assert f.source == os.path.join(bundle, "file") and not f.is_dir
    assert f.flags == m.MS_BIND | m.MS_REC
    assert f.remount == m.MS_BIND | m.MS_REC | m.MS_REMOUNT | m.MS_NOSUID


def test_bind_without_flags_needs_no_remount(bundle, spec):
    spec["mounts"] = [{"destination": "/x", "type": "none", "source": "/tmp",
                       "options": ["rbind", "rprivate", "rro"]}]
    s, = plan_rootfs(spec, bundle).steps
    assert s.remount is None and s.propagation == [m.MS_PRIVATE | m.MS_REC]
    assert s.attr_set == m.MOUNT_ATTR_RDONLY


def test_relative_destination_and_dots_are_cleaned(bundle, spec):
    spec["mounts"] = [{"destination": "a/../b/./c", "type": "tmpfs", "source": "tmpfs"}]
    s, = plan_rootfs(spec, bundle).steps
    assert s.destination == "/b/c"


def test_ro_dev_is_remounted_late(bundle, spec):
    spec["mounts"][1]["options"].append("ro")
    plan = plan_rootfs(spec, bundle)
    dev, = steps_at(plan, "/dev")
    assert not dev.flags & m.MS_RDONLY
    late, = plan.late_remounts
    assert late.destination == "/dev" and late.flags & m.MS_RDONLY and late.flags & m.MS_NOSUID


def test_bound_dev_gets_no_devices(bundle, spec):
    spec["mounts"][1] = {"destination": "/dev", "type": "bind", "source": "/dev",
                         "options": ["rbind"]}
    assert not plan_rootfs(spec, bundle).setup_dev


def test_cgroup_v1_from_manager(bundle, spec):
    cg = [("cpu,cpuacct", "/sys/fs/cgroup/cpu", ["cpu", "cpuacct"]),
          ("memory", "/sys/fs/cgroup/memory", [])]
    plan = plan_rootfs(spec, bundle, cgroup_mounts=cg)
    steps = [s for s in plan.steps if getattr(s, "where", "") == "mounts[6]"]
    tmpfs, cpu, l1, l2, mem, ro = steps
    assert tmpfs.fstype == "tmpfs" and tmpfs.data == "mode=755" and tmpfs.flags & m.MS_RDONLY == 0
    assert cpu.destination == "/sys/fs/cgroup/cpu,cpuacct" and cpu.source == "/sys/fs/cgroup/cpu"
    assert cpu.remount & m.MS_RDONLY and cpu.fstype is None
    assert (l1, l2) == (LinkStep("cpu,cpuacct", "/sys/fs/cgroup/cpu", "mounts[6]"),
                        LinkStep("cpu,cpuacct", "/sys/fs/cgroup/cpuacct", "mounts[6]"))
    assert mem.destination == "/sys/fs/cgroup/memory"
    assert isinstance(ro, RemountStep) and ro.flags & m.MS_RDONLY


def test_cgroup_v1_without_manager_mounts_hierarchies(bundle, spec):
    plan = plan_rootfs(spec, bundle)
    subs = [s for s in plan.steps if isinstance(s, MountStep) and s.fstype == "cgroup"]
    if not os.path.isdir("/sys/fs/cgroup/memory"):
        pytest.skip("host has no cgroup v1 memory hierarchy")
    mem, = [s for s in subs if s.destination == "/sys/fs/cgroup/memory"]
    assert mem.data == "memory" and mem.flags & m.MS_RDONLY


def test_cgroup_v2(bundle, spec):
    plan = plan_rootfs(spec, bundle, cgroup_mounts="/sys/fs/cgroup/unified")
    s, = steps_at(plan, "/sys/fs/cgroup")
    assert s.fstype == "cgroup2" and s.bind_fallback == "/sys/fs/cgroup/unified"
    spec["linux"]["namespaces"] = [{"type": "mount"}]
    s, = steps_at(plan_rootfs(spec, bundle, cgroup_mounts="/sys/fs/cgroup/unified"),
                  "/sys/fs/cgroup")
    assert s.fstype is None and s.source == "/sys/fs/cgroup/unified"
    assert s.remount & m.MS_RDONLY


def test_devices(bundle, spec):
    spec["linux"]["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o620,
         "uid": 1000, "gid": 1001},
        {"path": "/dev/null", "type": "u", "major": 1, "minor": 3},
        {"path": "/dev/fifo", "type": "p", "fileMode": None, "uid": None},
        {"path": "/dev/ptmx", "type": "c", "major": 5, "minor": 2},
    ]
    devs = plan_rootfs(spec, bundle).devices
    assert [d.path for d in devs][:3] == ["/dev/fuse", "/dev/null", "/dev/fifo"]
    assert "/dev/ptmx" not in [d.path for d in devs]
    assert [d.path for d in devs].count("/dev/null") == 1
    fuse = devs[0]
    assert (fuse.kind, fuse.major, fuse.minor, fuse.mode, fuse.uid, fuse.gid) == \
        (stat.S_IFCHR, 10, 229, 0o620, 1000, 1001)
    assert devs[2].kind == stat.S_IFIFO and devs[2].mode == 0o666 and devs[2].uid == 0


@pytest.mark.parametrize("mutate,path,words", [
    (lambda s: s["root"].update(path="missing"), "root.path", "not a directory"),
    (lambda s: s["root"].update(path=""), "root.path", "non-empty"),
    (lambda s: s["root"].update(readonly="yes"), "root.readonly", "boolean"),
    (lambda s: s.update(mounts={}), "mounts", "array"),
    (lambda s: s["mounts"].append("x"), "mounts[7]", "object"),
    (lambda s: s["mounts"].append({"type": "tmpfs"}), "mounts[7].destination", "non-empty"),
    (lambda s: s["mounts"].append({"destination": "/x", "type": "bind", "source": "/no-such-q"}),
     "mounts[7].source", "no such file"),
    (lambda s: s["mounts"].append({"destination": "/x", "type": "bind"}),
     "mounts[7].source", "required"),
    (lambda s: s["mounts"].append({"destination": "/x", "type": "nosuchfs"}),
     "mounts[7].type", "unknown filesystem"),
    (lambda s: s["mounts"].append({"destination": "/x", "type": "none", "source": "x"}),
     "mounts[7].type", "required unless"),
    (lambda s: s["mounts"].append({"destination": "/x", "type": 3}), "mounts[7].type", "string"),
    (lambda s: s["mounts"].append({"destination": "/", "type": "tmpfs"}),
     "mounts[7].destination", "over the root"),
    (lambda s: s["mounts"].append({"destination": "/proc", "type": "tmpfs"}),
     "mounts[7].destination", "only a proc"),
    (lambda s: s["mounts"].append({"destination": "/proc/sys/x", "type": "tmpfs"}),
     "mounts[7].destination", "inside /proc"),
    (lambda s: s["mounts"].append({"destination": "/proc", "type": "bind", "source": "/tmp"}),
     "mounts[7].destination", "only a proc"),
    (lambda s: s["mounts"].append({"destination": "/x", "type": "tmpfs",
                                   "options": ["ro", "idmap"]}),
     "mounts[7].options[1]", "id-mapped"),
    (lambda s: s["mounts"].append({"destination": "/x", "type": "proc", "options": ["tmpcopyup"]}),
     "mounts[7].options", "tmpcopyup"),
    (lambda s: s["linux"].update(rootfsPropagation="sideways"), "linux.rootfsPropagation", "one of"),
    (lambda s: s["linux"].update(maskedPaths=["proc/kcore"]), "linux.maskedPaths[0]", "absolute"),
    (lambda s: s["linux"].update(readonlyPaths="/proc"), "linux.readonlyPaths", "array"),
    (lambda s: s["linux"].update(devices=[{"path": "dev/x", "type": "c"}]),
     "linux.devices[0].path", "absolute"),
    (lambda s: s["linux"].update(devices=[{"path": "/dev/x", "type": "z"}]),
     "linux.devices[0].type", "one of"),
    (lambda s: s["linux"].update(devices=[{"path": "/dev/x", "type": "c", "major": 1}]),
     "linux.devices[0].minor", "required"),
    (lambda s: s["linux"].update(devices=[{"path": "/dev/x", "type": "b", "major": -1, "minor": 0}]),
     "linux.devices[0].major", "integer"),
    (lambda s: s["linux"].update(devices=[{"path": "/dev/x", "type": "p", "fileMode": 0o17777}]),
     "linux.devices[0].fileMode", "integer"),
    (lambda s: s["linux"].update(devices=[{"path": "/", "type": "p"}]),
     "linux.devices[0].path", "root"),
    (lambda s: s["linux"].update(devices={}), "linux.devices", "array"),
])
def test_config_errors_name_the_json_path(bundle, spec, mutate, path, words):
    mutate(spec)
    with pytest.raises(ConfigError) as e:
        plan_rootfs(spec, bundle)
    assert e.value.path == path, str(e.value)
    assert words in str(e.value)


def test_proc_bind_of_a_proc_is_allowed(bundle, spec):
    spec["mounts"] = [{"destination": "/proc", "type": "bind", "source": "/proc",
                       "options": ["rbind"]}]
    s, = plan_rootfs(spec, bundle).steps
    assert s.proc_ok


def test_lxcfs_files_may_be_bound_under_proc(bundle, spec):
    spec["mounts"].append({"destination": "/proc/meminfo", "type": "bind",
                           "source": "/proc/meminfo", "options": ["bind"]})
    s = plan_rootfs(spec, bundle).steps[-1]
    assert s.destination == "/proc/meminfo" and not s.is_dir
