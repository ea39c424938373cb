"""containerd + ctr, shim io.containerd.runc.v2 running the runtime under test as its runc binary."""

import subprocess
import time

import pytest

import engine_host as host
from engine_images import GREETING, PATH_ENV, qualified

pytestmark = pytest.mark.engines

BUSYBOX = f"{qualified('pyrunc-test/busybox')}:latest"
HELLO = f"{qualified('hello-world')}:latest"


def run(ctr, name, *command, opts=(), image=BUSYBOX, check=False):
    """``ctr run --rm`` in the foreground; returns the CompletedProcess (rc = the container's)."""
    return ctr.cli("run", "--rm", *ctr.run_opts(name), *opts, image, name, *command,
                   check=check)


def exec_in(ctr, *args, check=True):
    """``ctr task exec`` with its fifos in the tmp dir; args are exec's options, id, command."""
    return ctr.cli("tasks", "exec", *ctr.fifo_opts(), *args, check=check)


def test_import_local_images(ctr):
    listed = ctr.cli("images", "list", "--quiet").stdout.split()
    assert BUSYBOX in listed      # from the oci-archive
    assert HELLO in listed        # from the docker-archive


def test_run_hello(ctr, name):
    done = run(ctr, name, image=HELLO)
    assert done.returncode == 0, done.stderr
    assert GREETING in done.stdout


@pytest.mark.parametrize("status", [3, 255])
def test_exit_code(ctr, name, status):
    done = run(ctr, name, "sh", "-c", f"exit {status}")
    assert done.returncode == status, done.stderr


def test_missing_executable_reports_error(ctr, name):
    # the shim reads the runtime's --log (json) to explain a failed create
    done = run(ctr, name, "/no/such/binary")
    ctr.cli("containers", "delete", name, check=False)
    assert done.returncode != 0
    assert "/no/such/binary" in done.stderr


def test_env_and_cwd(ctr, name):
    done = run(ctr, name, "sh", "-c", 'echo "$GREETING_VAR"; pwd',
               opts=["--env", "GREETING_VAR=from env", "--cwd", "/home/tester"], check=True)
    assert done.stdout.splitlines() == ["from env", "/home/tester"]


def test_read_only_rootfs(ctr, name):
    done = run(ctr, name, "sh", "-c", "touch /written; echo status=$?", opts=["--read-only"])
    assert done.returncode == 0, done.stderr
    assert "status=1" in done.stdout
    assert "Read-only file system" in done.stderr


def test_detached_exec_and_ps(ctr, name, runtime):
    pid = ctr.run_detached(name, BUSYBOX, "sleep", "1000")
    try:
        state = ctr.runtime_state(ctr.runtime_roots()[0], name)
        assert (state["status"], state["pid"]) == ("running", pid)

        done = exec_in(ctr, "--exec-id", "e1", name, "sh", "-c", "id -u; echo $PATH")
        assert done.stdout.splitlines() == ["0", PATH_ENV.partition("=")[2]]
        done = exec_in(ctr, "--exec-id", "e2", "--user", "1000", name, "id")
        assert done.stdout.startswith("uid=1000(tester) gid=1000(tester)")
        done = exec_in(ctr, "--exec-id", "e3", name, "sh", "-c", "exit 7", check=False)
        assert done.returncode == 7

        exec_in(ctr, "--detach", "--exec-id", "e4", name, "sleep", "1001")
        pids = [int(line.split()[0]) for line in
                ctr.cli("tasks", "ps", name).stdout.splitlines()[1:]]
        assert pid in pids and len(pids) == 2, pids
    finally:
        ctr.remove(name)


def test_exec_tty(ctr, name):
    ctr.run_detached(name, BUSYBOX, "sleep", "1000")
    try:
        argv = ctr.argv("tasks", "exec", *ctr.fifo_opts(), "--tty", "--exec-id", "t1", name,
                        "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty")
        rc, out = host.run_in_pty(argv)
        assert rc == 0, out
        assert "/dev/pts/0" in out
        assert "stdin-is-a-tty" in out
    finally:
        ctr.remove(name)


def test_tty_run(ctr, name):
    rc, out = host.run_in_pty(ctr.argv("run", "--rm", "--tty", *ctr.run_opts(name), BUSYBOX,
                                       name, "sh"), send=b"echo hi-$((6*7)); exit 3\n")
    assert rc == 3, out
    assert "hi-42" in out


def test_metrics_and_memory_limit(ctr, name):
    ctr.require_shim_cgroups()
    limit = 64 * 1024 * 1024
    for attempt in range(3):
        offset = ctr.log_offset()
        ctr.run_detached(name, BUSYBOX, "sleep", "1000", opts=["--memory-limit", str(limit)])
        try:
            cgroup = f"{ctr.cgroup_parent}/{name}"
            assert int(host.read_cgroup(cgroup, "memory/memory.limit_in_bytes", "memory.max")) == limit
            metrics = metrics_of(ctr, name, check=False)
        finally:
            ctr.remove(name)
        if metrics is not None or not ctr.shim_lost_cgroup(offset):
            break
    assert metrics is not None, "ctr task metrics: no metrics received"
    assert str(limit) in metrics   # the shim read it back from the cgroup
    if not host.unified():
        values = dict(line.split()[:2] for line in metrics.splitlines() if line.strip())
        assert int(values["memory.limit_in_bytes"]) == limit, metrics
        assert int(values["pids.current"]) == 1, metrics


def metrics_of(ctr, name, timeout=2, check=True):
    """``ctr task metrics`` output, or None when the shim has none for the task."""
    deadline = time.monotonic() + timeout
    while True:
        done = ctr.cli("tasks", "metrics", name, check=check and time.monotonic() > deadline)
        if done.returncode == 0:
            return done.stdout
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


def test_pause_resume(ctr, name):
    ctr.run_detached(name, BUSYBOX, "sleep", "1000")
    cgroup = f"{ctr.cgroup_parent}/{name}"
    try:
        ctr.cli("tasks", "pause", name)
        ctr.wait_status(name, "PAUSED")
        assert ctr.runtime_state(ctr.runtime_roots()[0], name)["status"] == "paused"
        assert host.read_cgroup(cgroup, "freezer/freezer.state", "cgroup.freeze") in ("FROZEN", "1")
        ctr.cli("tasks", "resume", name)
        ctr.wait_status(name, "RUNNING")
        assert host.read_cgroup(cgroup, "freezer/freezer.state", "cgroup.freeze") in ("THAWED", "0")
        done = exec_in(ctr, "--exec-id", "after", name, "echo", "thawed")
        assert done.stdout == "thawed\n"
    finally:
        ctr.remove(name)


def test_kill_with_signal(ctr, name):
    # pid 1 of a pid namespace ignores signals it has no handler for: the trap installs one
    proc = subprocess.Popen(
        ctr.argv("run", "--rm", *ctr.run_opts(name), BUSYBOX, name, "sh", "-c",
                 'trap "exit 42" USR1; echo ready; while :; do sleep 0.1; done'),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        ctr.cli("tasks", "kill", "--signal", "SIGUSR1", name)
        assert proc.wait(timeout=20) == 42
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            ctr.remove(name)


def test_kill_all(ctr, name):
    ctr.run_detached(name, BUSYBOX, "sleep", "1000")
    exec_in(ctr, "--detach", "--exec-id", "extra", name, "sleep", "1001")
    cgroup = f"{ctr.cgroup_parent}/{name}"
    assert len(host.read_cgroup(cgroup, "pids/cgroup.procs", "cgroup.procs").split()) == 2
    try:
        # SIGTERM to pid 1 alone would be ignored (no handler); --all signals every process
        ctr.cli("tasks", "kill", "--all", "--signal", "SIGKILL", name)
        ctr.wait_status(name, "STOPPED")
    finally:
        ctr.remove(name)


def test_sigterm_to_init_without_handler_is_ignored(ctr, name):
    ctr.run_detached(name, BUSYBOX, "sleep", "1000")
    try:
        ctr.cli("tasks", "kill", "--signal", "SIGTERM", name)
        with pytest.raises(AssertionError):
            ctr.wait_status(name, "STOPPED", timeout=1)
    finally:
        ctr.remove(name)
