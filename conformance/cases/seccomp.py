"""config-linux.md seccomp: actions, errno returns, argument operators, notify.

Every filter here allows everything but sched_get_priority_max(2), which no
shell or libc start-up code calls; /bin/probe prio ARG calls it with ARG as
its first argument and prints "ret=R errno=E".  Unfiltered, policy 1
(SCHED_FIFO) gives ret=99 and an unknown policy gives errno=22 (EINVAL).
"""
import array
import json
import os
import socket
import threading

from ..core import case
from .common import kv, sh

CL = "config-linux.md"
MARK = 42  # ENOMSG: an errno the syscall never returns on its own


def _filter(ctx, rules, default="SCMP_ACT_ALLOW", **extra):
    b = ctx.bundle()
    b.linux["seccomp"] = {"defaultAction": default, "syscalls": rules, **extra}
    return b


def _rule(action, errno=None, args=None, names=("sched_get_priority_max",)):
    r = {"names": list(names), "action": action}
    if errno is not None:
        r["errnoRet"] = errno
    if args is not None:
        r["args"] = args
    return r


def _calls(ctx, b, *values):
    """Run probe prio V for each value; a list of (ret, errno) or the exit status."""
    script = "; ".join(f"/bin/probe prio {v}; echo status=$?" for v in values)
    out = sh(ctx, b, script)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    return lines


@case("seccomp.action.errno_ret", CL, "errnoRet (uint, OPTIONAL) - the errno return code to use.")
def _(ctx):
    b = _filter(ctx, [_rule("SCMP_ACT_ERRNO", MARK)])
    out = kv(_calls(ctx, b, 1)[0])
    ctx.eq(out.get("errno"), str(MARK), "errno of a filtered call")


@case("seccomp.action.errno_default_eperm", CL, "errnoRet ... The default is EPERM.")
def _(ctx):
    b = _filter(ctx, [_rule("SCMP_ACT_ERRNO")])
    ctx.eq(kv(_calls(ctx, b, 1)[0]).get("errno"), "1", "errno of a filtered call without errnoRet")


@case("seccomp.action.allow", CL, "action (string, REQUIRED) - the action for seccomp rules [SCMP_ACT_ALLOW]")
def _(ctx):
    b = _filter(ctx, [_rule("SCMP_ACT_ERRNO", MARK, names=["sched_get_priority_min"]),
                      _rule("SCMP_ACT_ALLOW")], default="SCMP_ACT_ALLOW")
    ctx.eq(kv(_calls(ctx, b, 1)[0]).get("ret"), "99", "result of an allowed call")


@case("seccomp.action.log", CL, "action (string, REQUIRED) - the action for seccomp rules [SCMP_ACT_LOG]")
def _(ctx):
    b = _filter(ctx, [_rule("SCMP_ACT_LOG")])
    ctx.eq(kv(_calls(ctx, b, 1)[0]).get("ret"), "99", "result of a logged call")


def _killed(action):
    def check(ctx):
        b = _filter(ctx, [_rule(action)])
        lines = _calls(ctx, b, 1)
        # SIGSYS (31) ends the probe: the shell reports 128+31 and the probe printed nothing.
        ctx.eq(lines, ["status=159"], f"output of a call under {action}")
    return check


for _a in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"):
    case(f"seccomp.action.{_a[9:].lower()}", CL, f"action (string, REQUIRED) - the action for seccomp rules [{_a}]")(_killed(_a))


@case("seccomp.action.trace_no_tracer", CL, "action (string, REQUIRED) - the action for seccomp rules [SCMP_ACT_TRACE; seccomp(2): with no tracer the call fails with ENOSYS]")
def _(ctx):
    b = _filter(ctx, [_rule("SCMP_ACT_TRACE")])
    ctx.eq(kv(_calls(ctx, b, 1)[0]).get("errno"), "38", "errno of a traced call with no tracer (ENOSYS)")


@case("seccomp.default_action", CL, "defaultAction (string, REQUIRED) - the default action for seccomp.")
def _(ctx):
    b = _filter(ctx, [], default="SCMP_ACT_ALLOW")
    b.linux["seccomp"]["syscalls"] = [_rule("SCMP_ACT_ERRNO", MARK)]
    b2 = _filter(ctx, [{"names": ["sched_get_priority_max"], "action": "SCMP_ACT_ALLOW"}], default="SCMP_ACT_LOG")
    first = kv(_calls(ctx, b, 1)[0]).get("errno")
    second = kv(_calls(ctx, b2, 1)[0]).get("ret")
    ctx.eq((first, second), (str(MARK), "99"), "filtered call under default ALLOW, allowed call under default LOG")


@case("seccomp.errno_on_kill_error", CL, "When the action doesn't support an errno, the runtime MUST print and error and fail.")
def _(ctx):
    b = _filter(ctx, [_rule("SCMP_ACT_KILL", MARK)])
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create with errnoRet on SCMP_ACT_KILL")


@case("seccomp.default_errno_on_allow_error", CL, "defaultErrnoRet ... When the action doesn't support an errno, the runtime MUST print and error and fail.")
def _(ctx):
    b = _filter(ctx, [_rule("SCMP_ACT_ERRNO")], defaultErrnoRet=MARK)
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create with defaultErrnoRet on SCMP_ACT_ALLOW")


@case("seccomp.names_several", CL, "names (array of strings, REQUIRED) - the names of the syscalls.")
def _(ctx):
    b = _filter(ctx, [_rule("SCMP_ACT_ERRNO", MARK, names=["getpriority", "sched_get_priority_max"])])
    ctx.eq(kv(_calls(ctx, b, 1)[0]).get("errno"), str(MARK), "errno of the second name of a rule")


def _operator(op, value, value_two, hit, miss):
    def check(ctx):
        arg = {"index": 0, "value": value, "op": op}
        if value_two is not None:
            arg["valueTwo"] = value_two
        b = _filter(ctx, [_rule("SCMP_ACT_ERRNO", MARK, args=[arg])])
        lines = _calls(ctx, b, hit, miss)
        got = [kv(ln).get("errno") for ln in lines if ln.startswith("ret=")]
        ctx.check(len(got) == 2, f"probe output {lines}")
        ctx.check(got[0] == str(MARK), f"{op} {value}: argument {hit} not filtered ({lines[0]})")
        ctx.check(got[1] != str(MARK), f"{op} {value}: argument {miss} filtered ({lines[2] if len(lines) > 2 else lines})")
    return check


for _op, _v, _v2, _hit, _miss in [("SCMP_CMP_EQ", 5, None, 5, 1), ("SCMP_CMP_NE", 1, None, 5, 1),
                                   ("SCMP_CMP_LT", 2, None, 1, 5), ("SCMP_CMP_LE", 2, None, 2, 3),
                                   ("SCMP_CMP_GT", 3, None, 5, 1), ("SCMP_CMP_GE", 5, None, 5, 4),
                                   ("SCMP_CMP_MASKED_EQ", 4, 4, 5, 1)]:
    case(f"seccomp.operator.{_op[9:].lower()}", CL, f"op (string, REQUIRED) - the operator for syscall arguments in seccomp [{_op}]")(
        _operator(_op, _v, _v2, _hit, _miss))


@case("seccomp.notify.listener", CL,
      "The runtime MUST send exactly one container process state per connection. ... seccompFd (string, REQUIRED)")
def _(ctx):
    path = ctx.path("agent.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    srv.settimeout(15)
    got = {}

    def agent():
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            fds = array.array("i")
            data = b""
            conn.settimeout(5)
            try:
                while True:
                    msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(16 * fds.itemsize))
                    for level, kind, payload in anc:
                        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
                    if not msg:
                        break
                    data += msg
            except OSError:
                pass
            got["data"], got["fds"] = data, list(fds)
            for fd in fds:  # closing the notify fd fails the waiting syscall with ENOSYS
                os.close(fd)

    t = threading.Thread(target=agent, daemon=True)
    t.start()
    ctx.defer(srv.close)
    b = _filter(ctx, [_rule("SCMP_ACT_NOTIFY")], listenerPath=path, listenerMetadata="conf-meta")
    b.config["ociVersion"] = "1.0.2"
    b.process["args"] = ["sh", "-c", "/bin/probe prio 1"]
    cid, _ = ctx.create(b)
    ctx.start(cid)
    t.join(15)
    ctx.wait_status(cid, "stopped", 10)
    ctx.check(got.get("data"), "the seccomp agent received nothing")
    try:
        doc = json.loads(got["data"])
    except ValueError:
        ctx.check(False, f"the agent's message is not JSON: {got['data'][:100]!r}")
    ctx.check("seccompFd" in doc.get("fds", []), f"fds of the message: {doc.get('fds')!r}")
    ctx.eq(len(got["fds"]), len(doc.get("fds", [])), "file descriptors sent with SCM_RIGHTS")
    ctx.eq(doc.get("metadata"), "conf-meta", "metadata")
    ctx.eq((doc.get("state") or {}).get("id"), cid, "state.id")
