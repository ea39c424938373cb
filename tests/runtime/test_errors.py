"""Bad input: one clear line naming the field or file, exit 1, nothing left behind."""

import json
import os

import pytest


def mounts(*roots):
    """Mount points under the given paths (other work on the host mounts too)."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return sorted(p for p in points if any(p.startswith(str(r)) for r in roots))


def create_fails(rt, cfg, *words):
    before = mounts(rt.tmp, rt.rootfs)
    b = rt.bundle(cfg)
    cid = rt.new_id()
    p = rt("create", "--bundle", b, cid)
    assert p.returncode == 1, p.stdout
    err = p.stderr.strip()
    assert "\n" not in err, err
    for w in words:
        assert w in err, err
    assert os.listdir(rt.root) == [] if os.path.isdir(rt.root) else True
    assert rt("state", cid).returncode == 1
    assert mounts(rt.tmp, rt.rootfs) == before
    return err


def test_missing_config(rt, tmp_path):
    p = rt("create", "--bundle", str(tmp_path), rt.new_id())
    assert p.returncode == 1 and "config.json" in p.stderr and "no such file" in p.stderr


def test_invalid_json(rt, tmp_path):
    (tmp_path / "config.json").write_text("{nope")
    p = rt("create", "--bundle", str(tmp_path), rt.new_id())
    assert p.returncode == 1 and "config.json" in p.stderr and "invalid json" in p.stderr


def test_bad_namespace_type(rt):
    cfg = rt.config(["true"])
    cfg["linux"]["namespaces"].append({"type": "bogus"})
    create_fails(rt, cfg, "config.json", "linux.namespaces[", ".type", "bogus")


def test_hostname_without_uts(rt):
    cfg = rt.config(["true"])
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "uts"]
    create_fails(rt, cfg, "hostname")


def test_mappings_without_user_namespace(rt):
    cfg = rt.config(["true"])
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    create_fails(rt, cfg, "uidMappings")


def test_missing_rootfs(rt, tmp_path):
    cfg = rt.config(["true"])
    cfg["root"]["path"] = str(tmp_path / "nope")
    create_fails(rt, cfg, "root")


def test_relative_cwd(rt):
    cfg = rt.config(["true"])
    cfg["process"]["cwd"] = "relative"
    create_fails(rt, cfg, "process.cwd")


def test_missing_program(rt):
    create_fails(rt, rt.config(["/does/not/exist"]), "/does/not/exist")


def test_bad_mount_option(rt):
    cfg = rt.config(["true"])
    cfg["mounts"].append({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                          "options": ["size=notasize"]})
    create_fails(rt, cfg, "/mnt")


def test_bad_sysctl(rt):
    cfg = rt.config(["true"])
    cfg["linux"]["sysctl"] = {"net.ipv4.no_such_knob": "1"}
    create_fails(rt, cfg, "net.ipv4.no_such_knob")


def test_bad_bind_source(rt, tmp_path):
    cfg = rt.config(["true"])
    cfg["mounts"].append({"destination": "/mnt", "type": "bind", "source": str(tmp_path / "absent"),
                          "options": ["bind"]})
    create_fails(rt, cfg, "mounts[")


def test_check_lists_every_problem(rt, tmp_path):
    cfg = rt.config(["true"])
    cfg["process"]["cwd"] = "relative"
    cfg["linux"]["namespaces"].append({"type": "bogus"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    b = rt.bundle(cfg)
    p = rt("check", b)
    assert p.returncode == 1
    assert len(p.stdout.strip().splitlines()) >= 2, p.stdout
    good = rt.bundle(rt.config(["true"]))
    p = rt("check", good)
    assert p.returncode == 0, p.stdout + p.stderr


def test_intel_rdt_is_refused_on_this_host(rt):
    cfg = rt.config(["true"])
    cfg["linux"]["intelRdt"] = {"closID": "gold"}
    create_fails(rt, cfg, "linux.intelRdt", "not supported")
