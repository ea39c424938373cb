"""Run rootfs stages in a forked child with its own namespaces, and read the
results back as JSON.  Everything the child needs after pivot_root is
imported here, at the top."""

import json
import os
import select
import shutil
import signal
import subprocess
import time
import traceback

from pyrunc.init import rootfs
from pyrunc.linux.ns import CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, unshare

BUSYBOX = "/bin/busybox"
_template = None
APPLETS = ("sh", "ls", "cat", "echo", "head", "pwd", "stat", "touch", "readlink", "grep",
           "mount", "mkdir", "test", "id", "true", "false")


def busybox_template(base):
    """A rootfs with busybox and its applet links (made once per session)."""
    global _template
    if _template is None:
        root = os.path.join(base, "busybox-rootfs")
        os.makedirs(os.path.join(root, "bin"))
        shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
        for name in APPLETS:
            os.symlink("busybox", os.path.join(root, "bin", name))
        for d in ("etc", "tmp"):
            os.makedirs(os.path.join(root, d))
        _template = root
    return _template


def mountinfo(path="/proc/self/mountinfo"):
    """mount point -> dict of the top-most mount there."""
    out = {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            point = fields[4].replace("\\040", " ")
            out[point] = {
                "root": fields[3], "opts": fields[5].split(","),
                "optional": fields[6:sep], "fstype": fields[sep + 1],
                "source": fields[sep + 2], "super": fields[sep + 3].split(","),
            }
    return out


def write_errno(path, data=b"x"):
    """0 when writing path works, else the errno."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    except OSError as e:
        return e.errno
    try:
        os.write(fd, data)
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)
    return 0


def sh(script):
    """Run a busybox shell script inside the container; (rc, stdout+stderr)."""
    p = subprocess.run(["/bin/sh", "-c", script], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, env={"PATH": "/bin"})
    return p.returncode, p.stdout


def _child(w, body, flags, pidns, sync):
    try:
        unshare(flags)
        if flags & CLONE_NEWUSER:
            os.write(sync[1], b"u")
            os.read(sync[0], 1)   # the parent wrote our uid/gid maps
        if pidns:
            unshare(CLONE_NEWPID)
            pid = os.fork()
            if pid:
                _, status = os.waitpid(pid, 0)
                os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        result = body()
        os.write(w, json.dumps({"ok": result}).encode())
        os._exit(0)
    except BaseException as e:
        msg = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}
        try:
            msg["type"] = type(e).__name__
            msg["stage"] = getattr(e, "stage", None)
            os.write(w, json.dumps(msg).encode())
        finally:
            os._exit(1)


def in_child(body, userns=False, pidns=False, timeout=60):
    """Fork; the child unshares a mount namespace (and user/pid namespaces),
    runs body() and returns its JSON-able result as {"ok": ...} or
    {"error": ...}."""
    flags = CLONE_NEWNS | (CLONE_NEWUSER if userns else 0)
    r, w = os.pipe()
    down = os.pipe()
    up = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _child(w, body, flags, pidns, (down[0], up[1]))
    os.close(w)
    try:
        if userns:
            ready, _, _ = select.select([up[0]], [], [], timeout)
            assert ready and os.read(up[0], 1) == b"u", "child did not unshare its user ns"
            for name in ("uid_map", "gid_map"):
                with open(f"/proc/{pid}/{name}", "w") as f:
                    f.write("0 0 4294967295\n")
            os.write(down[1], b"g")
        data = b""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([r], [], [], max(left, 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError("child timed out")
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        for fd in (r, *down, *up):
            os.close(fd)
        _, status = os.waitpid(pid, 0)
    if not data:
        return {"error": f"child exited with status {status} and no result"}
    return json.loads(data)


def run_container(plan, checks, console=False, userns=False, pidns=False):
    """prepare + pivot + finalize in a child, then checks() in the container."""
    def body():
        rootfs.prepare_rootfs(plan)
        rootfs.pivot_rootfs(plan)
        rootfs.finalize_rootfs(plan)
        return checks()
    return in_child(body, userns=userns, pidns=pidns)
