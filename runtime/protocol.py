"""The written protocol between the runtime (parent) and the container's processes.

Both ends import this module.  Two pipes carry messages, one from the parent
down, one from the children up; each is a dict in the interpreter's marshal
format behind a 4-byte length (both ends are the same interpreter: the
children are forks of the parent).  The children are the
bootstrap process (joins and creates namespaces; its fork is the one that
enters a new pid namespace) and the init (pid 1 of the container until it
execs the user's program)::

    parent                          bootstrap                     init
    fork --------------------------->  non-dumpable; join the cgroup
                                       (v1 tasks, v2 below); join ns
                                       paths; unshare(user)
                    <--------------- USERNS          (only with a new user ns)
    write id maps; MAPPED ---------->  setresuid(0); unshare(rest);
                                       fork (clone3 into the v2
                                       cgroup) -------------------->
    cgroup limits; GO -------------------------------------------->  cgroup namespace,
                    <--------------- PID {pid}                      rootfs, mounts;
                                       exit(0)                     wait for GO
                    <------------------------------------------- HOOKS
    prestart + createRuntime hooks;
    HOOKS_DONE ------------------------------------------------->  createContainer
                                                                   hooks, pivot_root,
                                                                   identity, ...
                    <------------------------------------------- READY
    write the state; exit                                          wait on exec fifo

Without a user namespace or namespaces to join (pyrunc.launch.direct) there
is no bootstrap: the parent clones the init straight into its namespaces and
v2 cgroup (clone3), and the init joins the v1 hierarchies itself; no PID
message.  The down pipe is shared by both children: GO follows MAPPED, which
the bootstrap reads before it forks the init.

At any step a child may send ERROR {stage, errno, message, path} and exit; the
parent raises it as one SetupError.  End of file on the upward pipe before
READY means a child died without a word.
"""

import marshal
import os
import struct

from pyrunc.errors import SetupError

GO = "go"
USERNS = "userns"
MAPPED = "mapped"
PID = "pid"
HOOKS = "hooks"
HOOKS_DONE = "hooks_done"
READY = "ready"
ERROR = "error"


class Channel:
    """One direction of the protocol: a pipe carrying JSON lines."""

    def __init__(self, rfd=None, wfd=None):
        self.rfd = rfd
        self.wfd = wfd
        self._buf = b""

    def send(self, kind, **data):
        data["kind"] = kind
        body = marshal.dumps(data)
        out = struct.pack("=I", len(body)) + body
        while out:
            n = os.write(self.wfd, out)
            out = out[n:]

    def _fill(self, size):
        while len(self._buf) < size:
            chunk = os.read(self.rfd, 65536)
            if not chunk:
                return False
            self._buf += chunk
        return True

    def recv(self):
        """Return the next message dict, or None at end of file."""
        if not self._fill(4):
            return None
        size = struct.unpack("=I", self._buf[:4])[0]
        if not self._fill(4 + size):
            return None
        body, self._buf = self._buf[4:4 + size], self._buf[4 + size:]
        return marshal.loads(body)

    def expect(self, kind):
        """Receive one message of the given kind; raise the child's error otherwise."""
        msg = self.recv()
        if msg is None:
            raise SetupError("init", "container init exited before finishing set-up")
        if msg["kind"] == ERROR:
            raise error_from(msg)
        if msg["kind"] != kind:
            raise SetupError("init", f"protocol: expected {kind}, got {msg['kind']}")
        return msg

    def close(self):
        for fd in (self.rfd, self.wfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.rfd = self.wfd = None


def error_from(msg):
    return SetupError(msg.get("stage", "init"), msg.get("message", "unknown error"),
                      msg.get("errno", 0), msg.get("path"))


def send_error(chan, stage, exc):
    """Report an exception from a child stage as data (errno, path, message)."""
    err = getattr(exc, "errno", 0) or 0
    path = getattr(exc, "filename", None)
    if isinstance(exc, OSError) and exc.strerror:
        message = exc.strerror[:1].lower() + exc.strerror[1:]
        if path:
            message = f"{message}: {path}"
        if getattr(exc, "filename2", None):
            message = f"{message} -> {exc.filename2}"
    else:
        message = str(exc) or exc.__class__.__name__
    try:
        chan.send(ERROR, stage=stage, errno=err, message=f"{stage}: {message}", path=path)
    except OSError:
        pass


def pipes():
    """Return (parent_channel, child_channel)."""
    down_r, down_w = os.pipe2(os.O_CLOEXEC)
    up_r, up_w = os.pipe2(os.O_CLOEXEC)
    return Channel(up_r, down_w), Channel(down_r, up_w)
