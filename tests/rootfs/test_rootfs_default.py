"""runc's default config, built for real in a child's mount namespace."""

import errno
import os
import stat
import time

import pytest

from pyrunc.init import rootfs
from pyrunc.init.rootfs import bind_console, plan_rootfs
from pyrunc.linux.mount import mount
from pyrunc.oci.mounts import MS_BIND, MS_REC, MS_SHARED

from .helpers import in_child, mountinfo, run_container, sh, write_errno

pytestmark = pytest.mark.requires("root")


def default_checks():
    mi = mountinfo()
    out = {"mounts": mi}
    out["root_write"] = write_errno("/newfile")
    out["tmp_write"] = write_errno("/tmp/x")
    out["devices"] = {}
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        st = os.lstat(f"/dev/{name}")
        out["devices"][name] = [stat.S_ISCHR(st.st_mode), os.major(st.st_rdev),
                                os.minor(st.st_rdev), stat.S_IMODE(st.st_mode), st.st_uid,
                                st.st_gid]
    out["links"] = {p: os.readlink(p) for p in
                    ("/dev/ptmx", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr")}
    out["proc_sys_write"] = write_errno("/proc/sys/kernel/hostname", b"h")
    with open("/proc/timer_list") as f:
        out["timer_list"] = f.read()
    out["firmware"] = os.listdir("/sys/firmware")
    out["firmware_write"] = write_errno("/sys/firmware/x")
    out["sh"] = sh("echo hello; ls /bin/busybox; cat /proc/self/cgroup | head -1; pwd")
    out["cwd"] = os.getcwd()
    return out


def test_default_spec(bundle, spec):
    t = time.perf_counter()
    plan = plan_rootfs(spec, bundle)
    res = run_container(plan, default_checks)
    assert "ok" in res, res
    r = res["ok"]
    mi = r["mounts"]
    assert mi["/"]["opts"][0] == "ro"
    assert mi["/proc"]["fstype"] == "proc"
    dev = mi["/dev"]
    assert dev["fstype"] == "tmpfs" and "nosuid" in dev["opts"]
    assert "mode=755" in dev["super"] and "size=65536k" in dev["super"]
    pts = mi["/dev/pts"]
    assert pts["fstype"] == "devpts" and {"nosuid", "noexec"} <= set(pts["opts"])
    assert {"gid=5", "mode=620", "ptmxmode=666"} <= set(pts["super"])
    shm = mi["/dev/shm"]
    assert {"nosuid", "noexec", "nodev"} <= set(shm["opts"]) and "size=65536k" in shm["super"]
    assert mi["/dev/mqueue"]["fstype"] == "mqueue"
    assert mi["/sys"]["fstype"] == "sysfs" and mi["/sys"]["opts"][0] == "ro"
    cg = mi["/sys/fs/cgroup"]
    assert cg["fstype"] == "tmpfs" and cg["opts"][0] == "ro"
    if os.path.isdir("/sys/fs/cgroup/memory"):
        mem = mi["/sys/fs/cgroup/memory"]
        assert mem["fstype"] == "cgroup" and mem["opts"][0] == "ro" and "memory" in mem["super"]
    assert r["root_write"] == errno.EROFS
    assert r["proc_sys_write"] == errno.EROFS
    assert mi["/proc/sys"]["opts"][0] == "ro"
    for name, (minor, major) in {"null": (3, 1), "zero": (5, 1), "full": (7, 1),
                                 "random": (8, 1), "urandom": (9, 1), "tty": (0, 5)}.items():
        assert r["devices"][name] == [True, major, minor, 0o666, 0, 0], name
    assert r["links"] == {"/dev/ptmx": "pts/ptmx", "/dev/fd": "/proc/self/fd",
                          "/dev/stdin": "/proc/self/fd/0", "/dev/stdout": "/proc/self/fd/1",
                          "/dev/stderr": "/proc/self/fd/2"}
    assert r["timer_list"] == ""
    assert mi["/proc/timer_list"]["source"] in ("devtmpfs", "tmpfs")
    assert r["firmware"] == [] and r["firmware_write"] == errno.EROFS
    assert mi["/sys/firmware"]["fstype"] == "tmpfs"
    rc, out = r["sh"]
    assert rc == 0 and out.startswith("hello\n/bin/busybox\n") and out.endswith("/\n")
    assert r["cwd"] == "/"
    # the host saw none of it
    assert not any(p.startswith(bundle) for p in mountinfo())
    print(f"plan+prepare+pivot+finalize+checks in child: {time.perf_counter() - t:.3f}s")


def test_console_is_bound(bundle, spec):
    plan = plan_rootfs(spec, bundle)

    def checks():
        master, slave = os.openpty()
        name = os.ttyname(slave)
        bind_console(name)
        st = os.stat("/dev/console")
        return [name, stat.S_ISCHR(st.st_mode), os.major(st.st_rdev), os.minor(st.st_rdev),
                mountinfo()["/dev/console"]["fstype"]]
    res = run_container(plan, checks)
    assert "ok" in res, res
    name, is_chr, major, minor, fstype = res["ok"]
    assert name == f"/dev/pts/{minor}" and is_chr and major == 136 and fstype == "devpts"


def test_console_error_is_a_setup_error(bundle, spec):
    plan = plan_rootfs(spec, bundle)
    res = run_container(plan, lambda: bind_console("/dev/pts/999"))
    assert res.get("type") == "SetupError" and res["stage"] == "console", res
    assert "/dev/console" in res["error"]


def test_child_timing(bundle, spec):
    """prepare+pivot+finalize of the default config, timed inside the child."""
    plan = plan_rootfs(spec, bundle)

    def body():
        t0 = time.perf_counter()
        rootfs.prepare_rootfs(plan)
        t1 = time.perf_counter()
        rootfs.pivot_rootfs(plan)
        t2 = time.perf_counter()
        rootfs.finalize_rootfs(plan)
        t3 = time.perf_counter()
        return [t1 - t0, t2 - t1, t3 - t2]
    res = in_child(body)
    assert "ok" in res, res
    prep, piv, fin = res["ok"]
    print(f"prepare {prep * 1e3:.1f} ms, pivot {piv * 1e3:.1f} ms, finalize {fin * 1e3:.1f} ms")
    assert prep + piv + fin < 2.0


@pytest.mark.parametrize("propagation", [None, "rshared", "rprivate"])
def test_nothing_propagates_to_a_shared_host(bundle, spec, tmp_path, propagation):
    """On a host whose / is rshared (systemd's default) the container's
    mounts, and the detach of the old root after pivot_root, must not
    propagate back: / is made rslave first."""
    src = tmp_path / "src"
    src.mkdir()
    spec["mounts"].append({"destination": "/shared", "type": "bind", "source": str(src),
                           "options": ["rbind", "rshared"]})
    if propagation:
        spec["linux"]["rootfsPropagation"] = propagation
    plan = plan_rootfs(spec, bundle)

    def table():
        # other sessions' mounts under /tmp come and go on the host, and
        # propagate here: watch the standard mounts and our own tree
        return {p: m["fstype"] for p, m in mountinfo().items()
                if not p.startswith("/tmp/") or p.startswith(str(tmp_path))}

    def inner():
        rootfs.prepare_rootfs(plan)
        rootfs.pivot_rootfs(plan)
        rootfs.finalize_rootfs(plan)
        return {p: m["optional"] for p, m in mountinfo().items()}

    def outer():
        # this namespace plays the host: everything shared, peers of the child's
        # copies, the rootfs a (shared) mount point of its own as with overlayfs
        mount(None, "/", None, MS_SHARED | MS_REC)
        mount(plan.rootfs, plan.rootfs, None, MS_BIND)
        before = table()
        res = in_child(inner)
        after = table()
        return {"inner": res, "before": before, "after": after}
    res = in_child(outer)
    assert "ok" in res, res
    r = res["ok"]
    inner = r["inner"]["ok"]
    assert "/shared" in inner and "/proc/sys" in inner
    if propagation == "rshared":
        assert inner["/"][0].startswith("shared:")
    assert r["after"] == r["before"]
