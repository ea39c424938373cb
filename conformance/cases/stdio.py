"""config.md process.terminal / consoleSize, console sockets, stdio passthrough
and runtime-linux.md file descriptors."""
import array
import os
import socket
import threading
import time

from ..core import case
from .common import kv

C = "config.md"
CL = "config-linux.md"
RL = "runtime-linux.md"


class Console:
    """A console socket: receives the pty master and reads everything written to it."""

    def __init__(self, ctx):
        self.path = ctx.path("console.sock")
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(1)
        self.srv.settimeout(15)
        self.master = None
        self.data = b""
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        ctx.defer(self.close)

    def _run(self):
        try:
            conn, _ = self.srv.accept()
            with conn:
                conn.settimeout(15)
                fds = array.array("i")
                _, anc, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(4 * fds.itemsize))
                for level, kind, payload in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
            if fds:
                self.master = fds[0]
                for extra in fds[1:]:
                    os.close(extra)
                while True:
                    try:
                        chunk = os.read(self.master, 4096)
                    except OSError:  # EIO once the last slave closes
                        break
                    if not chunk:
                        break
                    self.data += chunk
        except OSError:
            pass
        finally:
            self.done.set()

    def text(self, timeout=5):
        self.done.wait(timeout)
        return self.data.decode(errors="replace").replace("\r\n", "\n")

    def close(self):
        self.srv.close()
        if self.master is not None:
            try:
                os.close(self.master)
            except OSError:
                pass
            self.master = None


def _terminal_run(ctx, script, size=None):
    b = ctx.bundle(["sh", "-c", script])
    b.process["terminal"] = True
    if size:
        b.process["consoleSize"] = size
    con = Console(ctx)
    cid, _ = ctx.create(b, extra=("--console-socket", con.path))
    ctx.start(cid)
    ctx.wait_status(cid, "stopped")
    out = con.text()
    ctx.check(con.master is not None, "no pty master arrived on the console socket")
    return out


@case("stdio.terminal.is_tty", C, "if set to true on Linux a pseudoterminal pair is allocated for the process and the pseudoterminal pty is duplicated on the process's standard streams.")
def _(ctx):
    out = _terminal_run(ctx, "for f in 0 1 2; do test -t $f && echo tty$f; done; echo end")
    ctx.eq([w for w in out.split() if w.startswith("tty") or w == "end"], ["tty0", "tty1", "tty2", "end"],
           "standard streams that are terminals")


@case("stdio.terminal.console_socket_output", C, "terminal (bool, OPTIONAL) specifies whether a terminal is attached to the process")
def _(ctx):
    out = _terminal_run(ctx, "echo through-the-pty")
    ctx.check("through-the-pty" in out, f"the pty master did not carry the output: {out!r}")


@case("stdio.terminal.same_pty", C, "the pseudoterminal pty is duplicated on the process's standard streams.")
def _(ctx):
    out = _terminal_run(ctx, "for f in 0 1 2; do readlink /proc/self/fd/$f; done")
    links = [ln for ln in out.split() if ln.startswith("/dev/")]
    ctx.check(len(links) == 3 and len(set(links)) == 1, f"stdin, stdout, stderr are {links}")


@case("stdio.terminal.console_size", C, "consoleSize (object, OPTIONAL) specifies the console size in characters of the terminal.")
def _(ctx):
    out = _terminal_run(ctx, "stty size", size={"height": 33, "width": 111})
    ctx.check("33 111" in out, f"stty size printed {out.strip()!r}")


@case("stdio.terminal.dev_console", CL, "/dev/console is set up if terminal is enabled in the config by bind mounting the pseudoterminal pty to /dev/console.")
def _(ctx):
    out = _terminal_run(ctx, "/bin/probe stat /dev/console; /bin/probe stat $(readlink /proc/self/fd/0)")
    lines = [ln for ln in out.splitlines() if ln.startswith("type=")]
    ctx.check(len(lines) == 2, f"probe output {out!r}")
    con, pty = kv(lines[0]), kv(lines[1])
    ctx.eq((con.get("type"), con.get("major"), con.get("minor")), (pty.get("type"), pty.get("major"), pty.get("minor")),
           "/dev/console against the process's pty")


@case("stdio.terminal.false_no_tty", C, "terminal (bool, OPTIONAL) ... defaults to false.")
def _(ctx):
    b = ctx.bundle(["sh", "-c", "test -t 0 || test -t 1 && echo tty || echo notty"])
    del b.process["terminal"]
    ctx.eq(ctx.run_container(b).strip(), "notty", "a standard stream is a terminal")


@case("stdio.stdout", RL, "By default, only the stdin, stdout and stderr file descriptors are kept open for the application by the runtime.")
def _(ctx):
    b = ctx.bundle(["echo", "to-stdout"])
    ctx.eq(ctx.run_container(b), "to-stdout\n", "container stdout")


@case("stdio.stderr", RL, "By default, only the stdin, stdout and stderr file descriptors are kept open for the application by the runtime.")
def _(ctx):
    b = ctx.bundle(["sh", "-c", "echo to-stderr >&2"])
    cid = ctx.stopped(b)
    ctx.eq(ctx.output(cid, "stderr"), "to-stderr\n", "container stderr")


@case("stdio.stdin", RL, "By default, only the stdin, stdout and stderr file descriptors are kept open for the application by the runtime.")
def _(ctx):
    src = ctx.path("stdin.txt")
    with open(src, "w") as f:
        f.write("fed-through-stdin\n")
    b = ctx.bundle(["cat"])
    ctx.eq(ctx.run_container(b, stdin=src), "fed-through-stdin\n", "what cat read from stdin")


@case("stdio.only_std_fds", RL, "By default, only the stdin, stdout and stderr file descriptors are kept open for the application by the runtime.")
def _(ctx):
    r, w = os.pipe()
    ctx.defer(os.close, r)
    ctx.defer(os.close, w)
    b = ctx.bundle(["/bin/probe", "fds"])
    out = kv(ctx.run_container(b, pass_fds=(r, w)))
    ctx.eq(out.get("fds"), "0,1,2", "open file descriptors of the container process")


@case("stdio.exit_after_stdin_eof", RL, "By default, only the stdin, stdout and stderr file descriptors are kept open")
def _(ctx):
    b = ctx.bundle(["sh", "-c", "read line; echo got:$line"])
    src = ctx.path("stdin.txt")
    with open(src, "w") as f:
        f.write("one\n")
    t0 = time.monotonic()
    ctx.eq(ctx.run_container(b, stdin=src).strip(), "got:one", "line read from stdin")
    ctx.check(time.monotonic() - t0 < 10, "the container did not finish after reading stdin")
