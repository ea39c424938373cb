"""podman 4 + conmon with the runtime under test given by path (--runtime), cgroupfs, no network."""

import time

import pytest

import engine_host as host
from engine_images import GREETING

pytestmark = pytest.mark.engines

BUSYBOX = "docker.io/pyrunc-test/busybox:latest"    # loaded from the oci-archive
HELLO = "localhost/hello-world:latest"              # loaded from the docker-archive
TRAPPER = ["sh", "-c", 'trap "exit 0" TERM; trap "exit 42" USR1; echo ready; '
                       'while :; do sleep 0.1; done']
# capability numbers (capability.h) for turning podman's names into the kernel's bit mask
CAP_BITS = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
    "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
}


def run(podman, *args, check=True):
    return podman.cli("run", "--rm", *podman.run_opts(), *args, check=check)


def detached(podman, name, *args):
    return podman.cli("run", "--detach", "--name", name, *podman.run_opts(), *args).stdout.strip()


def proc_status(podman, *opts):
    out = run(podman, *opts, BUSYBOX, "cat", "/proc/self/status").stdout
    return {k: v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def wait_logs(podman, name, text, timeout=15):
    deadline = time.monotonic() + timeout
    while text not in (logs := podman.cli("logs", name).stdout):
        assert time.monotonic() < deadline, f"{text!r} not in logs of {name}: {logs!r}"
        time.sleep(0.05)


def test_load_both_formats(podman):
    listed = podman.cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert {BUSYBOX, HELLO} <= set(listed)


def test_run_hello(podman):
    done = run(podman, HELLO)
    assert GREETING in done.stdout


def test_exit_code(podman):
    assert run(podman, BUSYBOX, "sh", "-c", "exit 3", check=False).returncode == 3


def test_runtime_error_reported_as_json(podman):
    # with the runtime in runtime_supports_json, podman reads the error from the runtime's
    # --log FILE (json) and maps "not found" errors to 127
    done = run(podman, BUSYBOX, "/no/such/binary", check=False)
    assert done.returncode == 127, done.stderr
    assert "/no/such/binary" in done.stderr


def test_detached_exec_logs(podman, name):
    cid = detached(podman, name, BUSYBOX, "sh", "-c", "echo started; exec sleep 1000")
    try:
        assert name in podman.cli("ps", "--format", "{{.Names}}").stdout.split()
        info = podman.inspect(name)[0]
        pid = info["State"]["Pid"]
        # runtime_supports_json names "pyrunc": conmon hands the runtime a json --log
        with open(f"/proc/{info['State']['ConmonPid']}/cmdline", "rb") as f:
            conmon_args = f.read().split(b"\0")
        assert b"--log-format=json" in conmon_args and podman.wrapper.encode() in conmon_args
        state = podman.runtime_state(podman.runtime_root, cid)
        assert (state["status"], state["pid"]) == ("running", pid)
        assert podman.cli("exec", name, "id", "-u").stdout == "0\n"
        assert podman.cli("exec", "--user", "1000", name, "id", "-un").stdout == "tester\n"
        assert podman.cli("exec", name, "sh", "-c", "exit 5", check=False).returncode == 5
        top = podman.cli("top", name, "pid", "args").stdout
        assert "sleep 1000" in top, top
        wait_logs(podman, name, "started\n")
    finally:
        podman.cli("rm", "--force", "--time", "0", name)


def test_pause_unpause(podman, name):
    cid = detached(podman, name, BUSYBOX, "sleep", "1000")
    cgroup = f"{podman.cgroup_parent}/libpod-{cid}"
    try:
        podman.cli("pause", name)
        assert podman.inspect(name)[0]["State"]["Status"] == "paused"
        assert host.read_cgroup(cgroup, "freezer/freezer.state", "cgroup.freeze") in ("FROZEN", "1")
        podman.cli("unpause", name)
        assert podman.inspect(name)[0]["State"]["Status"] == "running"
        assert podman.cli("exec", name, "echo", "thawed").stdout == "thawed\n"
    finally:
        podman.cli("rm", "--force", "--time", "0", name)


def test_update(podman, name):
    cid = detached(podman, name, "--memory", "64m", BUSYBOX, "sleep", "1000")
    cgroup = f"{podman.cgroup_parent}/libpod-{cid}"
    try:
        limit = lambda: int(host.read_cgroup(cgroup, "memory/memory.limit_in_bytes", "memory.max"))
        assert limit() == 64 << 20
        podman.cli("update", "--memory", "128m", "--memory-swap", "256m", name)
        assert limit() == 128 << 20
    finally:
        podman.cli("rm", "--force", "--time", "0", name)


def test_stop_restart(podman, name):
    detached(podman, name, BUSYBOX, *TRAPPER)
    try:
        wait_logs(podman, name, "ready")
        first = podman.inspect(name)[0]["State"]["Pid"]
        started = time.monotonic()
        podman.cli("stop", "--time", "20", name)
        assert time.monotonic() - started < 10   # SIGTERM reached the trap
        assert podman.inspect(name)[0]["State"]["ExitCode"] == 0
        podman.cli("restart", name)
        state = podman.inspect(name)[0]["State"]
        assert state["Running"] and state["Pid"] not in (0, first)
        assert podman.cli("exec", name, "echo", "again").stdout == "again\n"
    finally:
        podman.cli("rm", "--force", "--time", "0", name)


def test_kill(podman, name):
    detached(podman, name, BUSYBOX, *TRAPPER)
    try:
        wait_logs(podman, name, "ready")
        podman.cli("kill", "--signal", "USR1", name)
        assert podman.cli("wait", name).stdout.strip() == "42"
    finally:
        podman.cli("rm", "--force", "--time", "0", name)


def test_rm_force_running(podman, name):
    cid = detached(podman, name, BUSYBOX, "sleep", "1000")
    pid = podman.inspect(name)[0]["State"]["Pid"]
    podman.cli("rm", "--force", "--time", "0", name)
    assert cid not in podman.containers()
    assert not host.live(pid)


def test_read_only_with_tmpcopyup(podman):
    # podman mounts tmpfs on /tmp, /var/tmp and /run with its own option "tmpcopyup": the runtime
    # copies what the image has there into the new tmpfs
    done = run(podman, "--read-only", BUSYBOX, "sh", "-c",
               "touch /written; echo root=$?; touch /tmp/t /run/r /var/tmp/v && echo tmpfs-ok; "
               "cat /var/tmp/from-image; grep ' /var/tmp ' /proc/mounts", check=False)
    lines = done.stdout.splitlines()
    assert lines[:3] == ["root=1", "tmpfs-ok", "copied up"], done
    assert lines[3].startswith("tmpfs /var/tmp tmpfs "), done
    assert "Read-only file system" in done.stderr


@pytest.mark.parametrize("user, expected", [
    ("1000:1000", "uid=1000(tester) gid=1000(tester)"),
    ("nobody", "uid=65534(nobody) gid=65534(nobody)"),
])
def test_user(podman, user, expected):
    assert run(podman, "--user", user, BUSYBOX, "id").stdout.startswith(expected)


def test_cap_drop(podman):
    status = proc_status(podman, "--cap-drop", "ALL")
    assert {status[k] for k in ("CapEff", "CapBnd", "CapPrm")} == {"0000000000000000"}
    default = int(proc_status(podman)["CapBnd"], 16)
    assert default & 1 << CAP_BITS["CAP_CHOWN"]
    assert int(proc_status(podman, "--cap-drop", "CHOWN")["CapBnd"], 16) == \
        default & ~(1 << CAP_BITS["CAP_CHOWN"])


def test_default_security(podman, name):
    detached(podman, name, BUSYBOX, "sleep", "1000")
    try:
        info = podman.inspect(name)[0]
        out = podman.cli("exec", name, "cat", "/proc/1/status").stdout
        status = {k: v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}
    finally:
        podman.cli("rm", "--force", "--time", "0", name)
    expected = sum(1 << CAP_BITS[c] for c in info["BoundingCaps"])
    assert int(status["CapBnd"], 16) == expected
    assert int(status["CapEff"], 16) == sum(1 << CAP_BITS[c] for c in info["EffectiveCaps"])
    assert status["Seccomp"] == "2" and int(status["Seccomp_filters"]) >= 1
    assert status["NoNewPrivs"] == "0"
