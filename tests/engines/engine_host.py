"""What the engine tests need from the host: packages, cgroups, mounts, processes, a terminal.

Nothing here starts a container; these are the observations and clean-ups around one.
"""

import contextlib
import errno
import fcntl
import os
import pty
import select
import shutil
import signal
import subprocess
import termios
import time

# binary -> Debian package that ships it (CI installs what is missing with apt-get)
PACKAGES = {
    "/usr/bin/containerd": "containerd",
    "/usr/bin/ctr": "containerd",
    "/usr/bin/containerd-shim-runc-v2": "containerd",
    "/usr/sbin/dockerd": "docker.io",
    "/usr/bin/docker": "docker.io",
    "/usr/bin/docker-init": "docker.io",
    "/usr/bin/podman": "podman",
    "/usr/bin/conmon": "conmon",
    "/usr/bin/gcc": "gcc",
    "/usr/lib/x86_64-linux-gnu/libc.a": "libc6-dev",
    "/bin/busybox": "busybox-static",
    "/usr/bin/umount": "mount",
}


def missing_packages(binaries):
    return sorted({PACKAGES[b] for b in binaries if not os.path.exists(b)})


POLICY_RC_D = "/usr/sbin/policy-rc.d"


@contextlib.contextmanager
def _no_service_starts():
    """Keep the packages' maintainer scripts from starting a system containerd or dockerd.

    invoke-rc.d asks /usr/sbin/policy-rc.d; exit status 101 means "action forbidden" (Debian
    policy, invoke-rc.d(8)). Only a file this function created is removed again.
    """
    if os.path.exists(POLICY_RC_D):
        yield
        return
    with open(POLICY_RC_D, "w") as f:
        f.write("#!/bin/sh\n# written by pyrunc's engine tests while they install packages\nexit 101\n")
    os.chmod(POLICY_RC_D, 0o755)
    try:
        yield
    finally:
        os.unlink(POLICY_RC_D)


def ensure_packages(binaries):
    """Install the Debian packages behind ``binaries`` that are missing; returns what was installed.

    Raises RuntimeError with apt's last lines when installation fails: on CI that is a failure,
    not a reason to skip.
    """
    wanted = missing_packages(binaries)
    if not wanted:
        return []
    if os.geteuid() != 0:
        raise RuntimeError(f"missing packages {' '.join(wanted)} and not root to install them")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with _no_service_starts():
        for argv in (["apt-get", "update", "-q"],
                     ["apt-get", "install", "-y", "-q", "--no-install-recommends", *wanted]):
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)}: exit {done.returncode}: "
                                   f"{done.stderr[-2000:]}")
    still = missing_packages(binaries)
    if still:
        raise RuntimeError(f"installed {' '.join(wanted)} but still missing {' '.join(still)}")
    return wanted


# --- cgroups -------------------------------------------------------------------------------------

def cgroup_roots():
    """Mount points of every cgroup hierarchy (v1 controllers and the v2 tree), from mountinfo,
    and every directory under /sys/fs/cgroup: a runtime told about a hierarchy that has no mount
    here (see unmounted_hierarchies) creates plain directories on the tmpfs in its place."""
    roots = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype in ("cgroup", "cgroup2"):
                roots.add(fields[4])
    if not unified() and os.path.isdir("/sys/fs/cgroup"):
        roots.update(e.path for e in os.scandir("/sys/fs/cgroup") if e.is_dir(follow_symlinks=False))
    return sorted(roots)


def unmounted_hierarchies():
    """v1 hierarchies this process belongs to (/proc/self/cgroup) that have no mount here.

    A hierarchy outlives its last mount while it has child cgroups, or is mounted only in another
    mount namespace; containerd 1.6's shim then fails to load any task's cgroup ("cannot find
    cgroup mount destination") and has no metrics and no OOM events to give.
    """
    mounted = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup":
                mounted.update(fields[-1].split(","))
    missing = []
    with open("/proc/self/cgroup") as f:
        for line in f:
            controllers = line.split(":")[1]
            if controllers and not set(controllers.split(",")) <= mounted:
                missing.append(controllers)
    return missing


def unified():
    """True on a pure cgroup v2 host (one tree at /sys/fs/cgroup)."""
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def cgroup_file(cgroup, v1, v2):
    """Path of a controller file of the absolute ``cgroup``.

    ``v1`` names it as "controller/file" (memory/memory.limit_in_bytes), ``v2`` as the unified file.
    """
    if unified():
        return os.path.join("/sys/fs/cgroup", cgroup.lstrip("/"), v2)
    controller, name = v1.split("/")
    return os.path.join("/sys/fs/cgroup", controller, cgroup.lstrip("/"), name)


def read_cgroup(cgroup, v1, v2):
    with open(cgroup_file(cgroup, v1, v2)) as f:
        return f.read().strip()


def cgroup_dirs(parent):
    """Every cgroup directory at or below ``parent`` in every hierarchy, as full paths."""
    found = set()
    for root in cgroup_roots():
        top = os.path.join(root, parent.lstrip("/"))
        for dirpath, _dirs, _files in os.walk(top):
            found.add(dirpath)
    return found


def cgroup_pids(parent):
    """Pids in any cgroup at or below ``parent`` (a live process is listed in every hierarchy)."""
    pids = set()
    for d in cgroup_dirs(parent):
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids.update(int(p) for p in f.read().split())
        except FileNotFoundError:
            pass  # removed between the walk and the read
    return pids


def remove_cgroups(parent):
    """rmdir the cgroups below and at ``parent``, deepest first (a cgroup can only go empty)."""
    for d in sorted(cgroup_dirs(parent), key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError as e:
            if e.errno not in (errno.ENOENT,):
                raise


# --- mounts ----------------------------------------------------------------------------------------

def _unescape(path):
    # mountinfo escapes space, tab, newline and backslash as octal (proc(5))
    return path.encode().decode("unicode_escape") if "\\" in path else path


def mounts_under(prefix):
    """Mount points at or below ``prefix``, in mount order."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = _unescape(line.split()[4])
            if point == prefix or point.startswith(prefix.rstrip("/") + "/"):
                found.append(point)
    return found


def unmount_under(prefix):
    """Detach every mount below ``prefix``, newest first (engines leave overlay, shm, binds)."""
    for point in reversed(mounts_under(prefix)):
        subprocess.run(["umount", "-l", point], capture_output=True)


# --- processes ---------------------------------------------------------------------------------------

def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except OSError:
        return None


def live(pid):
    """True while ``pid`` exists and is not a zombie (a zombie no longer holds anything)."""
    state = _state(pid)
    return state is not None and state not in ("Z", "X")


def processes_mentioning(text):
    """Live pids whose command line contains ``text`` (daemons, shims, conmons name our tmp dir)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and live(int(entry)):
            pids.add(int(entry))
    pids.discard(os.getpid())
    return pids


def stop_pid(pid, timeout=20.0):
    """SIGTERM, then SIGKILL after ``timeout``; waits until the process is gone or a zombie."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while live(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if live(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        while live(pid):
            time.sleep(0.05)


def remove_tree(path):
    unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)


# --- a controlling terminal -----------------------------------------------------------------------

def run_in_pty(argv, send=b"", timeout=30.0, env=None):
    """Run ``argv`` with a new pty as its controlling terminal and stdio; returns (rc, output).

    ``send`` is typed into the terminal once the command is running. The output is everything the
    terminal showed (the echo of ``send`` included), with CRLF as the line discipline writes it.
    """
    master, slave = pty.openpty()
    # a sensible size: engines copy the terminal size into the container's console
    fcntl.ioctl(slave, termios.TIOCSWINSZ, b"\x18\x00\x50\x00\x00\x00\x00\x00")

    def controlling_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                            preexec_fn=controlling_terminal, close_fds=True)
    os.close(slave)
    output = bytearray()
    deadline = time.monotonic() + timeout
    sent = not send
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError as e:  # EIO: every slave fd is closed
                    if e.errno != errno.EIO:
                        raise
                    break
                if not chunk:
                    break
                output += chunk
            if not sent and output:
                os.write(master, send)  # first output shows the command is reading the terminal
                sent = True
            if proc.poll() is not None and not ready:
                break
        else:
            proc.kill()
            raise TimeoutError(f"{argv[0]}: no exit within {timeout}s; output: {bytes(output)!r}")
        return proc.wait(timeout=timeout), output.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
