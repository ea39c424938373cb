"""Fds, cwd and the runtime process: nothing of the host reaches the container."""

import os
import subprocess

import pytest


def test_inherited_fds_are_closed(rt):
    """Engines leave fds open (containerd's shim: 3 and 4): none may reach the container."""
    r, w = os.pipe()
    os.set_inheritable(r, True)
    os.set_inheritable(w, True)
    try:
        b = rt.bundle(args=["ls", "/proc/self/fd"])
        cid = rt.new_id()
        p = subprocess.run(rt.cmd("run", "--bundle", b, cid), capture_output=True, text=True,
                           pass_fds=(r, w), timeout=30)
    finally:
        os.close(r)
        os.close(w)
    assert p.returncode == 0, p.stderr
    assert sorted(int(x) for x in p.stdout.split()) == [0, 1, 2, 3]  # 3: ls's own dir fd


def test_preserve_fds(rt, tmp_path):
    f = tmp_path / "data"
    f.write_text("preserved\n")
    b = rt.bundle(args=["sh", "-c", "cat <&3; ls /proc/self/fd"])
    cid = rt.new_id()
    # fd 3 of pyrunc is the file; with --preserve-fds 1 the container gets it too.
    p = subprocess.run(["sh", "-c", 'exec "$@" 3<"$F"', "sh"] + rt.cmd("run", "--preserve-fds", "1",
                       "--bundle", b, cid), env={"F": str(f), "PATH": os.environ["PATH"]},
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "preserved"
    assert sorted(int(x) for x in lines[1:]) == [0, 1, 2, 3, 4]  # 4: ls's own dir fd


def test_cwd_is_inside_root(rt):
    p = rt.run(args=["sh", "-c", "readlink /proc/self/cwd; ls /proc/1/cwd/ | head -3"])
    assert p.returncode == 0
    assert p.stdout.splitlines()[0] == "/"


def test_created_init_is_not_dumpable(rt):
    """CVE-2019-5736: while the runtime's process is the container's init, no one
    without CAP_SYS_PTRACE may open /proc/PID/exe (the host's interpreter)."""
    if subprocess.run(["which", "unshare"], capture_output=True).returncode:
        pytest.skip("requires util-linux unshare")
    b = rt.bundle(args=["sleep", "30"])
    cid = rt.new_id()
    rt("create", "--bundle", b, cid, check=True)
    pid = rt.state(cid)["pid"]
    control = subprocess.Popen(["sleep", "30"])
    try:
        probe = "readlink /proc/{}/exe"
        ok = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c",
                             probe.format(control.pid)], capture_output=True, text=True)
        assert ok.returncode == 0, ok.stderr  # the probe can read a dumpable process
        denied = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c",
                                 probe.format(pid)], capture_output=True, text=True)
        assert denied.returncode != 0 and "ermission denied" in denied.stderr
    finally:
        control.kill()
        control.wait()
