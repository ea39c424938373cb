"""Namespaces: created, joined by path; hostname, domainname, sysctl."""

import os
import subprocess

import pytest


def ns_inode(pid, kind):
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


def test_new_namespaces_differ_from_host(rt):
    b = rt.bundle(args=["sleep", "30"])
    cid = rt.new_id()
    rt("run", "-d", "--bundle", b, cid, check=True)
    pid = rt.state(cid)["pid"]
    for kind in ("pid", "net", "ipc", "uts", "mnt", "cgroup"):
        assert ns_inode(pid, kind) != ns_inode(os.getpid(), kind), kind
    assert ns_inode(pid, "user") == ns_inode(os.getpid(), "user")


def test_pid_one(rt):
    p = rt.run(args=["sh", "-c", "echo $$"])
    assert p.stdout == "1\n"


def test_join_namespace_by_path(rt):
    b = rt.bundle(args=["sleep", "30"])
    first = rt.new_id()
    rt("run", "-d", "--bundle", b, first, check=True)
    pid = rt.state(first)["pid"]
    cfg = rt.config(["hostname"])
    cfg["linux"]["namespaces"] = [
        {"type": "uts", "path": f"/proc/{pid}/ns/uts"} if n["type"] == "uts"
        else {"type": "network", "path": f"/proc/{pid}/ns/net"} if n["type"] == "network"
        else n for n in cfg["linux"]["namespaces"]]
    cfg.pop("hostname")
    p = rt.run(cfg)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "pyrunc\n"  # the first container's hostname


def test_hostname_domainname(rt):
    cfg = rt.config(["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"])
    cfg["hostname"] = "box"
    cfg["domainname"] = "example.org"
    p = rt.run(cfg)
    assert p.stdout == "box\nexample.org\n", p.stderr


def test_sysctl(rt):
    cfg = rt.config(["cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmni"])
    cfg["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}
    p = rt.run(cfg)
    assert p.stdout == "1\n1234\n", p.stderr


def test_loopback_is_up(rt):
    p = rt.run(args=["cat", "/sys/class/net/lo/operstate", "/sys/class/net/lo/flags"])
    lines = p.stdout.split()
    assert int(lines[1], 16) & 1, p.stdout


def test_user_namespace_mappings(rt):
    cfg = rt.config(["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u"])
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    # sysfs needs a network namespace owned by the user namespace: keep network new
    p = rt.run(cfg)
    assert p.returncode == 0, p.stderr
    lines = [ln.split() for ln in p.stdout.strip().splitlines()]
    assert lines[0] == ["0", "100000", "65536"]
    assert lines[1] == ["0", "100000", "65536"]
    assert lines[2] == ["0"]


def test_time_namespace_offsets(rt):
    if not os.path.exists("/proc/self/ns/time"):
        pytest.skip("requires a kernel with time namespaces")
    cfg = rt.config(["cat", "/proc/uptime"])
    cfg["linux"]["namespaces"].append({"type": "time"})
    cfg["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 365, "nanosecs": 0}}
    p = rt.run(cfg)
    assert p.returncode == 0, p.stderr
    assert float(p.stdout.split()[0]) > 86400 * 365


@pytest.mark.parametrize("prop,tag", [("unbindable", "unbindable"), ("rprivate", None),
                                      ("rshared", "shared:")])
def test_rootfs_propagation(rt, prop, tag):
    cfg = rt.config(["awk", "$5 == \"/\"", "/proc/self/mountinfo"])
    cfg["linux"]["rootfsPropagation"] = prop
    p = rt.run(cfg)
    assert p.returncode == 0, p.stderr
    fields = p.stdout.split(" - ")[0].split()[6:]
    if tag is None:
        assert not any(f.startswith(("shared:", "master:")) or f == "unbindable" for f in fields), fields
    else:
        assert any(f.startswith(tag) for f in fields), fields
