"""--rootless: no chown (owners recorded in user.rootlesscontainers as umoci
does), device nodes skipped with a warning, a rootless config.json; and the
same unpack run by an unprivileged user."""

import json
import os
import shutil
import stat
import tempfile

import pytest

from unpack_helpers import assert_same_tree, error_line, images, requires, treecmp, umoci_unpack, unpack

NOBODY = 65534
DEVICES = ("dev/null", "dev/loop9")


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    d = tmp_path_factory.mktemp("rootless")
    path = str(d / "layout")
    images.write_oci_layout(path, images.multilayer_layers(3))
    return path


@requires("umoci")
def test_rootless_matches_umoci_rootless(layout, tmp_path):
    proc = unpack("--rootless", f"oci:{layout}", str(tmp_path / "b"), check=0)
    warnings = [l for l in proc.stderr.splitlines() if "skipping device node" in l]
    assert len(warnings) == 2 and all(l.startswith("pyrunc-unpack: warning: ") for l in warnings)
    umoci_unpack(layout, "latest", str(tmp_path / "u"), rootless=True)
    # umoci leaves an empty placeholder file for each device; we leave nothing.
    tree = assert_same_tree(str(tmp_path / "b" / "rootfs"), str(tmp_path / "u" / "rootfs"), ignore=DEVICES)
    assert not any(os.path.lexists(tmp_path / "b" / "rootfs" / d) for d in DEVICES)
    owned = tree["usr/bin/owned"]
    assert (owned["uid"], owned["gid"]) == (0, 0)
    assert owned["xattrs"]["user.rootlesscontainers"] == b"\x08\xe8\x07\x10\xe8\x07"
    assert "user.rootlesscontainers" not in tree["bin/busybox"]["xattrs"]


def test_rootless_config(layout, tmp_path):
    unpack("--rootless", f"oci:{layout}", str(tmp_path / "b"), check=0)
    with open(tmp_path / "b" / "config.json") as f:
        c = json.load(f)
    types = [n["type"] for n in c["linux"]["namespaces"]]
    assert "user" in types and "network" not in types
    assert c["linux"]["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert "resources" not in c["linux"]


@pytest.fixture
def nobody_dir():
    """A directory an unprivileged user can write (tmp_path's parents are 0700)."""
    d = tempfile.mkdtemp(prefix="pyrunc-unpack-rootless-")
    os.chmod(d, 0o755)
    os.chown(d, NOBODY, NOBODY)
    yield d
    shutil.rmtree(d)


def _readable_copy(layout, dest):
    shutil.copytree(layout, dest)
    for dirpath, dirnames, filenames in os.walk(dest):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)
    return dest


@requires("setpriv")
def test_unprivileged_user(layout, nobody_dir, tmp_path):
    lay = _readable_copy(layout, os.path.join(nobody_dir, "layout"))
    bundle = os.path.join(nobody_dir, "bundle")
    proc = unpack("--rootless", f"oci:{lay}", bundle, user=NOBODY, check=0)
    assert proc.stderr.count("skipping device node") == 2
    # The same tree as root's --rootless run, but owned by the user.
    unpack("--rootless", f"oci:{layout}", str(tmp_path / "root"), check=0)
    mine, ref = treecmp.snapshot(os.path.join(bundle, "rootfs"), True), \
        treecmp.snapshot(str(tmp_path / "root" / "rootfs"), True)
    assert {(r["uid"], r["gid"]) for r in mine.values()} == {(NOBODY, NOBODY)}
    for rec in list(mine.values()) + list(ref.values()):
        rec.pop("uid"), rec.pop("gid")
    assert treecmp.differences(mine, ref) == []
    assert stat.S_IMODE(os.stat(os.path.join(bundle, "rootfs", "private")).st_mode) == 0o555
    with open(os.path.join(bundle, "config.json")) as f:
        assert json.load(f)["linux"]["uidMappings"][0]["hostID"] == NOBODY


@requires("setpriv")
def test_unprivileged_failure_cleans_up(nobody_dir):
    """A layer that fails after making a read-only directory with contents:
    the unprivileged user still removes the whole bundle."""
    lay = os.path.join(nobody_dir, "layout")
    ro = images.tar_layer([{"name": "ro", "type": "dir", "mode": 0o755}, {"name": "ro/sub", "type": "dir"},
                           {"name": "ro/sub/f", "data": b"x"}, {"name": "ro/sub", "type": "dir", "mode": 0o500},
                           {"name": "ro", "type": "dir", "mode": 0o500}])
    images.write_oci_layout(lay, [images.busybox_layer(), ro, b"not a tar at all" * 64],
                            compression="")
    for dirpath, dirnames, filenames in os.walk(lay):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)
    bundle = os.path.join(nobody_dir, "bundle")
    proc = unpack("--rootless", f"oci:{lay}", bundle, user=NOBODY, check=1)
    assert "layer 3/3" in error_line(proc)
    assert not os.path.lexists(bundle)
