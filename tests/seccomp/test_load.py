"""Real filters in forked children: each action and operator as the kernel applies it."""

import ctypes
import errno
import json
import os
import signal
import socket
import struct
import threading

import pytest

from pyrunc.linux import seccomp as lsec
from pyrunc.linux import seccomp_notify as lnotify
from pyrunc.seccomp.compile import compile_filter, table
from pyrunc.seccomp.notify import send_listener

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers are x86_64's")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
PR_SET_NO_NEW_PRIVS = 38
GETPPID = table("x86_64")["getppid"]
PIDFD_OPEN = table("x86_64")["pidfd_open"]
GETPID = table("x86_64")["getpid"]


def raw_syscall(nr, *args):
    """Return (result, errno) of syscall nr with six 64-bit arguments."""
    args = [ctypes.c_uint64(a) for a in (list(args) + [0] * 6)[:6]]
    ctypes.set_errno(0)
    rc = _libc.syscall(ctypes.c_long(nr), *args)
    return rc, ctypes.get_errno() if rc == -1 else 0


def in_child(seccomp, body, flags_extra=0):
    """Fork; the child sets no_new_privs, loads the filter, runs body() and
    writes its JSON result to a pipe.  Returns (wait status, result or None)."""
    filt = compile_filter(seccomp)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                os._exit(100)
            fd = lsec.load(filt.program, filt.flags | flags_extra)
            out = json.dumps(body(fd)).encode()
            os.write(w, out)
            os._exit(0)
        except BaseException:
            os._exit(101)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    return status, (json.loads(data) if data else None)


def allow_all_but(rule, default="SCMP_ACT_ALLOW"):
    return {"defaultAction": default, "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [rule]}


def test_errno_returns_errno():
    prof = allow_all_but({"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42})
    status, result = in_child(prof, lambda fd: raw_syscall(GETPPID))
    assert os.waitstatus_to_exitcode(status) == 0
    assert result == [-1, 42]


def test_errno_defaults_to_eperm():
    prof = allow_all_but({"names": ["getppid"], "action": "SCMP_ACT_ERRNO"})
    _, result = in_child(prof, lambda fd: raw_syscall(GETPPID))
    assert result == [-1, errno.EPERM]


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS"])
def test_kill_ends_with_sigsys(action):
    prof = allow_all_but({"names": ["getppid"], "action": action})
    status, result = in_child(prof, lambda fd: raw_syscall(GETPPID))
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS
    assert result is None


def test_trap_delivers_sigsys():
    def body(fd):
        got = []
        signal.signal(signal.SIGSYS, lambda signum, frame: got.append(signum))
        raw_syscall(GETPPID)
        return got
    prof = allow_all_but({"names": ["getppid"], "action": "SCMP_ACT_TRAP"})
    status, result = in_child(prof, body)
    assert os.waitstatus_to_exitcode(status) == 0
    assert result == [signal.SIGSYS]


@pytest.mark.parametrize("action", ["SCMP_ACT_LOG", "SCMP_ACT_ALLOW"])
def test_log_and_allow_run_the_syscall(action):
    prof = allow_all_but({"names": ["getppid"], "action": action}, default="SCMP_ACT_KILL")
    prof["syscalls"].append({"names": ["write", "exit_group", "exit", "brk", "mmap", "munmap",
                                       "rt_sigreturn", "rt_sigprocmask", "futex", "close"],
                             "action": "SCMP_ACT_ALLOW"})
    status, result = in_child(prof, lambda fd: raw_syscall(GETPPID))
    assert os.waitstatus_to_exitcode(status) == 0
    assert result == [os.getpid(), 0]


def test_trace_without_tracer_is_enosys():
    prof = allow_all_but({"names": ["getppid"], "action": "SCMP_ACT_TRACE"})
    _, result = in_child(prof, lambda fd: raw_syscall(GETPPID))
    assert result == [-1, errno.ENOSYS]


def test_default_errno_and_enosys_stub():
    # Default ERRNO: a syscall numbered above every listed one gets ENOSYS
    # (runc's stub), one below gets the default errno.
    prof = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13,
            "syscalls": [{"names": ["write", "exit_group", "exit", "brk", "mmap", "munmap",
                                    "rt_sigreturn", "rt_sigprocmask", "futex", "close", "getppid"],
                          "action": "SCMP_ACT_ALLOW"}]}
    assert max(table("x86_64")[n] for n in prof["syscalls"][0]["names"]) < PIDFD_OPEN
    _, result = in_child(prof, lambda fd: [raw_syscall(GETPID), raw_syscall(PIDFD_OPEN, os.getpid())])
    assert result == [[-1, 13], [-1, errno.ENOSYS]]


# Each operator on args[1], with 64-bit values: (op, value, valueTwo, arg, matches)
OPERATOR_CASES = [
    ("SCMP_CMP_EQ", 0x1_0000_0005, 0, 0x1_0000_0005, True),
    ("SCMP_CMP_EQ", 0x1_0000_0005, 0, 0x0_0000_0005, False),
    ("SCMP_CMP_EQ", 0xFFFFFFFF, 0, 0xFFFFFFFF, True),
    ("SCMP_CMP_EQ", 0xFFFFFFFF, 0, 0xFFFFFFFF_FFFFFFFF, False),   # never sign-extended
    ("SCMP_CMP_NE", 7, 0, 7, False),
    ("SCMP_CMP_NE", 7, 0, 0x1_0000_0007, True),
    ("SCMP_CMP_LT", 0x1_0000_0000, 0, 0xFFFFFFFF, True),
    ("SCMP_CMP_LT", 0x1_0000_0000, 0, 0x1_0000_0000, False),
    ("SCMP_CMP_LE", 0x1_0000_0000, 0, 0x1_0000_0000, True),
    ("SCMP_CMP_LE", 0x1_0000_0000, 0, 0x1_0000_0001, False),
    ("SCMP_CMP_GE", 0x2_0000_0000, 0, 0x2_0000_0000, True),
    ("SCMP_CMP_GE", 0x2_0000_0000, 0, 0x1_FFFF_FFFF, False),
    ("SCMP_CMP_GT", 0x2_0000_0000, 0, 0x2_0000_0001, True),
    ("SCMP_CMP_GT", 0x2_0000_0000, 0, 0x2_0000_0000, False),
    ("SCMP_CMP_MASKED_EQ", 0xF0000000_000000F0, 0x10000000_00000020, 0x1FFFFFFF_FFFFFF2F, True),
    ("SCMP_CMP_MASKED_EQ", 0xF0000000_000000F0, 0x10000000_00000020, 0x2FFFFFFF_FFFFFF2F, False),
    ("SCMP_CMP_MASKED_EQ", 0x7E020000, 0, 0x00020000, False),   # Docker's clone rule
    ("SCMP_CMP_MASKED_EQ", 0x7E020000, 0, 0x01000011, True),
]


@pytest.mark.parametrize("op,value,value_two,arg,matches", OPERATOR_CASES)
def test_operators(op, value, value_two, arg, matches):
    rule = {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
            "args": [{"index": 1, "op": op, "value": value, "valueTwo": value_two}]}
    _, result = in_child(allow_all_but(rule), lambda fd: raw_syscall(GETPPID, 0, arg))
    assert result == ([-1, 77] if matches else [os.getpid(), 0])


def test_args_anded_rules_ored():
    prof = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
         "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 1},
                  {"index": 2, "op": "SCMP_CMP_EQ", "value": 3}]},
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
         "args": [{"index": 5, "op": "SCMP_CMP_EQ", "value": 9}]}]}
    calls = [(1, 0, 3), (1, 0, 4), (0, 0, 0, 0, 0, 9), (2, 0, 3)]
    _, result = in_child(prof, lambda fd: [raw_syscall(GETPPID, *a)[1] for a in calls])
    assert result == [5, 0, 5, 0]


def test_tsync_flag_accepted():
    prof = allow_all_but({"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3})
    prof["flags"] = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                     "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
    assert compile_filter(prof).flags == lsec.FLAG_TSYNC | lsec.FLAG_LOG | lsec.FLAG_SPEC_ALLOW
    _, result = in_child(prof, lambda fd: [fd, raw_syscall(GETPPID)])
    assert result == [None, [-1, 3]]


def test_optional_flag_dropped_on_einval():
    # WAIT_KILLABLE_RECV without a listener is EINVAL: load retries without it.
    prof = allow_all_but({"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3})
    status, result = in_child(prof, lambda fd: raw_syscall(GETPPID), lsec.FLAG_WAIT_KILLABLE_RECV)
    assert result == [-1, 3]


def test_load_bad_program_raises_oserror():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        try:
            lsec.load(b"\x20\x00\x00\x00\x00\x00\x00\x00", 0)   # ld nr, and no ret
        except OSError as e:
            os.write(w, str(e.errno).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        got = f.read()
    os.waitpid(pid, 0)
    assert got == str(errno.EINVAL)


def test_notify_with_listener(tmp_path):
    path = str(tmp_path / "agent.sock")
    prof = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path, "listenerMetadata": "meta-1",
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_TSYNC"],
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]}
    filt = compile_filter(prof)
    assert filt.listener
    assert filt.flags & (lsec.FLAG_NEW_LISTENER | lsec.FLAG_TSYNC_ESRCH | lsec.FLAG_WAIT_KILLABLE_RECV) \
        == lsec.FLAG_NEW_LISTENER | lsec.FLAG_TSYNC_ESRCH | lsec.FLAG_WAIT_KILLABLE_RECV
    state = {"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": 0, "bundle": "/b"}
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    got = {}

    def agent():
        conn, _ = server.accept()
        with conn:
            msg, fds, _, _ = socket.recv_fds(conn, 65536, 1)
            got["msg"] = json.loads(msg)
            listener = fds[0]
        try:
            n = lnotify.notif_recv(listener)
            got["nr"], got["args"] = n.nr, n.args[:2]
            got["valid"] = lnotify.notif_id_valid(listener, n.id)
            lnotify.notif_send(listener, n.id, val=4242)
            n = lnotify.notif_recv(listener)
            lnotify.notif_send(listener, n.id, err=errno.EACCES)
            n = lnotify.notif_recv(listener)
            lnotify.notif_send(listener, n.id, flags=lnotify.USER_NOTIF_FLAG_CONTINUE)
        finally:
            os.close(listener)

    thread = threading.Thread(target=agent)
    thread.start()
    try:
        # The child closes its copy once sent (as runc's init does): should the
        # agent die, the kernel then fails the trapped syscalls instead of hanging.
        status, result = in_child(prof, lambda fd: [
            send_listener(path, fd, state, "meta-1"), os.close(fd),
            raw_syscall(GETPPID, 11, 22), raw_syscall(GETPPID), raw_syscall(GETPPID)])
    finally:
        thread.join(timeout=30)
        server.close()
    assert os.waitstatus_to_exitcode(status) == 0
    assert result[2:] == [[4242, 0], [-1, errno.EACCES], [os.getpid(), 0]]
    assert got["msg"] == {"ociVersion": "1.3.0", "fds": ["seccompFd"], "pid": 0,
                          "metadata": "meta-1", "state": state}
    assert got["nr"] == GETPPID and got["args"] == (11, 22) and got["valid"] is True


def test_send_listener_unreachable(tmp_path):
    from pyrunc.errors import SetupError
    r, w = os.pipe()
    try:
        with pytest.raises(SetupError) as exc:
            send_listener(str(tmp_path / "nobody"), r, {"ociVersion": "1.3.0", "pid": 1})
        assert exc.value.errno == errno.ENOENT and "nobody" in str(exc.value)
    finally:
        os.close(r)
        os.close(w)


def test_notif_recv_on_bad_fd_raises():
    r, w = os.pipe()
    try:
        with pytest.raises(OSError) as exc:
            lnotify.notif_recv(r)
        assert exc.value.errno in (errno.ENOTTY, errno.EINVAL)
    finally:
        os.close(r)
        os.close(w)


def test_ioctl_numbers():
    # linux/seccomp.h: _IOWR('!', 0, struct seccomp_notif) etc.
    assert (lnotify.NOTIF_RECV, lnotify.NOTIF_SEND, lnotify.NOTIF_ID_VALID) == (0xC0502100, 0xC0182101, 0x40082102)
    assert struct.calcsize("=HBBI") == 8


def test_docker_default_profile_loads():
    from . import helpers
    prof = helpers.profile_to_oci(helpers.load_profile("docker-default.json"))
    unshare = table("x86_64")["unshare"]
    personality = table("x86_64")["personality"]
    calls = [(GETPPID,), (unshare, 0x10000000), (personality, 0xFFFFFFFF), (personality, 0x1_FFFFFFFF),
             (1000,)]
    status, result = in_child(prof, lambda fd: [raw_syscall(*c) for c in calls])
    assert os.waitstatus_to_exitcode(status) == 0
    ppid, unshare_res, pers_query, pers_bad, beyond = result
    assert ppid == [os.getpid(), 0]
    assert unshare_res == [-1, errno.EPERM]
    assert pers_query[1] == 0                      # personality(0xffffffff) queries: allowed
    assert pers_bad == [-1, errno.EPERM]           # 64-bit value: no rule matches
    assert beyond == [-1, errno.ENOSYS]            # above every listed syscall: runc's stub
