"""Symlinks planted in the image must never lead a mount, a directory, a
device or a mask out of the rootfs (CVE-2021-30465 and friends)."""

import os

import pytest

from pyrunc.init import rootfs
from pyrunc.init.rootfs import plan_rootfs

from .helpers import in_child, mountinfo, write_errno
from .test_rootfs_mounts import minimal

pytestmark = pytest.mark.requires("root")


@pytest.fixture
def outside(tmp_path):
    """A host directory next to the rootfs, with a canary in it."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "canary").write_text("host")
    return d


def build(plan, checks):
    """prepare, then record which host paths got mounts, then pivot and
    finalize and run checks() in the container."""
    def body():
        rootfs.prepare_rootfs(plan)
        host_mounts = sorted(mountinfo())
        rootfs.pivot_rootfs(plan)
        rootfs.finalize_rootfs(plan)
        return {"host_mounts": host_mounts, "checks": checks()}
    return in_child(body)


def assert_untouched(outside, res):
    assert "ok" in res, res
    assert sorted(os.listdir(outside)) == ["canary"]
    assert (outside / "canary").read_text() == "host"
    assert not [p for p in res["ok"]["host_mounts"] if p.startswith(str(outside))]


def test_destination_symlinks_resolve_inside_the_root(bundle, spec, outside, tmp_path):
    root = os.path.join(bundle, "rootfs")
    os.symlink(str(outside), os.path.join(root, "evil"))
    os.symlink("../../../../../../../../.." + str(outside), os.path.join(root, "rel"))
    os.symlink(str(outside), os.path.join(root, "lnk"))
    minimal(spec)["mounts"] += [
        {"destination": "/evil", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/rel/x", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/lnk/sub/dir", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/../../../../escape", "type": "tmpfs", "source": "tmpfs"},
    ]
    inside = str(outside)

    def checks():
        mi = mountinfo()
        return {"inside": [mi[p]["fstype"] for p in (inside, inside + "/x", inside + "/sub/dir",
                                                     "/escape")],
                "w": write_errno("/evil/new")}
    res = build(plan_rootfs(spec, bundle), checks)
    assert_untouched(outside, res)
    assert res["ok"]["checks"] == {"inside": ["tmpfs"] * 4, "w": 0}
    # (sub/dir was made on the tmpfs mounted at /evil: the same place inside)
    assert os.path.isdir(os.path.join(root, inside.lstrip("/")))
    assert os.path.isdir(os.path.join(root, "escape"))


def test_file_bind_through_symlink_stays_inside(bundle, spec, outside, tmp_path):
    root = os.path.join(bundle, "rootfs")
    (outside / "canary").write_text("host")
    os.symlink(str(outside / "canary"), os.path.join(root, "etc/hosts"))
    src = tmp_path / "hosts"
    src.write_text("container")
    minimal(spec)["mounts"].append({"destination": "/etc/hosts", "type": "bind",
                                    "source": str(src), "options": ["bind", "ro"]})

    def checks():
        with open("/etc/hosts") as f:
            return f.read()
    res = build(plan_rootfs(spec, bundle), checks)
    assert_untouched(outside, res)
    assert res["ok"]["checks"] == "container"


def test_proc_destination_symlink_is_refused(bundle, spec, outside):
    root = os.path.join(bundle, "rootfs")
    os.symlink(str(outside), os.path.join(root, "proc"))
    res = build(plan_rootfs(minimal(spec), bundle), lambda: None)
    assert res.get("type") == "SetupError", res
    assert res["error"] == "SetupError: mounts[0]: /proc: proc must be mounted on a directory"
    assert sorted(os.listdir(outside)) == ["canary"]


def test_sysfs_destination_symlink_is_refused(bundle, spec, outside):
    os.symlink(str(outside), os.path.join(bundle, "rootfs/sys"))
    minimal(spec)["mounts"].append({"destination": "/sys", "type": "sysfs", "source": "sysfs"})
    res = build(plan_rootfs(spec, bundle), lambda: None)
    assert "sysfs must be mounted on a directory" in res.get("error", ""), res


def test_symlink_into_proc_is_refused(bundle, spec):
    os.symlink("/proc/sys", os.path.join(bundle, "rootfs/foo"))
    minimal(spec)["mounts"].append({"destination": "/foo", "type": "tmpfs", "source": "tmpfs"})
    res = build(plan_rootfs(spec, bundle), lambda: None)
    assert res.get("error") == \
        "SetupError: mounts[2]: /foo: /proc/sys: cannot mount inside /proc", res


def test_dangling_symlink_destination_is_created_inside(bundle, spec):
    os.symlink("/nonexistent/deeper", os.path.join(bundle, "rootfs/dang"))
    os.symlink("dang/../../loop", os.path.join(bundle, "rootfs/loop"))
    minimal(spec)["mounts"].append({"destination": "/dang/x", "type": "tmpfs", "source": "tmpfs"})
    res = build(plan_rootfs(spec, bundle), lambda: mountinfo()["/nonexistent/deeper/x"]["fstype"])
    assert res.get("ok", {}).get("checks") == "tmpfs", res
    assert os.path.isdir(os.path.join(bundle, "rootfs/nonexistent/deeper/x"))


def test_symlink_loop_destination_fails(bundle, spec):
    os.symlink("b", os.path.join(bundle, "rootfs/a"))
    os.symlink("a", os.path.join(bundle, "rootfs/b"))
    minimal(spec)["mounts"].append({"destination": "/a/x", "type": "tmpfs", "source": "tmpfs"})
    res = build(plan_rootfs(spec, bundle), lambda: None)
    assert res.get("type") == "SetupError", res
    assert res["error"].startswith("SetupError: mounts[2]: /a/x:")
    assert "symbolic links" in res["error"]


def test_device_path_through_symlink_stays_inside(bundle, spec, outside):
    root = os.path.join(bundle, "rootfs")
    os.symlink(str(outside), os.path.join(root, "dev"))
    # no /dev mount: the nodes go into the image's /dev
    minimal(spec)["mounts"] = minimal(spec)["mounts"][:1]
    spec["linux"]["devices"] = [{"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3}]
    inside = str(outside)

    def checks():
        return sorted(os.listdir(inside))
    res = build(plan_rootfs(spec, bundle), checks)
    assert_untouched(outside, res)
    assert "mydev" in res["ok"]["checks"] and "null" in res["ok"]["checks"]


def test_masked_and_readonly_paths_resolve_inside(bundle, spec, outside):
    root = os.path.join(bundle, "rootfs")
    with open(os.path.join(root, "etc/secret"), "w") as f:
        f.write("secret")
    os.symlink("/etc/secret", os.path.join(root, "mask"))            # inside: masked
    os.symlink(str(outside / "canary"), os.path.join(root, "mask2"))  # absent inside: skipped
    os.symlink(str(outside), os.path.join(root, "ro"))                # absent inside: skipped
    minimal(spec)["linux"]["maskedPaths"] = ["/mask", "/mask2"]
    spec["linux"]["readonlyPaths"] = ["/ro"]

    def checks():
        with open("/etc/secret") as f:
            return f.read()
    res = build(plan_rootfs(spec, bundle), checks)
    assert_untouched(outside, res)
    assert res["ok"]["checks"] == ""
