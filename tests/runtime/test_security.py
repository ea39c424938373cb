"""Fds, cwd and the runtime process: nothing of the host reaches the container."""

import os
import subprocess
import time



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
    """CVE-2019-5736: while the runtime's own process is the container's init it is
    non-dumpable, so no process of the container's user can open /proc/PID/exe
    (the host's interpreter).  The kernel shows it: a non-dumpable process's
    /proc/PID entries belong to root instead of its own uid (proc(5))."""
    cfg = rt.config(["sleep", "30"])
    cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
    b = rt.bundle(cfg)
    cid = rt.new_id()
    rt("create", "--bundle", b, cid, check=True)
    pid = rt.state(cid)["pid"]
    status = open(f"/proc/{pid}/status").read()
    assert "Uid:\t1000\t1000\t1000" in status  # already the container's user...
    assert os.stat(f"/proc/{pid}/exe", follow_symlinks=False).st_uid == 0  # ...yet not dumpable
    rt("start", cid, check=True)
    for _ in range(100):
        if open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"sleep"):
            break
        time.sleep(0.02)
    # after exec the user's program is dumpable again: its entries are its own
    assert os.stat(f"/proc/{pid}/exe", follow_symlinks=False).st_uid == 1000
