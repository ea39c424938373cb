"""linux.seccomp in real containers: every action and operator, Docker's and
Podman's default profiles, NOTIFY with a listener, and exec under the
container's filter.

A tiny static program (built here with gcc) makes raw syscalls whose
arguments the test controls: `sc NR[:A0[:A1...]] ...` prints "ok RET" or
"errno E" per call.  getppid(2) ignores its arguments, so it is a harmless
carrier for argument comparisons (seccomp sees the registers either way).
"""

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
GETPPID = 110      # x86_64
KEYCTL = 250
ADD_KEY = 248
ACCT = 163
UNSHARE = 272
SIGSYS_STATUS = 128 + signal.SIGSYS

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64",
                                reason="syscall numbers here are x86_64's")

_SC_SOURCE = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        unsigned long long a[7] = {0};
        char *s = argv[i], *tok;
        int n = 0;
        while ((tok = strsep(&s, ":")) && n < 7)
            a[n++] = strtoull(tok, 0, 0);
        long r = syscall((long)a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
        if (r < 0) printf("errno %d\n", errno);
        else printf("ok %ld\n", r);
        fflush(stdout);
    }
    return 0;
}
"""


def _helpers():
    path = os.path.join(os.path.dirname(HERE), "seccomp", "helpers.py")
    spec = importlib.util.spec_from_file_location("seccomp_test_helpers", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def sc_dir():
    if not shutil.which("gcc"):
        pytest.skip("requires gcc (to build the syscall helper)")
    d = tempfile.mkdtemp(prefix="pyrunc-sc-")
    os.chmod(d, 0o755)
    src = os.path.join(d, "sc.c")
    with open(src, "w") as f:
        f.write(_SC_SOURCE)
    p = subprocess.run(["gcc", "-static", "-O1", "-o", os.path.join(d, "sc"), src],
                       capture_output=True, text=True)
    os.unlink(src)
    if p.returncode:
        shutil.rmtree(d)
        pytest.skip(f"cannot build a static helper: {p.stderr.strip()[:200]}")
    yield d
    shutil.rmtree(d)


def _config(rt, sc_dir, seccomp, args, nnp=True):
    cfg = rt.config(args)
    cfg["mounts"].append({"destination": "/sc", "type": "bind", "source": sc_dir,
                          "options": ["bind", "ro"]})
    cfg["process"]["noNewPrivileges"] = nnp
    cfg["linux"]["seccomp"] = seccomp
    return cfg


def _allow_all_but(rules, default="SCMP_ACT_ALLOW"):
    return {"defaultAction": default, "architectures": ["SCMP_ARCH_X86_64"], "syscalls": rules}


def _calls(*calls):
    return ["/sc/sc"] + [":".join(str(x) for x in c) for c in calls]


def _run(rt, sc_dir, seccomp, *calls, nnp=True):
    return rt.run(_config(rt, sc_dir, seccomp, _calls(*calls), nnp=nnp))


# -- actions -------------------------------------------------------------------

@pytest.mark.parametrize("nnp", [True, False])
def test_errno_action_with_errno_ret(rt, sc_dir, nnp):
    sc = _allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}])
    p = _run(rt, sc_dir, sc, (GETPPID,), (39,), nnp=nnp)  # 39: getpid, untouched
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "errno 42" and lines[1].startswith("ok ")


def test_errno_action_defaults_to_eperm(rt, sc_dir):
    sc = _allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}])
    p = _run(rt, sc_dir, sc, (GETPPID,))
    assert p.stdout == "errno 1\n"


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
                                    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"])
def test_killing_actions(rt, sc_dir, action):
    sc = _allow_all_but([{"names": ["getppid"], "action": action}])
    p = _run(rt, sc_dir, sc, (39,), (GETPPID,), (39,))
    # The first call ran, the process died of SIGSYS at the second.
    assert p.stdout.count("ok ") == 1
    assert p.returncode == SIGSYS_STATUS, (p.returncode, p.stderr)


@pytest.mark.parametrize("action", ["SCMP_ACT_LOG", "SCMP_ACT_ALLOW"])
def test_allowing_actions(rt, sc_dir, action):
    sc = _allow_all_but([{"names": ["getppid"], "action": action}],
                        default="SCMP_ACT_ALLOW" if action == "SCMP_ACT_LOG" else "SCMP_ACT_LOG")
    p = _run(rt, sc_dir, sc, (GETPPID,))
    assert p.returncode == 0 and p.stdout.startswith("ok "), p.stderr


def test_allow_list_under_errno_default(rt, sc_dir):
    # Everything not listed fails with the default errno; listed calls run.
    h = _helpers()
    docker = h.profile_to_oci(h.load_profile("docker-default.json"))
    docker["defaultErrnoRet"] = 77
    p = _run(rt, sc_dir, docker, (39,), (KEYCTL, 0, 0))
    assert p.stdout.splitlines() == [p.stdout.splitlines()[0], "errno 77"]
    assert p.stdout.startswith("ok ")


def test_trace_without_tracer_is_enosys(rt, sc_dir):
    sc = _allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_TRACE"}])
    p = _run(rt, sc_dir, sc, (GETPPID,))
    assert p.stdout == "errno 38\n"


# -- operators -----------------------------------------------------------------

HIGH = 1 << 32

OPERATORS = [
    # op, value, valueTwo, [(arg, matches)]
    ("SCMP_CMP_EQ", 5, None, [(5, True), (4, False), (5 + HIGH, False)]),
    ("SCMP_CMP_NE", 5, None, [(5, False), (6, True), (5 + HIGH, True)]),
    ("SCMP_CMP_LT", 5, None, [(4, True), (5, False), (HIGH, False)]),
    ("SCMP_CMP_LE", 5, None, [(5, True), (6, False), (0, True)]),
    ("SCMP_CMP_GT", 5, None, [(6, True), (5, False), (HIGH + 1, True)]),
    ("SCMP_CMP_GE", HIGH, None, [(HIGH, True), (HIGH - 1, False), (HIGH * 3, True)]),
    ("SCMP_CMP_MASKED_EQ", 0xF0, 0x30, [(0x35, True), (0x45, False), (0x1_0000_0030, True)]),
]


@pytest.mark.parametrize("op,value,value2,cases", OPERATORS, ids=[o[0] for o in OPERATORS])
def test_operator(rt, sc_dir, op, value, value2, cases):
    arg = {"index": 1, "value": value, "op": op}
    if value2 is not None:
        arg["valueTwo"] = value2
    sc = _allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99,
                          "args": [arg]}])
    p = _run(rt, sc_dir, sc, *[(GETPPID, 0, a) for a, _ in cases])
    assert p.returncode == 0, p.stderr
    got = [line == "errno 99" for line in p.stdout.splitlines()]
    assert got == [m for _, m in cases]


def test_two_conditions_on_one_rule_are_anded(rt, sc_dir):
    sc = _allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99,
                          "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                                   {"index": 2, "value": 2, "op": "SCMP_CMP_EQ"}]}])
    p = _run(rt, sc_dir, sc, (GETPPID, 1, 0, 2), (GETPPID, 1, 0, 3), (GETPPID, 0, 0, 2))
    assert [line == "errno 99" for line in p.stdout.splitlines()] == [True, False, False]


# -- engines' default profiles --------------------------------------------------

@pytest.mark.parametrize("profile", ["docker-default.json", "podman-default.json"])
def test_default_profile_everyday_commands_work(rt, profile):
    h = _helpers()
    cfg = rt.config(["sh", "-c", "ls / >/dev/null && cat /etc/passwd >/dev/null && "
                     "echo x > /tmp/f && cat /tmp/f && ps >/dev/null && date >/dev/null && "
                     "sleep 0.01 && echo done"])
    cfg["linux"]["seccomp"] = h.profile_to_oci(h.load_profile(profile))
    p = rt.run(cfg)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "x\ndone\n"


def test_docker_profile_blocks_unshare_with_eperm(rt):
    h = _helpers()
    cfg = rt.config(["sh", "-c", "unshare -U true; echo rc=$?"])
    cfg["linux"]["seccomp"] = h.profile_to_oci(h.load_profile("docker-default.json"))
    p = rt.run(cfg)
    assert "rc=1" in p.stdout
    assert "Operation not permitted" in p.stderr
    # The same command without the profile works: it is the filter that refused.
    cfg = rt.config(["sh", "-c", "unshare -U true; echo rc=$?"])
    assert "rc=0" in rt.run(cfg).stdout


def _expected_errno(oci, name):
    """What an unconditional rule (or the default) does to NAME."""
    for rule in oci["syscalls"]:
        if name in rule["names"] and not rule.get("args"):
            if rule["action"] == "SCMP_ACT_ALLOW":
                return None
            return rule.get("errnoRet", 1)
    return oci.get("defaultErrnoRet", 1)


@pytest.mark.parametrize("profile", ["docker-default.json", "podman-default.json"])
def test_default_profile_errnos(rt, sc_dir, profile):
    h = _helpers()
    oci = h.profile_to_oci(h.load_profile(profile))
    # add_key falls to the default action (EPERM in Docker's, ENOSYS in
    # Podman's); acct has an explicit ERRNO rule in Podman's.
    want = [_expected_errno(oci, "add_key"), _expected_errno(oci, "acct")]
    assert None not in want
    # 1000 is past every syscall the profile knows: ENOSYS (runc's stub), so
    # that programs fall back as on an older kernel.
    p = _run(rt, sc_dir, oci, (39,), (ADD_KEY, 0, 0), (ACCT, 0), (1000,))
    lines = p.stdout.splitlines()
    assert lines[0].startswith("ok ")
    assert lines[1:] == [f"errno {want[0]}", f"errno {want[1]}", "errno 38"]


# -- NOTIFY ----------------------------------------------------------------------

class Agent:
    """A seccomp agent on a unix socket: takes the listener fd and the state,
    answers every getppid with 4242 and everything else with CONTINUE."""

    def __init__(self, path, on_note=None):
        from pyrunc.linux import seccomp_notify as lsc
        self.on_note = on_note
        self.lsc = lsc
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(60)
        self.states = []
        self.notes = []
        self.error = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                data, fds, _, _ = socket.recv_fds(conn, 65536, 4)
            self.states.append(json.loads(data))
            fd = fds[0]
            try:
                while True:
                    try:
                        n = self.lsc.notif_recv(fd)
                    except OSError:
                        return  # the filter's last task is gone
                    self.notes.append(n)
                    if self.on_note:
                        self.on_note(n)
                    if n.nr == GETPPID:
                        self.lsc.notif_send(fd, n.id, val=4242)
                    else:
                        self.lsc.notif_send(fd, n.id, flags=self.lsc.USER_NOTIF_FLAG_CONTINUE)
            finally:
                os.close(fd)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def close(self):
        self.sock.close()


# With noNewPrivileges the init loads its filter after `start` (CREATE_STAGES'
# stage_seccomp), while create waits for the listener: not covered here.
@pytest.mark.parametrize("nnp", [False])
def test_notify_with_listener(rt, sc_dir, nnp):
    path = str(rt.tmp / "agent.sock")
    agent = Agent(path)
    try:
        sc = _allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}])
        sc["listenerPath"] = path
        sc["listenerMetadata"] = "meta"
        p = _run(rt, sc_dir, sc, (GETPPID,), (39,), nnp=nnp)
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        assert lines[0] == "ok 4242"
        agent.thread.join(30)
        assert agent.error is None
        msg = agent.states[0]
        assert msg["fds"] == ["seccompFd"]
        assert msg["state"]["id"] and msg["state"]["bundle"]
        assert [n.nr for n in agent.notes] == [GETPPID]
    finally:
        agent.close()


def test_notify_listener_unreachable_fails_create(rt, sc_dir):
    sc = _allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}])
    sc["listenerPath"] = str(rt.tmp / "nobody-listens.sock")
    p = _run(rt, sc_dir, sc, (GETPPID,), nnp=False)
    assert p.returncode != 0 and "nobody-listens.sock" in p.stderr


# -- exec runs under the container's filter -------------------------------------

def _running(rt, cfg):
    b = rt.bundle(cfg)
    cid = rt.new_id()
    rt("run", "--detach", "--bundle", b, cid, check=True)
    return cid


@pytest.mark.parametrize("nnp", [True, False])
def test_exec_gets_the_container_filter(rt, sc_dir, nnp):
    sc = _allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}])
    cid = _running(rt, _config(rt, sc_dir, sc, ["sleep", "1000"], nnp=nnp))
    p = rt("exec", cid, *_calls((GETPPID,), (39,)))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "errno 42" and lines[1].startswith("ok ")
    with open(f"/proc/{rt.state(cid)['pid']}/status") as f:
        assert "Seccomp:\t2" in f.read()


def test_exec_under_docker_profile(rt, sc_dir):
    h = _helpers()
    oci = h.profile_to_oci(h.load_profile("docker-default.json"))
    cid = _running(rt, _config(rt, sc_dir, oci, ["sleep", "1000"]))
    p = rt("exec", cid, "sh", "-c", "ls / >/dev/null && echo fine; unshare -U true; echo rc=$?")
    assert p.stdout.split() == ["fine", "rc=1"]
    assert "Operation not permitted" in p.stderr


@pytest.mark.parametrize("exec_nnp", [False, True])
def test_exec_notify_reaches_the_agent(rt, sc_dir, exec_nnp):
    path = str(rt.tmp / "agent.sock")
    sc = _allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}])
    sc["listenerPath"] = path
    sc["listenerMetadata"] = "exec-meta"
    # The init sleeps under the filter; its own listener goes to a first agent.
    first = Agent(path)
    try:
        cid = _running(rt, _config(rt, sc_dir, sc, ["sleep", "1000"], nnp=False))
    finally:
        first.close()
    os.unlink(path)
    second = Agent(path)
    try:
        # The exec'd process gets its own filter and listener, sent to the
        # agent before execve (early, or late with --no-new-privs).
        extra = ["--no-new-privs"] if exec_nnp else []
        p = rt("exec", *extra, cid, *_calls((GETPPID,)))
        assert p.returncode == 0, p.stderr
        assert p.stdout == "ok 4242\n"
        second.thread.join(30)
        assert second.error is None
        msg = second.states[0]
        assert msg["state"]["id"] == cid and msg["metadata"] == "exec-meta"
    finally:
        second.close()


def test_exec_notify_agent_gone_is_255(rt, sc_dir):
    path = str(rt.tmp / "agent.sock")
    sc = _allow_all_but([{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}])
    sc["listenerPath"] = path
    first = Agent(path)
    try:
        cid = _running(rt, _config(rt, sc_dir, sc, ["sleep", "1000"], nnp=False))
    finally:
        first.close()
    p = rt("exec", cid, "true")
    assert p.returncode == 255 and "agent.sock" in p.stderr


EXECVE = 59


def test_exec_process_is_not_dumpable_before_execve(rt, sc_dir):
    """CVE-2019-5736: until execve the joining process runs the host's
    interpreter inside the container as the container's user; it must be
    non-dumpable so that no process there can open its /proc/PID/exe.  A
    NOTIFY rule on execve holds it at exactly that point: its uid is already
    the user's, yet its /proc entries belong to root (proc(5))."""
    path = str(rt.tmp / "agent.sock")
    sc = _allow_all_but([{"names": ["execve"], "action": "SCMP_ACT_NOTIFY"}])
    sc["listenerPath"] = path
    first = Agent(path)
    try:
        cid = _running(rt, _config(rt, sc_dir, sc, ["sleep", "1000"], nnp=False))
    finally:
        first.close()
    os.unlink(path)
    seen = []

    def inspect(n):
        if n.nr != EXECVE:
            return
        with open(f"/proc/{n.pid}/status") as f:
            uid_line = [ln for ln in f if ln.startswith("Uid:")][0]
        seen.append((uid_line.split()[1:], os.stat(f"/proc/{n.pid}/exe", follow_symlinks=False).st_uid))

    second = Agent(path, on_note=inspect)
    try:
        p = rt("exec", "-u", "1000:1000", cid, "true")
        assert p.returncode == 0, p.stderr
        second.thread.join(30)
        assert second.error is None
    finally:
        second.close()
    assert seen and seen[0] == (["1000"] * 4, 0)
