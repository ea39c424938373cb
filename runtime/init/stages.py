"""The container's init: a table of small named stages, run in order.

Each stage is a function of the init context.  The order is the point; every
constraint is stated where it binds:

- the rootfs is prepared in the new mount namespace, before the runtime hooks
  (createRuntime runs "after the namespaces are created, before pivot_root");
- createContainer hooks run in the container's namespaces before pivot_root;
- the console is opened after pivot_root, from the container's own devpts;
- sysctls are written before readonlyPaths makes /proc/sys read-only;
- limits are set while CAP_SYS_RESOURCE is still held, before identity drops it;
- seccomp is loaded last, just before execve, when no_new_privs is set, and
  before identity otherwise, because then loading it needs CAP_SYS_ADMIN.

A failure before READY is sent to the parent as data and the init exits; the
parent reports it and removes everything.
"""

import fcntl
import os
import _signal as signal  # the C module: signal.py's enums would import enum on every create
import struct

import _socket  # the C module: socket.py's enum set-up is start-up time we don't need

from pyrunc import protocol
from pyrunc.init import identity, join, rootfs
from pyrunc.linux import fds, keyring, ns, prctl, sched, uts
from pyrunc.linux import seccomp as seccomp_load

# Signals a created (not yet started) init dies of.  pid 1 of a namespace only
# receives the signals it handles (pid_namespaces(7)), so handlers are needed.
_DEATH_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                  signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM)


class InitContext:
    def __init__(self, plan, chan):
        self.plan = plan
        self.chan = chan
        self.exe = None
        self.ready_sent = False
        self.console_master = None
        self.fifo_write_fd = None


def _die(signum, frame):
    os._exit(128 + signum)


def stage_direct(ctx):
    """What the bootstrap does when there is none (pyrunc.launch.direct): we were
    cloned by the runtime straight into our namespaces (and v2 cgroup)."""
    p = ctx.plan
    if not p.direct:
        return
    for fd in p.parent_fds:  # the state directory's lock (see bootstrap)
        os.close(fd)
    join.join_v1(p)
    if not p.born_in_cgroup:
        join.join_v2(p)


def stage_cgroupns(ctx):
    # After the bootstrap (or clone3) made us a member of the container's cgroup:
    # a cgroup namespace is rooted at its creator's cgroup (cgroup_namespaces(7)).
    p = ctx.plan
    if p.cgroupns_fd is not None:
        ns.setns(p.cgroupns_fd, ns.CLONE_NEWCGROUP, p.cgroupns_path)
        os.close(p.cgroupns_fd)
        p.cgroupns_fd = None
    elif p.init_unshare:
        ns.unshare(p.init_unshare)


def stage_session(ctx):
    # `run` blocks the signals it forwards while it creates; not ours to keep.
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    os.setsid()
    for sig in _DEATH_SIGNALS:
        signal.signal(sig, _die)


def stage_loopback(ctx):
    if ctx.plan.loopback:
        loopback_up()


def loopback_up():
    # A new network namespace has only a down loopback; runc brings it up.
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        ifr = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s.fileno(), 0x8913, ifr))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH14s", b"lo", flags | 0x1, b""))  # IFF_UP
    finally:
        s.close()


def stage_prepare_rootfs(ctx):
    rootfs.prepare_rootfs(ctx.plan.rootfs)


def stage_cgroup_limits(ctx):
    # The parent writes the cgroup's limits while we build the rootfs; none of
    # the container's code (hooks included) runs before they are in place.
    ctx.chan.expect(protocol.GO)


def stage_runtime_hooks(ctx):
    if ctx.plan.has_runtime_hooks:
        ctx.chan.send(protocol.HOOKS)
        ctx.chan.expect(protocol.HOOKS_DONE)


def stage_create_container_hooks(ctx):
    h = ctx.plan.hooks
    if h and h.get("createContainer"):
        from pyrunc import hooks  # loaded by the planner when there are hooks
        hooks.run_hooks(h, "createContainer", ctx.plan.hook_state(os.getpid(), "created"))


def stage_pivot(ctx):
    rootfs.pivot_rootfs(ctx.plan.rootfs)


def stage_console(ctx):
    p = ctx.plan
    if not p.process.terminal:
        return
    # Imported by the planner before fork when a terminal is asked for
    # (after pivot_root no module can be loaded from the host).
    from pyrunc import console
    master, slave, path = console.open_pty(p.process.console_size)
    if p.mode == "create":
        rootfs.bind_console(path)
    console.send_master(p.console_sock, master, "/dev/ptmx")
    os.close(master)
    p.console_sock.close()
    console.make_controlling(slave)
    if slave > 2:
        os.close(slave)


def stage_hostname(ctx):
    p = ctx.plan
    if p.hostname is not None:
        uts.sethostname(p.hostname)
    if p.domainname is not None:
        uts.setdomainname(p.domainname)


def stage_sysctl(ctx):
    for key, value in ctx.plan.sysctl.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as e:
            raise OSError(e.errno, f"sysctl {key}={value}: {e.strerror}") from None


def stage_finalize_rootfs(ctx):
    rootfs.finalize_rootfs(ctx.plan.rootfs)


def stage_keyring(ctx):
    if ctx.plan.new_keyring:
        try:
            serial = keyring.join_session_keyring("_ses." + ctx.plan.id)
            # possessor: all; user: view/read/write/search/link/setattr (as runc)
            keyring.setperm(serial, 0x3F1F0000 | 0x003F0000)
        except OSError as e:
            # No keyring support (or keyctl filtered out): runc carries on too.
            if e.errno not in (38, 1, 13):  # ENOSYS, EPERM, EACCES
                raise


def stage_limits(ctx):
    identity.apply_limits(ctx.plan.process)
    if ctx.plan.personality is not None:
        sched.personality(ctx.plan.personality)


def stage_no_new_privs(ctx):
    if ctx.plan.process.no_new_privileges:
        prctl.set_no_new_privs()


def stage_seccomp_early(ctx):
    # Without no_new_privs, loading needs CAP_SYS_ADMIN, so before identity.
    # With a NOTIFY listener, before READY: create hands the listener fd to
    # the agent at listenerPath before it returns.
    f = ctx.plan.seccomp
    if f is not None and (not ctx.plan.process.no_new_privileges or f.listener):
        _load_seccomp(ctx)


def stage_identity(ctx):
    identity.set_identity(ctx.plan.process, ctx.plan.setgroups_allowed)


def stage_cwd(ctx):
    # After the uid change, so the user's own permissions apply, and always
    # inside the new root: the host's cwd must never leak (CVE-2024-21626).
    os.chdir(ctx.plan.process.cwd)


def stage_executable(ctx):
    ctx.exe = identity.find_executable(ctx.plan.process)


def stage_fds(ctx):
    # Everything above stdio and the preserved fds is closed at exec; engines
    # leave fds 3 and 4 open (CVE-2024-21626: no host fd may reach the container).
    fds.close_range_cloexec(3 + ctx.plan.preserve_fds)
    for fd in range(3, 3 + ctx.plan.preserve_fds):
        try:
            os.set_inheritable(fd, True)
        except OSError:
            pass


def stage_ready(ctx):
    ctx.chan.send(protocol.READY)
    ctx.chan.close()
    ctx.ready_sent = True


def stage_wait_start(ctx):
    """Block until `start` opens the exec fifo for reading.

    The fifo is opened relative to the state directory's fd, not through
    /proc/self/fd: this process is non-dumpable, so after the uid change its
    /proc/self/fd is no longer its own to read.  The write end stays open
    (close-on-exec) so that `start` sees end-of-file exactly when the user's
    program has been exec'd, and runs poststart hooks only then.
    """
    p = ctx.plan
    if p.state_dir_fd is None:
        return
    fd = os.open("exec.fifo", os.O_WRONLY | os.O_CLOEXEC, dir_fd=p.state_dir_fd)
    os.close(p.state_dir_fd)
    os.write(fd, b"0")
    ctx.fifo_write_fd = fd


def stage_start_hooks(ctx):
    h = ctx.plan.hooks
    if h and h.get("startContainer"):
        # Loaded by the planner when there are hooks: this is after pivot_root.
        from pyrunc import hooks
        try:
            hooks.run_hooks(h, "startContainer", ctx.plan.hook_state(os.getpid(), "created"))
        except hooks.HookError as e:
            # runtime-spec: a failing startContainer hook is an error of
            # `start`, which is still reading the exec fifo.
            if ctx.fifo_write_fd is not None:
                os.write(ctx.fifo_write_fd, b"E" + str(e).encode()[:4000])
            raise


def stage_seccomp(ctx):
    f = ctx.plan.seccomp
    if f is not None and ctx.plan.process.no_new_privileges and not f.listener:
        _load_seccomp(ctx)


def _load_seccomp(ctx):
    f = ctx.plan.seccomp
    listener = seccomp_load.load(f.program, f.flags)
    if listener is not None:
        ctx.plan.send_listener(listener)
        os.close(listener)


def stage_exec(ctx):
    # Python ignores SIGPIPE and SIGXFSZ; ignored dispositions survive execve,
    # so restore them (as subprocess's restore_signals does).
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    p = ctx.plan.process
    env = dict(e.split("=", 1) if "=" in e else (e, "") for e in p.env)
    os.execve(ctx.exe, p.args, env)


CREATE_STAGES = (
    ("cgroup", stage_direct),
    ("cgroupns", stage_cgroupns),
    ("session", stage_session),
    ("network", stage_loopback),
    ("rootfs", stage_prepare_rootfs),
    ("cgroup limits", stage_cgroup_limits),
    ("createRuntime hooks", stage_runtime_hooks),
    ("createContainer hooks", stage_create_container_hooks),
    ("pivot_root", stage_pivot),
    ("console", stage_console),
    ("hostname", stage_hostname),
    ("sysctl", stage_sysctl),
    ("rootfs", stage_finalize_rootfs),
    ("keyring", stage_keyring),
    ("limits", stage_limits),
    ("no_new_privs", stage_no_new_privs),
    ("seccomp", stage_seccomp_early),
    ("identity", stage_identity),
    ("cwd", stage_cwd),
    ("exec", stage_executable),
    ("fds", stage_fds),
    ("ready", stage_ready),
    ("start", stage_wait_start),
    ("startContainer hooks", stage_start_hooks),
    ("seccomp", stage_seccomp),
    ("exec", stage_exec),
)

def stage_exec_ready(ctx):
    # The channel stays open (close-on-exec): the parent takes end of file as
    # "exec'd", and a failure of the stages below still reaches it as data.
    ctx.chan.send(protocol.READY)


# `exec` into a running container: its namespaces already hold the rootfs.
# setns(CLONE_NEWNS) already moved root and cwd to the container's root
# (setns(2)); the chdir makes that explicit before anything opens a path.
EXEC_STAGES = (
    ("cgroupns", stage_cgroupns),
    ("session", stage_session),
    ("cwd", lambda ctx: os.chdir("/")),
    ("console", stage_console),
    ("keyring", stage_keyring),
    ("limits", stage_limits),
    ("no_new_privs", stage_no_new_privs),
    ("seccomp", stage_seccomp_early),
    ("identity", stage_identity),
    ("cwd", stage_cwd),
    ("exec", stage_executable),
    ("fds", stage_fds),
    ("ready", stage_exec_ready),
    ("seccomp", stage_seccomp),
    ("exec", stage_exec),
)


def run_init(plan, chan):
    """Run the stages; never returns."""
    ctx = InitContext(plan, chan)
    name = "init"
    try:
        for name, stage in (EXEC_STAGES if plan.mode == "exec" else CREATE_STAGES):
            stage(ctx)
        os._exit(127)  # unreachable: stage_exec replaces the process
    except BaseException as e:  # noqa: B036 - every failure leaves as data
        if not ctx.ready_sent:
            protocol.send_error(chan, name, e)
        else:
            msg = getattr(e, "strerror", None) or str(e)
            try:
                os.write(2, f"pyrunc: {name}: {msg}\n".encode())
            except OSError:
                pass
        os._exit(127 if name == "exec" else 1)

