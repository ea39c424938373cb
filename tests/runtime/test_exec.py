"""exec: a new process in a running container (runc's exec.go semantics)."""

import json
import os
import signal
import socket
import subprocess
import time

import pytest


def _running(rt, cfg=None, **kw):
    """A detached container whose init sleeps; returns its id."""
    cfg = cfg or rt.config(["sleep", "1000"])
    b = rt.bundle(cfg)
    cid = rt.new_id()
    rt("run", "--detach", "--bundle", b, cid, check=True)
    return cid


def _ns(pid, kind):
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def test_exec_runs_in_every_namespace_of_the_init(rt):
    cid = _running(rt)
    init = rt.state(cid)["pid"]
    p = rt("exec", cid, "sh", "-c",
           "for n in mnt pid net ipc uts cgroup; do readlink /proc/self/ns/$n; done; echo pid=$$",
           check=True)
    lines = p.stdout.split()
    want = [_ns(init, n) for n in ("mnt", "pid", "net", "ipc", "uts", "cgroup")]
    assert lines[:6] == want
    # In the container's pid namespace: a small pid, not the host's.
    assert 1 < int(lines[6].split("=")[1]) < 100


def test_exec_joins_the_container_cgroup(rt):
    cid = _running(rt)
    init = rt.state(cid)["pid"]
    p = rt("exec", cid, "cat", "/proc/self/cgroup", check=True)
    with open(f"/proc/{init}/cgroup") as f:
        want = f.read()
    # The cgroup namespace roots the view at the container's cgroup: compare
    # what the container's init sees with what the exec'd process sees.
    q = rt("exec", cid, "sh", "-c", "cat /proc/1/cgroup", check=True)
    assert p.stdout == q.stdout
    pid_file = rt.tmp / "exec.pid"
    rt("exec", "--detach", "--pid-file", pid_file, cid, "sleep", "30", check=True)
    epid = int(pid_file.read_text())
    try:
        with open(f"/proc/{epid}/cgroup") as f:
            assert f.read() == want
    finally:
        os.kill(epid, signal.SIGKILL)


def test_exec_exit_status_and_signal(rt):
    cid = _running(rt)
    assert rt("exec", cid, "sh", "-c", "exit 7").returncode == 7
    assert rt("exec", cid, "sh", "-c", "kill -TERM $$").returncode == 128 + signal.SIGTERM
    assert rt("exec", cid, "true").returncode == 0


def test_exec_missing_binary_is_255(rt):
    cid = _running(rt)
    p = rt("exec", cid, "no-such-program")
    assert p.returncode == 255
    assert "no-such-program" in p.stderr and "not found" in p.stderr
    p = rt("exec", cid, "/bin/none")
    assert p.returncode == 255 and "no such file" in p.stderr


def test_exec_bad_cwd_is_255(rt):
    cid = _running(rt)
    p = rt("exec", "--cwd", "/nonexistent", cid, "true")
    assert p.returncode == 255 and "/nonexistent" in p.stderr
    p = rt("exec", "--cwd", "relative", cid, "true")
    assert p.returncode == 255 and "absolute" in p.stderr


def test_exec_overrides_env_cwd_user(rt):
    cid = _running(rt)
    p = rt("exec", "--env", "FOO=bar", "-e", "X=1", "--cwd", "/tmp", "--user", "1000:1001",
           "-g", "5", "-g", "6", cid, "sh", "-c", 'echo "$FOO $X $(pwd) $(id -u) $(id -g) $(id -G)"',
           check=True)
    assert p.stdout.split() == ["bar", "1", "/tmp", "1000", "1001", "1001", "5", "6"]
    # The config's env is kept and extended.
    p = rt("exec", cid, "sh", "-c", "echo $PATH", check=True)
    assert "/bin" in p.stdout


def test_exec_bad_user_is_an_error(rt):
    cid = _running(rt)
    p = rt("exec", "--user", "root", cid, "true")
    assert p.returncode == 255 and "uid" in p.stderr


def test_exec_caps_and_no_new_privs(rt):
    cfg = rt.config(["sleep", "1000"])
    cfg["process"]["noNewPrivileges"] = False
    cid = _running(rt, cfg)
    p = rt("exec", cid, "grep", "-E", "^(CapBnd|NoNewPrivs)", "/proc/self/status", check=True)
    base = dict(line.split(":\t") for line in p.stdout.splitlines())
    assert base["NoNewPrivs"] == "0"
    p = rt("exec", "--cap", "CAP_SYS_ADMIN", "--no-new-privs", cid, "grep", "-E",
           "^(CapBnd|CapEff|NoNewPrivs)", "/proc/self/status", check=True)
    got = dict(line.split(":\t") for line in p.stdout.splitlines())
    assert got["NoNewPrivs"] == "1"
    sys_admin = 1 << 21
    assert not int(base["CapBnd"], 16) & sys_admin
    assert int(got["CapBnd"], 16) & sys_admin and int(got["CapEff"], 16) & sys_admin
    # An unknown capability is skipped with a warning, as runc does.
    p = rt("exec", "--cap", "CAP_NOPE", cid, "true")
    assert p.returncode == 0 and "CAP_NOPE" in p.stderr and "warning" in p.stderr


def test_exec_rlimits_from_config(rt):
    cfg = rt.config(["sleep", "1000"])
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}]
    cid = _running(rt, cfg)
    p = rt("exec", cid, "sh", "-c", "ulimit -n; ulimit -Hn", check=True)
    assert p.stdout.split() == ["321", "654"]


def test_exec_process_file_replaces_the_process(rt):
    cid = _running(rt)
    proc = {"args": ["sh", "-c", "echo $ONLY; pwd; id -u"], "env": ["ONLY=me"], "cwd": "/tmp",
            "user": {"uid": 7, "gid": 7}}
    f = rt.tmp / "process.json"
    f.write_text(json.dumps(proc))
    p = rt("exec", "--process", f, cid, check=True)
    assert p.stdout.split() == ["me", "/tmp", "7"]


def test_exec_process_file_errors(rt):
    cid = _running(rt)
    p = rt("exec", "--process", rt.tmp / "missing.json", cid)
    assert p.returncode == 255 and "missing.json" in p.stderr
    bad = rt.tmp / "bad.json"
    bad.write_text("{nope")
    p = rt("exec", "-p", bad, cid)
    assert p.returncode == 255 and "invalid json" in p.stderr
    empty = rt.tmp / "empty.json"
    empty.write_text(json.dumps({"args": [], "cwd": "/"}))
    p = rt("exec", "-p", empty, cid)
    assert p.returncode == 255 and "args" in p.stderr


def test_exec_needs_a_command(rt):
    cid = _running(rt)
    p = rt("exec", cid)
    assert p.returncode == 255 and "args must not be empty" in p.stderr
    p = rt("exec", cid, "--")
    assert p.returncode == 255 and "args must not be empty" in p.stderr


def test_exec_errors_read_like_runc(rt):
    cid = _running(rt)
    p = rt("exec", cid, "nope")
    assert p.stderr.startswith("pyrunc: exec failed: ") and p.returncode == 255


def test_exec_refused_in_stopped_container(rt):
    b = rt.bundle(rt.config(["true"]))
    cid = rt.new_id()
    rt("run", "--keep", "--bundle", b, cid, check=True)
    p = rt("exec", cid, "true")
    assert p.returncode == 255 and "stopped" in p.stderr


def test_exec_unknown_container(rt):
    p = rt("exec", "no-such-container", "true")
    assert p.returncode == 255 and "does not exist" in p.stderr


def test_exec_paused_needs_ignore_paused(rt):
    cid = _running(rt)
    rt("pause", cid, check=True)
    p = rt("exec", cid, "true")
    assert p.returncode == 255 and "paused" in p.stderr
    # With --ignore-paused the process joins the frozen cgroup and runs once resumed.
    out = rt.tmp / "out"
    with open(out, "w") as f:
        proc = subprocess.Popen(rt.cmd("exec", "--ignore-paused", cid, "echo", "thawed"),
                                stdout=f, stderr=subprocess.STDOUT)
        try:
            time.sleep(1)
            assert proc.poll() is None
            rt("resume", cid, check=True)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert out.read_text() == "thawed\n"


def test_exec_detach_and_pid_file(rt):
    cid = _running(rt)
    pid_file = rt.tmp / "p.pid"
    t0 = time.monotonic()
    p = rt("exec", "-d", "--pid-file", pid_file, cid, "sleep", "100")
    assert p.returncode == 0 and time.monotonic() - t0 < 20
    pid = int(pid_file.read_text())
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[:2] == [b"sleep", b"100"]
    os.kill(pid, signal.SIGKILL)


def test_exec_in_created_container(rt):
    b = rt.bundle(rt.config(["true"]))
    cid = rt.new_id()
    rt("create", "--bundle", b, cid, check=True)
    p = rt("exec", cid, "echo", "hi", check=True)
    assert p.stdout == "hi\n"


def test_exec_leaks_no_host_fd_or_cwd(rt):
    # CVE-2024-21626: an fd of the caller (here fd 3+, open on a host file)
    # must not reach the process, and its cwd is inside the container even
    # though the caller's is a host directory.
    cid = _running(rt)
    with open(rt.tmp / "leak", "w") as leak:
        fd = leak.fileno()
        p = rt("exec", cid, "sh", "-c", "ls /proc/self/fd; readlink /proc/self/cwd",
               pass_fds=(fd,), cwd=str(rt.tmp), check=True)
    entries = p.stdout.split()
    assert entries[-1] == "/"
    fds = sorted(int(e) for e in entries[:-1])
    # 0 1 2 and the fd ls itself opens for the directory
    assert fds[:3] == [0, 1, 2] and len(fds) == 4


def test_exec_preserve_fds(rt):
    cid = _running(rt)
    r, w = os.pipe()
    try:
        os.set_inheritable(w, True)
        # fd numbers below 3+N are passed: put ours at 3.
        p = rt("exec", "--preserve-fds", "1", cid, "sh", "-c", "echo through >&3",
               pass_fds=(3,), preexec_fn=lambda: os.dup2(w, 3))
        assert p.returncode == 0, p.stderr
        os.close(w)
        w = None
        assert os.read(r, 100) == b"through\n"
    finally:
        os.close(r)
        if w is not None:
            os.close(w)


def test_exec_forwards_signals(rt):
    cid = _running(rt)
    out = rt.tmp / "sig.out"
    with open(out, "w") as f:
        proc = subprocess.Popen(
            rt.cmd("exec", cid, "sh", "-c", "trap 'echo got-usr1; exit 3' USR1; echo ready; "
                   "while true; do sleep 0.1; done"), stdout=f, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while "ready" not in out.read_text():
                assert time.monotonic() < deadline
                time.sleep(0.05)
            proc.send_signal(signal.SIGUSR1)
            assert proc.wait(30) == 3
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert "got-usr1" in out.read_text()


def test_exec_tty_through_console_socket(rt):
    cid = _running(rt)
    path = str(rt.tmp / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(30)
    try:
        proc = subprocess.Popen(rt.cmd("exec", "-t", "-d", "--console-socket", path, cid,
                                       "sh", "-c", "tty; sleep 0.5"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        conn, _ = srv.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        assert proc.wait(30) == 0, proc.stderr.read()
        master = fds[0]
        try:
            data = b""
            deadline = time.monotonic() + 10
            while b"/dev/pts/" not in data and time.monotonic() < deadline:
                try:
                    data += os.read(master, 1024)
                except OSError:
                    break
            assert b"/dev/pts/" in data
        finally:
            os.close(master)
        proc.stderr.close()
    finally:
        srv.close()


def test_exec_tty_flag_errors(rt):
    cid = _running(rt)
    p = rt("exec", "-t", "-d", cid, "true")
    assert p.returncode == 255 and "console socket" in p.stderr
    p = rt("exec", "--console-socket", str(rt.tmp / "x.sock"), cid, "true")
    assert p.returncode == 255 and "console socket" in p.stderr


def test_exec_foreground_tty_relays(rt):
    cid = _running(rt)
    p = rt("exec", "-t", cid, "sh", "-c", "tty; echo done", check=True)
    assert "/dev/pts/" in p.stdout and "done" in p.stdout


def test_exec_sub_cgroup(rt):
    cfg = rt.config(["sleep", "1000"])
    cid = _running(rt, cfg)
    cg = cfg["linux"]["cgroupsPath"]
    base = f"/sys/fs/cgroup/pids{cg}"
    if not os.path.isdir(base):
        pytest.skip("requires the v1 pids hierarchy")
    os.mkdir(base + "/sub")
    try:
        p = rt("exec", "--cgroup", "pids:sub", cid, "cat", "/proc/self/cgroup", check=True)
        line = [x for x in p.stdout.splitlines() if ":pids:" in x][0]
        assert line.endswith("/sub")
        p = rt("exec", "--cgroup", "pids:nope", cid, "true")
        assert p.returncode == 255 and "no such cgroup" in p.stderr
        p = rt("exec", "--cgroup", "../escape", cid, "true")
        assert p.returncode == 255 and "sub-cgroup" in p.stderr
    finally:
        os.rmdir(base + "/sub")


def test_exec_joins_the_user_namespace_first(rt):
    cfg = rt.config(["sleep", "1000"])
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cid = _running(rt, cfg)
    init = rt.state(cid)["pid"]
    pid_file = rt.tmp / "u.pid"
    rt("exec", "-d", "--pid-file", pid_file, "-u", "5:6", cid, "sleep", "30", check=True)
    epid = int(pid_file.read_text())
    try:
        assert _ns(epid, "user") == _ns(init, "user") != _ns(os.getpid(), "user")
        assert _ns(epid, "mnt") == _ns(init, "mnt")
        with open(f"/proc/{epid}/status") as f:
            st = f.read()
        # uid 5 in the container is host uid 100005.
        assert "\nUid:\t100005\t100005\t100005\t100005" in st
        assert "\nGid:\t100006\t100006\t100006\t100006" in st
    finally:
        os.kill(epid, signal.SIGKILL)
    p = rt("exec", cid, "sh", "-c", "id -u; cat /proc/self/uid_map", check=True)
    assert p.stdout.split() == ["0", "0", "100000", "65536"]


@pytest.mark.skipif(os.path.exists("/sys/kernel/security/apparmor"), reason="host has apparmor")
def test_exec_apparmor_profile_refused_without_apparmor(rt):
    cid = _running(rt)
    p = rt("exec", "--apparmor", "docker-default", cid, "true")
    assert p.returncode == 255 and "apparmor is not enabled" in p.stderr


@pytest.mark.skipif(os.path.exists("/sys/fs/selinux/enforce"), reason="host has selinux")
def test_exec_process_label_refused_without_selinux(rt):
    cid = _running(rt)
    p = rt("exec", "--process-label", "system_u:system_r:container_t:s0", cid, "true")
    assert p.returncode == 255 and "selinux is not enabled" in p.stderr
