"""Every SOURCE form unpacks the same busybox tree, identical to umoci's."""

import json
import os
import subprocess
import uuid

import pytest

from unpack_helpers import assert_same_tree, error_line, images, requires, umoci_unpack, unpack


@pytest.fixture(scope="module")
def busybox(tmp_path_factory):
    d = tmp_path_factory.mktemp("busybox")
    return {
        "layout": images.busybox_oci_layout(str(d / "layout")),
        "archive": images.busybox_oci_archive(str(d / "bb-oci.tar")),
        "docker": images.busybox_docker_archive(str(d / "bb-docker.tar")),
        "dir": d,
    }


@pytest.fixture(scope="module")
def reference(busybox):
    """The tree our own oci: unpack produces, for the other forms to match."""
    bundle = str(busybox["dir"] / "reference")
    unpack(f"oci:{busybox['layout']}:latest", bundle, check=0)
    return bundle


@pytest.mark.parametrize("form", ["oci", "oci-noref", "oci-archive", "oci-archive-ref", "docker-archive",
                                  "docker-archive-tag", "bare-layout", "bare-oci-archive",
                                  "bare-docker-archive"])
def test_each_source_form(busybox, reference, tmp_path, form):
    source = {
        "oci": f"oci:{busybox['layout']}:latest",
        "oci-noref": f"oci:{busybox['layout']}",
        "oci-archive": f"oci-archive:{busybox['archive']}",
        "oci-archive-ref": f"oci-archive:{busybox['archive']}:latest",
        "docker-archive": f"docker-archive:{busybox['docker']}",
        "docker-archive-tag": f"docker-archive:{busybox['docker']}:busybox:latest",
        "bare-layout": busybox["layout"],
        "bare-oci-archive": busybox["archive"],
        "bare-docker-archive": busybox["docker"],
    }[form]
    unpack(source, str(tmp_path / "b"), check=0)
    assert_same_tree(str(tmp_path / "b" / "rootfs"), os.path.join(reference, "rootfs"))
    with open(tmp_path / "b" / "config.json") as f:
        assert json.load(f)["process"]["args"] == ["/bin/hello"]


@requires("umoci")
def test_busybox_matches_umoci(busybox, reference, tmp_path):
    umoci_unpack(busybox["layout"], "latest", str(tmp_path / "u"))
    assert_same_tree(os.path.join(reference, "rootfs"), str(tmp_path / "u" / "rootfs"))


@pytest.mark.parametrize("compression", ["", "gzip", "zstd"])
def test_compressions(tmp_path, compression):
    if compression == "zstd" and not __import__("shutil").which("zstd"):
        pytest.skip("requires zstd")
    layout = str(tmp_path / "layout")
    images.write_oci_layout(layout, images.multilayer_layers(5), compression=compression)
    unpack(f"oci:{layout}:latest", str(tmp_path / "b"), check=0)
    assert (tmp_path / "b" / "rootfs" / "opt" / "old" / "new").read_bytes() == b"new\n"


@requires("umoci")
def test_multilayer_matches_umoci(tmp_path):
    """Whiteouts, opaque dirs, hardlinks, type changes, devices, fifos, modes,
    owners and xattrs: the same tree as umoci, path by path."""
    layout = str(tmp_path / "layout")
    images.write_oci_layout(layout, images.multilayer_layers())
    proc = unpack(f"oci:{layout}:latest", str(tmp_path / "b"), check=0)
    assert proc.stderr == ""
    umoci_unpack(layout, "latest", str(tmp_path / "u"))
    tree = assert_same_tree(str(tmp_path / "b" / "rootfs"), str(tmp_path / "u" / "rootfs"))
    # And the rules themselves, so the test fails even if umoci changes.
    assert "data/remove" not in tree and "data/dir-remove" not in tree
    assert "opt/old/a" not in tree and "opt/old/sub" not in tree and "opt/old/new" in tree
    assert "layer3/made-here" in tree
    assert "usr/share/d2/again" in tree and "usr/share/d2/f0" not in tree
    assert "usr/share/d3" in tree and not [p for p in tree if p.startswith("usr/share/d3/")]
    assert tree["usr/bin/setuid"]["mode"] == 0o4755
    assert tree["usr/bin/setgid"]["mode"] == 0o2711 and tree["usr/bin/setgid"]["uid"] == 1000
    assert tree["usr/bin/xattr"]["xattrs"] == {"user.pyrunc": b"value"}
    assert tree["etc/alt"]["type"] == 0o100000
    assert tree["private"]["mode"] == 0o555 and tree["private/added"]["size"] > 0
    st = [os.lstat(tmp_path / "b" / "rootfs" / p) for p in ("usr/bin/owned", "usr/bin/hl2", "usr/bin/hl3")]
    assert len({(s.st_dev, s.st_ino) for s in st}) == 1 and st[0].st_nlink == 3
    assert os.major(tree["dev/null"]["rdev"]) == 1 and tree["dev/loop9"]["gid"] == 6
    assert (tmp_path / "b" / "rootfs" / "implicit" / "parent").stat().st_mode & 0o7777 == 0o755


def test_mtimes_restored(tmp_path):
    layout = str(tmp_path / "layout")
    images.write_oci_layout(layout, images.multilayer_layers(2))
    unpack(f"oci:{layout}:latest", str(tmp_path / "b"), check=0)
    root = tmp_path / "b" / "rootfs"
    for rel in ("bin/busybox", "usr/share/d0", "usr/bin", "etc/passwd"):
        assert os.lstat(root / rel).st_mtime == images.MTIME, rel
    assert os.lstat(root / "bin" / "sh").st_mtime == images.MTIME


def test_config_conversion(tmp_path):
    layout = str(tmp_path / "layout")
    images.write_oci_layout(layout, [images.busybox_layer()], entrypoint=["/bin/sh", "-c"],
                            cmd=["echo hi"], env=["PATH=/bin", "FOO=bar"], user="daemon",
                            workdir="/tmp", labels={"com.example.label": "x"},
                            volumes=["/data"], StopSignal="SIGTERM")
    unpack(f"oci:{layout}:latest", str(tmp_path / "b"), check=0)
    with open(tmp_path / "b" / "config.json") as f:
        c = json.load(f)
    p = c["process"]
    assert p["args"] == ["/bin/sh", "-c", "echo hi"]
    assert p["env"] == ["PATH=/bin", "FOO=bar", "HOME=/usr/sbin"]
    assert p["cwd"] == "/tmp" and p["terminal"] is False
    assert p["user"] == {"uid": 1, "gid": 1, "additionalGids": [100]}
    a = c["annotations"]
    assert a["com.example.label"] == "x" and a["org.opencontainers.image.architecture"] == images.host_arch()
    assert a["org.opencontainers.image.os"] == "linux"
    assert a["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"
    assert {"destination": "/data", "type": "tmpfs", "source": "tmpfs",
            "options": ["rw", "nosuid", "nodev", "noexec", "relatime"]} in c["mounts"]
    assert c["root"] == {"path": "rootfs", "readonly": False}
    assert any(n["type"] == "network" for n in c["linux"]["namespaces"])
    assert c["linux"]["maskedPaths"] and c["process"]["capabilities"]["bounding"]


def test_tty_flag(busybox, tmp_path):
    unpack("--tty", f"oci:{busybox['layout']}", str(tmp_path / "b"), check=0)
    with open(tmp_path / "b" / "config.json") as f:
        assert json.load(f)["process"]["terminal"] is True


def test_unknown_user_is_an_error(tmp_path):
    layout = str(tmp_path / "layout")
    images.write_oci_layout(layout, [images.busybox_layer()], user="nosuchuser")
    proc = unpack(f"oci:{layout}", str(tmp_path / "b"), check=1)
    assert "config.User" in error_line(proc) and "nosuchuser" in proc.stderr
    assert not (tmp_path / "b").exists()


@requires("runc")
def test_runc_runs_the_bundle(busybox, tmp_path):
    """config.json is runnable as written (only a test cgroup path added,
    away from the supervisor's cgroup; see HOST-NOTES)."""
    bundle = tmp_path / "b"
    unpack(f"oci:{busybox['layout']}", str(bundle), check=0)
    with open(bundle / "config.json") as f:
        config = json.load(f)
    name = f"pyrunc-unpack-{uuid.uuid4().hex[:8]}"
    config["linux"]["cgroupsPath"] = f"/{name}"
    with open(bundle / "config.json", "w") as f:
        json.dump(config, f)
    root = tmp_path / "runc-root"
    try:
        proc = subprocess.run(["runc", "--root", str(root), "run", "-b", str(bundle), name],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    finally:
        subprocess.run(["runc", "--root", str(root), "delete", "--force", name],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == images.GREETING + "\n"


@pytest.mark.skipif(not os.path.exists(os.path.join(os.path.dirname(__file__), "..", "..", "runtime",
                                                    "cli", "__init__.py")), reason="requires bin/pyrunc")
def test_pyrunc_runs_the_bundle(busybox, tmp_path):
    from unpack_helpers import ROOT
    bundle = tmp_path / "b"
    unpack(f"oci:{busybox['layout']}", str(bundle), check=0)
    with open(bundle / "config.json") as f:
        config = json.load(f)
    name = f"pyrunc-unpack-{uuid.uuid4().hex[:8]}"
    config["linux"]["cgroupsPath"] = f"/{name}"
    with open(bundle / "config.json", "w") as f:
        json.dump(config, f)
    root = tmp_path / "state"
    pyrunc = os.path.join(ROOT, "bin", "pyrunc")
    try:
        proc = subprocess.run([pyrunc, "--root", str(root), "run", "-b", str(bundle), name],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    finally:
        subprocess.run([pyrunc, "--root", str(root), "delete", "--force", name],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == images.GREETING + "\n"
