"""Parent side of create and exec: plan as data, fork, drive the protocol.

Everything that can be decided before fork is decided here (namespaces, id
maps, mount plan, process attributes, seccomp program), so the children run a
short, validated plan.  On any failure the parent kills what it started and
removes what it made, then raises one error.
"""

import os
import _signal as signal  # the C module: signal.py's enums would import enum on every create

from pyrunc import OCI_VERSION, protocol
from pyrunc.errors import ConfigError, PyruncError
from pyrunc.linux import ns as _ns
from pyrunc.linux import caps as _caps
from pyrunc.oci import state as _state
from pyrunc.oci.process import PERSONALITY, plan_process


class LaunchPlan:
    """What the children execute.  Plain attributes, filled by plan_*()."""

    mode = "create"
    id = ""
    bundle = ""
    annotations = None
    join = ()
    new_flags = 0
    # Cgroup placement, done by the bootstrap (pyrunc.init.bootstrap): the
    # manager's join_targets(), and whether the init is forked into the v2 cgroup.
    cgroup = ((), None, False)
    clone_into_cgroup = False
    # The cgroup namespace is entered by the init itself, once it is in its cgroup:
    # unshare (flag) or setns (path, opened by the bootstrap as cgroupns_fd).
    init_unshare = 0
    cgroupns_path = None
    cgroupns_fd = None
    # Cloned by the parent itself (no bootstrap; see direct()), and whether
    # clone3 placed it in the v2 cgroup.
    direct = False
    born_in_cgroup = False
    new_user = False
    uid_map = gid_map = ""
    root_mapped = True
    setgroups_allowed = True
    time_offsets = None
    rootfs = None
    process = None
    hostname = domainname = None
    sysctl = {}
    hooks = None
    has_runtime_hooks = False
    seccomp = None
    seccomp_listener = None
    seccomp_metadata = ""
    loopback = False
    new_keyring = True
    preserve_fds = 0
    personality = None
    state_dir_fd = None
    parent_fds = ()  # the parent's own fds (the state-dir lock): closed first in the child
    console_sock = None
    listener_sock = None

    def hook_state(self, pid, status):
        return {"ociVersion": OCI_VERSION, "id": self.id, "status": status, "pid": pid,
                "bundle": self.bundle, "annotations": self.annotations or {}}

    def send_listener(self, fd):
        # In the init: hand the seccomp listener to the parent, which can still
        # reach listenerPath on the host.
        import socket
        socket.send_fds(self.listener_sock, [b"seccomp"], [fd])


def _id_map(mappings):
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in mappings or ())


def plan_namespaces(plan, linux):
    join = []
    for n in linux.get("namespaces") or ():
        kind, path = n["type"], n.get("path")
        if path:
            join.append((kind, path))
        elif kind == "user":
            plan.new_user = True
        else:
            plan.new_flags |= _ns.NAMESPACES[kind][0]
    join.sort(key=lambda j: j[0] != "user")
    plan.join = join
    if plan.new_flags & _ns.CLONE_NEWCGROUP:
        plan.new_flags &= ~_ns.CLONE_NEWCGROUP
        plan.init_unshare = _ns.CLONE_NEWCGROUP
    plan.loopback = bool(plan.new_flags & _ns.CLONE_NEWNET)
    if plan.new_user:
        plan.uid_map = _id_map(linux.get("uidMappings"))
        plan.gid_map = _id_map(linux.get("gidMappings"))
        plan.root_mapped = any(m["containerID"] == 0 for m in linux.get("uidMappings") or ())
    offsets = linux.get("timeOffsets")
    if offsets and plan.new_flags & _ns.CLONE_NEWTIME:
        plan.time_offsets = "".join(
            f"{clock} {v.get('secs', 0)} {v.get('nanosecs', 0)}\n" for clock, v in offsets.items())


def plan_process_for(plan, proc, where="process"):
    plan.process = plan_process(proc, where, _caps.NUMBERS, _caps.last_cap())
    if plan.process.apparmor and not os.path.exists("/sys/kernel/security/apparmor"):
        raise ConfigError(f"{where}.apparmorProfile", "apparmor is not enabled on this host")
    if plan.process.selinux and not os.path.exists("/sys/fs/selinux/enforce"):
        raise ConfigError(f"{where}.selinuxLabel", "selinux is not enabled on this host")


def plan_seccomp(plan, linux):
    sc = linux.get("seccomp")
    if not sc:
        return
    from pyrunc.seccomp.compile import compile_filter
    plan.seccomp = compile_filter(sc)
    plan.seccomp_listener = sc.get("listenerPath") or None
    plan.seccomp_metadata = sc.get("listenerMetadata") or ""


def plan_create(config, bundle, container_id, opts, cgroup_mgr):
    from pyrunc.init import rootfs as _rootfs
    plan = LaunchPlan()
    plan.id = container_id
    plan.bundle = bundle
    plan.annotations = config.get("annotations") or {}
    linux = config.get("linux") or {}
    plan_namespaces(plan, linux)
    plan_process_for(plan, config["process"])
    plan.hostname = config.get("hostname")
    plan.domainname = config.get("domainname")
    plan.sysctl = linux.get("sysctl") or {}
    plan.hooks = config.get("hooks") or None
    if plan.hooks:
        # The init runs startContainer hooks after pivot_root, where nothing
        # can be imported: load what that needs now.
        import pyrunc.hooks  # noqa: F401
    plan.has_runtime_hooks = bool(plan.hooks and (plan.hooks.get("prestart")
                                                  or plan.hooks.get("createRuntime")))
    pers = linux.get("personality")
    if pers:
        plan.personality = PERSONALITY[pers["domain"]]
    plan_seccomp(plan, linux)
    plan.new_keyring = not opts.no_new_keyring
    plan.preserve_fds = opts.preserve_fds + _listen_fds()
    plan.rootfs = _rootfs.plan_rootfs(config, bundle, cgroup_mounts=cgroup_mgr.mounts(),
                                      no_pivot=opts.no_pivot, userns=plan.new_user)
    return plan


def _listen_fds():
    # systemd socket activation: LISTEN_FDS fds after stdio are passed through (as runc).
    try:
        return max(0, int(os.environ.get("LISTEN_FDS", "0")))
    except ValueError:
        return 0


class Spawned:
    """What spawn() started: the init's pid and how to undo it."""

    def __init__(self, pid, start_time):
        self.pid = pid
        self.start_time = start_time


def spawn(plan, cgroup_mgr, run_runtime_hooks=None, before_go=None, on_pid=None):
    """Start the init and drive the protocol until it is READY.

    The children place themselves in the cgroup (pyrunc.init.join): the init is
    in it before it runs anything, and a cgroup namespace (entered by the init)
    is rooted there.  before_go (the cgroup's limits) runs while the init
    builds its root filesystem; GO lets it go on to the hooks and the rest.
    on_pid(pid, start_time) runs as soon as the init's pid is known, also while
    the init works (the caller writes the state file there).
    """
    plan_cgroup(plan, cgroup_mgr)
    started = _clone_init(plan) if direct(plan) else None
    if started:
        pid, parent = None, started[1]
        init_pid = started[0]
    else:
        pid, parent = _fork_bootstrap(plan)
        init_pid = 0
    try:
        early = []
        if pid and plan.new_user:
            parent.expect(protocol.USERNS)
            write_id_maps(pid, plan)
            parent.send(protocol.MAPPED)
        # The init waits for GO only before the runtime hooks (stage "cgroup
        # limits"): its rootfs work and our limit writes overlap.
        if before_go:
            before_go()
        try:
            parent.send(protocol.GO)
        except BrokenPipeError:
            pass  # the children are gone: their ERROR (or end of file) follows
        if pid:
            init_pid, early = _await_pid(parent)
            _reap(pid)
        start = _state.proc_start_time(init_pid)
        if on_pid and start is not None:
            on_pid(init_pid, start)
        while True:
            msg = early.pop(0) if early else parent.recv()
            if msg is None:
                raise PyruncError("container init exited during set-up")
            kind = msg["kind"]
            if kind == protocol.READY:
                break
            if kind == protocol.ERROR:
                raise protocol.error_from(msg)
            if kind == protocol.HOOKS:
                run_runtime_hooks(init_pid)
                parent.send(protocol.HOOKS_DONE)
        if start is None or _state.proc_start_time(init_pid) != start:
            raise PyruncError("container init exited during set-up")
        return Spawned(init_pid, start)
    except BaseException:
        _kill_started(pid, init_pid)
        raise
    finally:
        parent.close()


def _await_pid(chan):
    """The bootstrap's PID message, and whatever the init sent before it: both
    write to the same pipe, and on a loaded machine the init can outrun its
    parent."""
    early = []
    while True:
        msg = chan.recv()
        if msg is None:
            raise PyruncError("container init exited during set-up")
        if msg["kind"] == protocol.ERROR:
            raise protocol.error_from(msg)
        if msg["kind"] == protocol.PID:
            return msg["pid"], early
        early.append(msg)


def plan_cgroup(plan, cgroup_mgr):
    """Where the children put themselves (see pyrunc.init.bootstrap).

    A cgroup namespace to join is set aside for the init; clone3 into the v2
    cgroup is used unless a user namespace is involved (the kernel would check
    the container's root, not ours, against the cgroup's files)."""
    plan.cgroup = cgroup_mgr.join_targets()
    for kind, path in plan.join:
        if kind == "cgroup":
            plan.cgroupns_path = path
    plan.join = [j for j in plan.join if j[0] != "cgroup"]
    plan.clone_into_cgroup = bool(plan.cgroup[1] and not plan.new_user
                                  and all(kind != "user" for kind, _ in plan.join))


def direct(plan):
    """Whether we clone the init ourselves, straight into its new namespaces,
    with no bootstrap process: nothing to join by path (that needs setns in a
    child, and a pid namespace joined applies only to its children), no user
    namespace (its id maps are written between its creation and the others'),
    no time offsets (written before any process enters the time namespace)."""
    return (plan.mode == "create" and not plan.new_user and not plan.join
            and not plan.cgroupns_path and not plan.time_offsets)


def _clone_init(plan):
    """clone3 the init into its namespaces and v2 cgroup; (its pid, our channel),
    or None when this kernel cannot (the bootstrap path then does it)."""
    from pyrunc.init import join
    from pyrunc.init.stages import run_init
    from pyrunc.linux import clone, prctl

    parent, child = protocol.pipes()
    # Born inside the container's namespaces: non-dumpable from its first
    # instruction (CVE-2019-5736), which it inherits from us.
    prctl.set_dumpable(False)
    cgroup_fd = None
    plan.direct = True
    pid = None
    try:
        if plan.cgroup[1]:
            cgroup_fd = join.open_v2(plan)
        for fd in ((cgroup_fd, None) if cgroup_fd is not None else (None,)):
            plan.born_in_cgroup = fd is not None
            try:
                pid = clone.clone(plan.new_flags, fd)
                break
            except OSError as e:
                if e.errno not in clone.UNSUPPORTED:
                    raise PyruncError(f"clone3: {e.strerror.lower()}") from None
        if pid == 0:
            _child(plan, parent, child, run_init)
    except BaseException:
        parent.close()
        raise
    finally:
        child.close()
        if cgroup_fd is not None:
            os.close(cgroup_fd)
    if pid is None:
        plan.direct = False  # this kernel has no clone3: the bootstrap path
        parent.close()
        return None
    return pid, parent


def _child(plan, parent, child, run):
    """In a new child; never returns.  Its code was loaded before the fork: a
    child importing pays a copy-on-write fault for every page it touches
    (measured 1.5-3x slower than the same imports in the parent)."""
    try:
        parent.close()
        run(plan, child)
    finally:
        os._exit(1)


def _fork_bootstrap(plan):
    """Fork the bootstrap child (it never returns); (its pid, our channel)."""
    from pyrunc.init.bootstrap import bootstrap

    parent, child = protocol.pipes()
    pid = os.fork()
    if pid == 0:
        _child(plan, parent, child, bootstrap)
    child.close()
    return pid, parent


def _kill_started(bootstrap_pid, init_pid):
    """Undo a spawn that failed: kill what was started and reap what is ours."""
    for p in (init_pid, bootstrap_pid):
        if p:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if bootstrap_pid:
        _reap(bootstrap_pid)
    if init_pid:
        _reap(init_pid)


def _reap(pid):
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def write_id_maps(pid, plan):
    for name, data in (("uid_map", plan.uid_map), ("gid_map", plan.gid_map)):
        if not data:
            continue
        path = f"/proc/{pid}/{name}"
        try:
            with open(path, "w") as f:
                f.write(data)
        except OSError as e:
            raise PyruncError(f"writing {name}: {e.strerror.lower()}: {data.strip()!r}") from None


# -- exec: a new process in a running container --------------------------------

def exec_namespaces(init_pid):
    """(kind, path) for every namespace of the container's init that differs
    from ours, user namespace first.  A namespace the container shares with
    the host is left alone: setns(2) into one's own user namespace is EINVAL."""
    join = []
    for kind, (_flag, name) in _ns.NAMESPACES.items():
        theirs = f"/proc/{init_pid}/ns/{name}"
        try:
            t = os.stat(theirs)
            o = os.stat(f"/proc/self/ns/{name}")
        except FileNotFoundError:
            continue  # a namespace kind this kernel lacks
        except ProcessLookupError:
            raise PyruncError("container not running") from None
        if (t.st_dev, t.st_ino) != (o.st_dev, o.st_ino):
            join.append((kind, theirs))
    join.sort(key=lambda j: j[0] != "user")
    return join


def plan_exec(config, state, init_pid, proc, preserve_fds=0):
    """The plan for `exec`: join the init's namespaces, then run `proc` with
    the container's seccomp filter."""
    plan = LaunchPlan()
    plan.mode = "exec"
    plan.id = state["id"]
    plan.bundle = state["bundle"]
    plan.annotations = state.get("annotations") or {}
    linux = config.get("linux") or {}
    plan.join = exec_namespaces(init_pid)
    plan_process_for(plan, proc)
    plan_seccomp(plan, linux)
    plan.preserve_fds = preserve_fds
    return plan


def spawn_exec(plan, cgroup_mgr, after_ready=None):
    """Fork the bootstrap child (which joins the cgroup) and wait until the
    process has exec'd; return its pid.

    The upward pipe stays open past READY: its write end is close-on-exec, so
    end of file there means execve succeeded, and a failure of the last stages
    (seccomp, execve itself) still arrives as an ERROR.  after_ready(pid)
    runs between the two: a seccomp listener must reach its agent before
    execve, which the filter may already route to it.
    """
    plan_cgroup(plan, cgroup_mgr)
    pid, parent = _fork_bootstrap(plan)
    # The child's ends of the console and listener sockets: with our copies
    # closed, a child that dies leaves end of file there, not a hang.
    for sock in (plan.console_sock, plan.listener_sock):
        if sock is not None:
            sock.close()
    init_pid = 0
    try:
        init_pid, early = _await_pid(parent)
        _reap(pid)
        msg = early.pop(0) if early else parent.recv()
        if msg is None:
            raise PyruncError("exec: the process exited during set-up")
        if msg["kind"] == protocol.ERROR:
            raise protocol.error_from(msg)
        if msg["kind"] != protocol.READY:
            raise PyruncError(f"protocol: unexpected {msg['kind']} during exec set-up")
        if after_ready:
            try:
                after_ready(init_pid)
            except BaseException:
                # The child's own account of why, when it gave one.
                _raise_child_error(early.pop(0) if early else parent.recv())
                raise
        msg = early.pop(0) if early else parent.recv()
        if msg is not None:
            if msg["kind"] == protocol.ERROR:
                raise protocol.error_from(msg)
            raise PyruncError(f"protocol: unexpected {msg['kind']} after ready")
        return init_pid
    except BaseException:
        _kill_started(pid, init_pid)
        raise
    finally:
        parent.close()


def _raise_child_error(msg):
    if msg is not None and msg["kind"] == protocol.ERROR:
        raise protocol.error_from(msg)
