"""OCI hooks: run one program with the container state on stdin, with a timeout.

Used by the parent (prestart, createRuntime, poststart, poststop: runtime
namespace) and by the container's init (createContainer, startContainer:
container namespaces), so it depends only on modules imported before fork.
"""

import os
import select
import _signal as signal  # the C module: signal.py's enums would import enum on every create

from pyrunc.errors import PyruncError
from pyrunc.oci.jsondump import dumps
from pyrunc.linux import fds

ORDER = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


class HookError(PyruncError):
    pass


def run_hook(hook, state, index, kind):
    path = hook["path"]
    args = hook.get("args") or [path]
    env = hook.get("env") or []
    timeout = hook.get("timeout")
    data = dumps(state, separators=(",", ":")).encode()
    in_r, in_w = os.pipe2(os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = os.posix_spawn(path, args, dict(e.split("=", 1) for e in env if "=" in e),
                             file_actions=[(os.POSIX_SPAWN_DUP2, in_r, 0),
                                           (os.POSIX_SPAWN_DUP2, out_w, 1),
                                           (os.POSIX_SPAWN_DUP2, out_w, 2)],
                             setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))
    except OSError as e:
        for fd in (in_r, in_w, out_r, out_w):
            os.close(fd)
        raise HookError(f"{kind} hook #{index}: {path}: {e.strerror.lower()}") from None
    os.close(in_r)
    os.close(out_w)
    try:
        os.write(in_w, data)
    except BrokenPipeError:
        pass  # a hook need not read its stdin
    os.close(in_w)
    output = _collect(pid, out_r, timeout)
    os.close(out_r)
    if output is None:
        raise HookError(f"{kind} hook #{index}: {path}: timed out after {timeout}s")
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        how = f"exit status {code}" if code > 0 else f"killed by signal {-code}"
        text = output.decode(errors="replace").strip().replace("\n", " ")
        raise HookError(f"{kind} hook #{index}: {path}: {how}" + (f": {text}" if text else ""))


def _collect(pid, fd, timeout):
    """Read the hook's output until it exits; None (after killing it) on timeout."""
    pidfd = fds.pidfd_open(pid)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    out = b""
    deadline = None if not timeout else _now() + timeout
    try:
        while True:
            wait = None if deadline is None else max(0, int((deadline - _now()) * 1000))
            events = poller.poll(wait)
            if not events:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            for f, _ in events:
                if f == fd:
                    chunk = os.read(fd, 65536)
                    if chunk:
                        out += chunk[:4096]
                    else:
                        poller.unregister(fd)
                elif f == pidfd:
                    # Exited: drain what is left without blocking on grandchildren.
                    os.set_blocking(fd, False)
                    try:
                        out += (os.read(fd, 65536) or b"")[:4096]
                    except BlockingIOError:
                        pass
                    return out
    finally:
        os.close(pidfd)


def _now():
    return os.times().elapsed


def run_hooks(hooks, kind, state, warn_only=False, warn=None):
    """Run every hook of one kind in order.  poststop failures only warn and the
    rest still run (runtime-spec 1.3); for every other kind the first failure is
    the error."""
    for i, hook in enumerate((hooks or {}).get(kind) or ()):
        try:
            run_hook(hook, state, i, kind)
        except HookError as e:
            if not warn_only:
                raise
            if warn:
                warn(str(e))
