"""Binds, flags, recursive attributes, propagation, devices, cgroups, no_pivot."""

import errno
import os
import stat

import pytest

from pyrunc.init import rootfs
from pyrunc.init.rootfs import plan_rootfs
from pyrunc.linux.mount import mount
from pyrunc.oci.mounts import MS_NODEV, MS_NOSUID

from .helpers import in_child, mountinfo, run_container, sh, write_errno

pytestmark = pytest.mark.requires("root")


def minimal(spec):
    """The default config with only /proc and /dev, no masks or read-only paths."""
    spec["mounts"] = spec["mounts"][:2]
    spec["root"]["readonly"] = False
    spec["linux"]["maskedPaths"] = []
    spec["linux"]["readonlyPaths"] = []
    return spec


def build(plan, checks, before=None, **ns):
    def body():
        if before:
            before()
        rootfs.prepare_rootfs(plan)
        rootfs.pivot_rootfs(plan)
        rootfs.finalize_rootfs(plan)
        return checks()
    res = in_child(body, **ns)
    assert "ok" in res, res
    return res["ok"]


def test_binds_ro_rw_and_file_binds(bundle, spec, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "f").write_text("data")
    minimal(spec)["mounts"] += [
        {"destination": "/ro", "type": "bind", "source": str(src), "options": ["rbind", "ro"]},
        {"destination": "/rw", "type": "bind", "source": str(src), "options": ["bind"]},
        {"destination": "/deep/er/file", "type": "none", "source": str(src / "f"),
         "options": ["bind", "ro", "nosuid", "nodev", "noexec"]},
    ]

    def checks():
        mi = mountinfo()
        with open("/deep/er/file") as f:
            content = f.read()
        return {"mi": {k: mi[k]["opts"] for k in ("/ro", "/rw", "/deep/er/file")},
                "ro": write_errno("/ro/new"), "rw": write_errno("/rw/new"),
                "file": write_errno("/deep/er/file"), "content": content,
                "isfile": os.path.isfile("/deep/er/file")}
    r = build(plan_rootfs(spec, bundle), checks)
    assert r["mi"]["/ro"][0] == "ro" and r["mi"]["/rw"][0] == "rw"
    assert r["mi"]["/deep/er/file"][:4] == ["ro", "nosuid", "nodev", "noexec"]
    assert r["ro"] == errno.EROFS and r["rw"] == 0 and r["file"] == errno.EROFS
    assert r["content"] == "data" and r["isfile"]
    assert (src / "new").exists()      # the rw bind wrote through to the source
    # missing destinations were created in the rootfs, as a file for the file bind
    assert os.path.isfile(os.path.join(bundle, "rootfs/deep/er/file"))
    assert os.path.isdir(os.path.join(bundle, "rootfs/ro"))


def test_recursive_read_only(bundle, spec, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    minimal(spec)["mounts"] += [
        {"destination": "/rro", "type": "bind", "source": str(src), "options": ["rbind", "rro"]},
        {"destination": "/ro", "type": "bind", "source": str(src), "options": ["rbind", "ro"]},
        {"destination": "/attrs", "type": "bind", "source": str(src),
         "options": ["rbind", "rnosuid", "rnodev", "rnoexec", "rnoatime"]},
    ]

    def before():
        # a submount the source carries, in this child's namespace only
        mount("tmpfs", str(src / "sub"), "tmpfs", 0)

    def checks():
        mi = mountinfo()
        return {"rro_sub": write_errno("/rro/sub/x"), "ro_sub": write_errno("/ro/sub/x"),
                "ro_top": write_errno("/ro/x"), "attrs": mi["/attrs/sub"]["opts"],
                "rro_opts": mi["/rro/sub"]["opts"]}
    r = build(plan_rootfs(spec, bundle), checks, before)
    assert r["rro_sub"] == errno.EROFS and r["rro_opts"][0] == "ro"
    assert r["ro_top"] == errno.EROFS and r["ro_sub"] == 0   # plain ro is not recursive
    assert {"nosuid", "nodev", "noexec", "noatime"} <= set(r["attrs"])


def test_propagation_per_mount(bundle, spec, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shared = os.path.join(bundle, "rootfs/shared")   # where the first mount lands
    os.mkdir(shared)
    minimal(spec)["mounts"] += [
        {"destination": "/shared", "type": "bind", "source": str(src),
         "options": ["bind", "shared"]},
        # binds of the shared mount join its peer group unless told otherwise
        {"destination": "/peer", "type": "bind", "source": shared, "options": ["bind"]},
        {"destination": "/slave", "type": "bind", "source": shared, "options": ["bind", "rslave"]},
        {"destination": "/private", "type": "bind", "source": shared,
         "options": ["bind", "rprivate"]},
        {"destination": "/unbindable", "type": "bind", "source": str(src),
         "options": ["bind", "runbindable"]},
    ]

    def checks():
        mi = mountinfo()
        return {p: mi[f"/{p}"]["optional"] for p in ("shared", "peer", "slave", "private",
                                                      "unbindable")}
    r = build(plan_rootfs(spec, bundle), checks)
    group = r["shared"][0]
    assert group.startswith("shared:")
    assert r["peer"] == [group]
    assert r["slave"] == [group.replace("shared", "master")]
    assert r["private"] == []
    assert r["unbindable"] == ["unbindable"]


def test_root_propagation_and_readonly(bundle, spec):
    minimal(spec)["linux"]["rootfsPropagation"] = "shared"
    spec["root"]["readonly"] = True

    def checks():
        return {"root": mountinfo()["/"], "w": write_errno("/x"), "dev": write_errno("/dev/x")}
    r = build(plan_rootfs(spec, bundle), checks)
    assert r["root"]["optional"][0].startswith("shared:")
    assert r["root"]["opts"][0] == "ro" and r["w"] == errno.EROFS and r["dev"] == 0


def test_ro_dev_is_made_read_only_after_devices(bundle, spec):
    minimal(spec)["mounts"][1]["options"].append("ro")

    def checks():
        return {"dev": mountinfo()["/dev"]["opts"], "null": os.path.exists("/dev/null"),
                "w": write_errno("/dev/x")}
    r = build(plan_rootfs(spec, bundle), checks)
    assert r["dev"][:2] == ["ro", "nosuid"] and r["null"] and r["w"] == errno.EROFS


def test_linux_devices(bundle, spec):
    minimal(spec)["linux"]["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o620,
         "uid": 1000, "gid": 1001},
        {"path": "/dev/sub/dir/blk", "type": "b", "major": 7, "minor": 200},
        {"path": "/dev/fifo", "type": "p", "fileMode": 0o600},
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600},
    ]

    def checks():
        out = {}
        for p in ("/dev/fuse", "/dev/sub/dir/blk", "/dev/fifo", "/dev/null", "/dev/zero"):
            st = os.lstat(p)
            out[p] = [stat.S_IFMT(st.st_mode), os.major(st.st_rdev), os.minor(st.st_rdev),
                      stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid]
        return out
    r = build(plan_rootfs(spec, bundle), checks)
    assert r["/dev/fuse"] == [stat.S_IFCHR, 10, 229, 0o620, 1000, 1001]
    assert r["/dev/sub/dir/blk"] == [stat.S_IFBLK, 7, 200, 0o666, 0, 0]
    assert r["/dev/fifo"][0] == stat.S_IFIFO and r["/dev/fifo"][3] == 0o600
    assert r["/dev/null"] == [stat.S_IFCHR, 1, 3, 0o600, 0, 0]
    assert r["/dev/zero"] == [stat.S_IFCHR, 1, 5, 0o666, 0, 0]


def test_bound_dev_gets_no_device_nodes(bundle, spec, tmp_path):
    fake = tmp_path / "fakedev"
    fake.mkdir()
    minimal(spec)["mounts"][1] = {"destination": "/dev", "type": "bind", "source": str(fake),
                                  "options": ["rbind"]}
    r = build(plan_rootfs(spec, bundle), lambda: sorted(os.listdir("/dev")))
    assert r == [] and list(fake.iterdir()) == []


def test_cgroup_v1_from_manager(bundle, spec):
    if not os.path.isdir("/sys/fs/cgroup/memory") or not os.path.isdir("/sys/fs/cgroup/cpu"):
        pytest.skip("host lacks cgroup v1 memory/cpu hierarchies")
    minimal(spec)["mounts"].append(
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})
    cg = [("cpu,cpuacct", "/sys/fs/cgroup/cpu", ["cpu", "cpuacct"]),
          ("memory", "/sys/fs/cgroup/memory", [])]

    def checks():
        mi = mountinfo()
        return {"tmpfs": mi["/sys/fs/cgroup"], "cpu": mi["/sys/fs/cgroup/cpu,cpuacct"],
                "mem": mi["/sys/fs/cgroup/memory"],
                "links": [os.readlink(f"/sys/fs/cgroup/{n}") for n in ("cpu", "cpuacct")],
                "w": write_errno("/sys/fs/cgroup/x"),
                "files": os.path.exists("/sys/fs/cgroup/memory/cgroup.procs")}
    r = build(plan_rootfs(spec, bundle, cgroup_mounts=cg), checks)
    assert r["tmpfs"]["fstype"] == "tmpfs" and r["tmpfs"]["opts"][0] == "ro"
    assert r["cpu"]["fstype"] == "cgroup" and "cpu" in r["cpu"]["super"]
    assert r["mem"]["opts"][:4] == ["ro", "nosuid", "nodev", "noexec"]
    assert r["links"] == ["cpu,cpuacct", "cpu,cpuacct"]
    assert r["w"] == errno.EROFS and r["files"]


@pytest.mark.parametrize("cgroupns", [False, True])
def test_cgroup_v2(bundle, spec, cgroupns):
    if not os.path.exists("/sys/fs/cgroup/unified/cgroup.procs"):
        pytest.skip("host has no cgroup2 at /sys/fs/cgroup/unified")
    minimal(spec)["mounts"].append(
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "ro"]})
    if not cgroupns:
        spec["linux"]["namespaces"] = [{"type": "mount"}]
    plan = plan_rootfs(spec, bundle, cgroup_mounts="/sys/fs/cgroup/unified")
    r = build(plan, lambda: mountinfo()["/sys/fs/cgroup"])
    assert r["fstype"] == "cgroup2" and r["opts"][0] == "ro"
    # a bind keeps the host's root of the bound directory; a mount in the
    # initial cgroup namespace shows "/" too: both are the unified root here
    assert r["root"] == "/"


def test_tmpcopyup(bundle, spec):
    data = os.path.join(bundle, "rootfs/etc/data")
    os.makedirs(os.path.join(data, "sub"))
    with open(os.path.join(data, "sub/f"), "w") as f:
        f.write("kept")
    os.symlink("/etc/passwd", os.path.join(data, "link"))
    os.chmod(os.path.join(data, "sub"), 0o710)
    minimal(spec)["mounts"] += [
        {"destination": "/etc/data", "type": "tmpfs", "source": "tmpfs",
         "options": ["tmpcopyup", "mode=755"]},
        {"destination": "/etc/rodata", "type": "tmpfs", "source": "tmpfs",
         "options": ["tmpcopyup", "ro", "nosuid"]},
    ]
    os.makedirs(os.path.join(bundle, "rootfs/etc/rodata"))
    with open(os.path.join(bundle, "rootfs/etc/rodata/f"), "w") as f:
        f.write("ro")

    def checks():
        with open("/etc/data/sub/f") as f:
            text = f.read()
        return {"fstype": mountinfo()["/etc/data"]["fstype"], "text": text,
                "link": os.readlink("/etc/data/link"),
                "mode": stat.S_IMODE(os.stat("/etc/data/sub").st_mode),
                "w": write_errno("/etc/data/new"),
                "ro": [open("/etc/rodata/f").read(), mountinfo()["/etc/rodata"]["opts"][:2],
                       write_errno("/etc/rodata/new")]}
    r = build(plan_rootfs(spec, bundle), checks)
    assert r == {"fstype": "tmpfs", "text": "kept", "link": "/etc/passwd", "mode": 0o710, "w": 0,
                 "ro": ["ro", ["ro", "nosuid"], errno.EROFS]}
    assert not os.path.exists(os.path.join(data, "new"))


def test_no_pivot(bundle, spec):
    plan = plan_rootfs(spec, bundle, no_pivot=True)

    def checks():
        return {"root": mountinfo()["/"]["root"], "ls": sh("ls /"), "cwd": os.getcwd(),
                "ro": write_errno("/x"), "host_tmp": os.path.exists(bundle)}
    r = build(plan, checks)
    assert r["cwd"] == "/" and r["ro"] == errno.EROFS and not r["host_tmp"]
    rc, out = r["ls"]
    assert rc == 0 and set(out.split()) >= {"bin", "dev", "proc", "sys", "etc"}


def test_no_pivot_hides_host_proc_and_sys(bundle):
    root = os.path.join(bundle, "rootfs")

    def body():
        mount("proc", os.path.join(root, "proc"), "proc", 0)
        rootfs._hide_host_proc_sys(root)
        return sorted(p for p, m in mountinfo(f"{root}/proc/self/mountinfo").items()
                      if m["fstype"] in ("proc", "sysfs"))
    os.mkdir(os.path.join(root, "proc"))
    res = in_child(body)
    assert res == {"ok": [os.path.join(root, "proc")]}


def test_readonly_and_masked_paths_missing_are_skipped(bundle, spec, tmp_path):
    os.makedirs(os.path.join(bundle, "rootfs/data/dir"))
    with open(os.path.join(bundle, "rootfs/data/secret"), "w") as f:
        f.write("secret")
    minimal(spec)["linux"]["maskedPaths"] = ["/data/secret", "/data/dir", "/nope", "/no/pe"]
    spec["linux"]["readonlyPaths"] = ["/etc", "/missing/ro"]

    def checks():
        with open("/data/secret") as f:
            text = f.read()
        mi = mountinfo()
        return {"text": text, "dir": [mi["/data/dir"]["fstype"], mi["/data/dir"]["opts"][0]],
                "etc": write_errno("/etc/x"), "dirw": write_errno("/data/dir/x"),
                "nope": "/nope" in mi or os.path.exists("/nope")}
    r = build(plan_rootfs(spec, bundle), checks)
    assert r == {"text": "", "dir": ["tmpfs", "ro"], "etc": errno.EROFS, "dirw": errno.EROFS,
                 "nope": False}


def test_mount_failure_is_a_setup_error(bundle, spec):
    minimal(spec)["mounts"].append({"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["size=notanumber"]})
    res = run_container(plan_rootfs(spec, bundle), lambda: None)
    assert res.get("type") == "SetupError" and res["stage"] == "rootfs"
    assert res["error"] == "SetupError: mounts[2]: /t: mount: invalid argument"


def test_user_namespace(bundle, spec, tmp_path):
    """In a user namespace: a bind remounted ro keeps the flags its source's
    mount has locked (nosuid, nodev) instead of failing with EPERM, devices
    are bound from the host, and sysfs (refused without a network namespace
    of our own) falls back to an rbind of /sys."""
    src = tmp_path / "src"
    src.mkdir()
    minimal(spec)["mounts"] += [
        {"destination": "/ro", "type": "bind", "source": str(src), "options": ["bind", "ro"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
    ]
    spec["linux"]["maskedPaths"] = ["/proc/timer_list"]
    plan = plan_rootfs(spec, bundle, userns=True)
    sub = str(src)

    def body():
        rootfs.prepare_rootfs(plan)
        rootfs.pivot_rootfs(plan)
        rootfs.finalize_rootfs(plan)
        mi = mountinfo()
        st = os.stat("/dev/null")
        return {"ro": mi["/ro"]["opts"], "null": [mi["/dev/null"]["fstype"], os.major(st.st_rdev),
                                                   os.minor(st.st_rdev)],
                "sys": mi["/sys"]["opts"], "sys_sub": "/sys/fs/cgroup" in mi,
                "sys_w": write_errno("/sys/kernel/x"),
                "timer_list": open("/proc/timer_list").read(), "uid": os.getuid()}

    def outer():
        # an outer namespace where the source is nosuid,nodev: the inner
        # user namespace inherits them locked
        mount("tmpfs", sub, "tmpfs", MS_NOSUID | MS_NODEV)
        return in_child(body, userns=True, pidns=True)
    res = in_child(outer)
    assert "ok" in res and "ok" in res["ok"], res
    r = res["ok"]["ok"]
    assert r["ro"][:3] == ["ro", "nosuid", "nodev"]
    assert r["null"] == ["devtmpfs", 1, 3]
    assert r["sys"][0] == "ro" and r["sys_sub"] and r["sys_w"] == errno.EROFS
    assert r["timer_list"] == "" and r["uid"] == 0
