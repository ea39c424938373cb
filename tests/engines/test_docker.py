"""dockerd with the runtime under test registered as ``pyrunc`` and made the default runtime."""

import os
import subprocess
import time

import pytest

import engine_host as host
from engine_images import GREETING

pytestmark = pytest.mark.engines

BUSYBOX = "pyrunc-test/busybox"
# a shell that reports readiness and leaves on SIGTERM (status 0) or SIGUSR1 (status 42); as pid 1
# without a trap it would ignore both
TRAPPER = ["sh", "-c", 'trap "exit 0" TERM; trap "exit 42" USR1; echo ready; '
                       'while :; do sleep 0.1; done']
DEFAULT_CAPS = "00000000a80425fb"   # docker's 14 default capabilities


def proc_status(docker, *opts, keys=("CapEff", "CapBnd", "CapPrm", "Seccomp", "NoNewPrivs")):
    out = docker.cli("run", "--rm", *opts, BUSYBOX, "cat", "/proc/self/status").stdout
    return {k: v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())
            if k in keys}


def wait_logs(docker, container, text, timeout=15):
    deadline = time.monotonic() + timeout
    while text not in (logs := docker.cli("logs", container).stdout):
        assert time.monotonic() < deadline, f"{text!r} not in logs of {container}: {logs!r}"
        time.sleep(0.05)


def cgroup_value(docker, *opts, v1, v2):
    """A cgroup file as a container with ``opts`` sees it (its own cgroup is its /sys/fs/cgroup)."""
    path = f"/sys/fs/cgroup/{v2}" if host.unified() else f"/sys/fs/cgroup/{v1}"
    return docker.cli("run", "--rm", *opts, BUSYBOX, "cat", path).stdout.strip()


def test_images_lists_loaded(docker):
    listed = docker.cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert {"hello-world:latest", f"{BUSYBOX}:latest"} <= set(listed)


def test_run_hello_world(docker, name):
    done = docker.cli("run", "--name", name, "hello-world")
    assert GREETING in done.stdout
    info = docker.inspect(name)
    assert info["HostConfig"]["Runtime"] == "pyrunc"   # default-runtime in daemon.json
    assert info["State"]["ExitCode"] == 0
    docker.cli("rm", name)


def test_ps_all_shows_exit_status(docker, name):
    done = docker.cli("run", "--name", name, BUSYBOX, "sh", "-c", "exit 3", check=False)
    assert done.returncode == 3, done.stderr
    status = docker.cli("ps", "--all", "--filter", f"name={name}", "--format", "{{.Status}}").stdout
    assert status.startswith("Exited (3)"), status
    assert docker.inspect(name)["State"]["ExitCode"] == 3
    docker.cli("rm", name)


def test_explicit_runtime(docker):
    done = docker.cli("run", "--rm", "--runtime", "pyrunc", BUSYBOX, "echo", "explicit")
    assert done.stdout == "explicit\n"


def test_detached_ps_exec_top_logs(docker, name):
    cid = docker.cli("run", "--detach", "--name", name, BUSYBOX, "sh", "-c",
                     "echo started; exec sleep 1000").stdout.strip()
    try:
        assert name in docker.cli("ps", "--format", "{{.Names}}").stdout.split()
        pid = docker.inspect(name)["State"]["Pid"]
        state = docker.runtime_state(docker.runtime_root(), cid)
        assert (state["status"], state["pid"]) == ("running", pid)

        assert docker.cli("exec", name, "id", "-u").stdout == "0\n"
        assert docker.cli("exec", "--user", "1000", name, "id", "-un").stdout == "tester\n"
        assert docker.cli("exec", "--workdir", "/tmp", "--env", "X=y", name, "sh", "-c",
                          'echo "$X $(pwd)"').stdout == "y /tmp\n"
        assert docker.cli("exec", name, "sh", "-c", "exit 5", check=False).returncode == 5

        top = docker.cli("top", name).stdout     # the runtime's `ps` gives the pids
        assert "sleep 1000" in top and str(pid) in top, top
        wait_logs(docker, name, "started\n")
    finally:
        docker.cli("rm", "--force", name)


def test_pause_unpause(docker, name):
    cid = docker.cli("run", "--detach", "--name", name, BUSYBOX, "sleep", "1000").stdout.strip()
    cgroup = f"{docker.cgroup_parent}/{cid}"
    try:
        docker.cli("pause", name)
        assert docker.inspect(name)["State"]["Status"] == "paused"
        assert host.read_cgroup(cgroup, "freezer/freezer.state", "cgroup.freeze") in ("FROZEN", "1")
        docker.cli("unpause", name)
        assert docker.inspect(name)["State"]["Status"] == "running"
        assert docker.cli("exec", name, "echo", "thawed").stdout == "thawed\n"
    finally:
        docker.cli("rm", "--force", name)


def test_update(docker, name):
    cid = docker.cli("run", "--detach", "--name", name, "--memory", "64m", BUSYBOX,
                     "sleep", "1000").stdout.strip()
    cgroup = f"{docker.cgroup_parent}/{cid}"
    try:
        limit = lambda: int(host.read_cgroup(cgroup, "memory/memory.limit_in_bytes", "memory.max"))
        assert limit() == 64 << 20
        docker.cli("update", "--memory", "128m", "--memory-swap", "256m", "--pids-limit", "50", name)
        assert limit() == 128 << 20
        assert host.read_cgroup(cgroup, "pids/pids.max", "pids.max") == "50"
        assert docker.inspect(name)["HostConfig"]["Memory"] == 128 << 20
    finally:
        docker.cli("rm", "--force", name)


def test_stop(docker, name):
    docker.cli("run", "--detach", "--name", name, BUSYBOX, *TRAPPER)
    wait_logs(docker, name, "ready")
    started = time.monotonic()
    docker.cli("stop", "--time", "20", name)
    assert time.monotonic() - started < 10   # SIGTERM reached the trap; no SIGKILL needed
    assert docker.inspect(name)["State"]["ExitCode"] == 0
    docker.cli("rm", name)


def test_restart(docker, name):
    docker.cli("run", "--detach", "--name", name, BUSYBOX, *TRAPPER)
    try:
        first = docker.inspect(name)["State"]["Pid"]
        docker.cli("restart", "--time", "20", name)
        state = docker.inspect(name)["State"]
        assert state["Running"] and state["Pid"] not in (0, first)
        assert docker.cli("exec", name, "echo", "again").stdout == "again\n"
    finally:
        docker.cli("rm", "--force", name)


def test_kill(docker, name):
    docker.cli("run", "--detach", "--name", name, BUSYBOX, *TRAPPER)
    wait_logs(docker, name, "ready")
    docker.cli("kill", "--signal", "USR1", name)
    assert docker.cli("wait", name).stdout.strip() == "42"
    docker.cli("start", name)
    docker.cli("kill", name)                        # SIGKILL by default
    assert docker.cli("wait", name).stdout.strip() == "137"
    docker.cli("rm", name)


def test_rm_force_running(docker, name):
    cid = docker.cli("run", "--detach", "--name", name, BUSYBOX, "sleep", "1000").stdout.strip()
    pid = docker.inspect(name)["State"]["Pid"]
    docker.cli("rm", "--force", name)
    assert cid not in docker.containers()
    assert not host.live(pid)


def test_run_interactive_tty(docker):
    rc, out = host.run_in_pty(docker.argv("run", "--interactive", "--tty", "--rm", BUSYBOX, "sh"),
                              send=b"tty; echo hi-$((6*7)); exit 3\n", env=docker.env)
    assert rc == 3, out
    assert "hi-42" in out and "/dev/pts/0" in out


def test_memory_limit(docker):
    value = cgroup_value(docker, "--memory", "64m", v1="memory/memory.limit_in_bytes",
                         v2="memory.max")
    assert int(value) == 64 << 20


def test_pids_limit(docker):
    done = docker.cli("run", "--rm", "--pids-limit", "10", BUSYBOX, "sh", "-c",
                      "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max;"
                      "for i in $(seq 15); do sleep 2 & done; wait", check=False)
    assert done.stdout.splitlines()[0] == "10", done.stderr
    assert "can't fork" in done.stderr


def test_read_only(docker):
    done = docker.cli("run", "--rm", "--read-only", BUSYBOX, "sh", "-c",
                      "touch /written; echo status=$?", check=False)
    assert "status=1" in done.stdout and "Read-only file system" in done.stderr


@pytest.mark.parametrize("user, expected", [
    ("1000:1000", "uid=1000(tester) gid=1000(tester)"),
    ("nobody", "uid=65534(nobody) gid=65534(nobody)"),
])
def test_user(docker, user, expected):
    assert docker.cli("run", "--rm", "--user", user, BUSYBOX, "id").stdout.startswith(expected)


def test_cap_drop_all(docker):
    status = proc_status(docker, "--cap-drop", "ALL")
    assert {status[k] for k in ("CapEff", "CapBnd", "CapPrm")} == {"0000000000000000"}


def test_default_capabilities_and_seccomp(docker):
    status = proc_status(docker)
    assert status["CapBnd"] == status["CapEff"] == DEFAULT_CAPS
    assert status["Seccomp"] == "2"
    # the default profile allows unshare(2) only with CAP_SYS_ADMIN; without the filter, creating
    # a user namespace needs no capability
    denied = docker.cli("run", "--rm", BUSYBOX, "unshare", "-U", "true", check=False)
    assert denied.returncode != 0 and "Operation not permitted" in denied.stderr
    docker.cli("run", "--rm", "--security-opt", "seccomp=unconfined", BUSYBOX, "unshare", "-U",
               "true")
    assert proc_status(docker, "--security-opt", "seccomp=unconfined")["Seccomp"] == "0"


def test_init(docker):
    done = docker.cli("run", "--rm", "--init", BUSYBOX, "cat", "/proc/1/cmdline")
    assert done.stdout.split("\0")[0] == "/sbin/docker-init"


def test_oom_kill_reported(docker, name):
    # the shim watches the memory cgroup's OOM events only once the task has started: allocate
    # after a pause, with dd as the container's process so that its death is the container's exit
    docker.containerd.require_shim_cgroups()
    for attempt in range(3):
        offset = docker.containerd.log_offset()
        done = docker.cli("run", "--name", name, "--memory", "32m", "--memory-swap", "32m",
                          BUSYBOX, "sh", "-c",
                          "sleep 1; exec dd if=/dev/zero of=/dev/null bs=64M count=1", check=False)
        try:
            assert done.returncode == 137, done.stderr
            deadline = time.monotonic() + 3    # the OOM event may be handled after the exit
            while not (state := docker.inspect(name)["State"])["OOMKilled"] \
                    and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            docker.cli("rm", name)
        if state["OOMKilled"] or not docker.containerd.shim_lost_cgroup(offset):
            break
    assert state["OOMKilled"] is True and state["ExitCode"] == 137, state


def test_build_runs_steps_through_runtime(docker, engine_tmp, name):
    context = os.path.join(engine_tmp, "build-context")
    os.makedirs(context, exist_ok=True)
    with open(os.path.join(context, "Dockerfile"), "w") as f:
        f.write(f"FROM {BUSYBOX}\n"
                'RUN echo "built as $(id -u)" > /built && grep Seccomp: /proc/self/status >> /built\n'
                'RUN ["sh", "-c", "echo second step >> /built"]\n'
                'CMD ["cat", "/built"]\n')
    tag = f"pyrunc-test/built-{name}"
    done = docker.cli("build", "--force-rm", "--tag", tag, context)
    assert "Successfully tagged" in done.stdout, done.stdout
    try:
        out = docker.cli("run", "--rm", tag).stdout.split("\n")
        assert out[:3] == ["built as 0", "Seccomp:\t2", "second step"], out
    finally:
        docker.cli("rmi", tag)
        subprocess.run(["rm", "-rf", context], check=True)
