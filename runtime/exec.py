"""exec: run a new process inside a running container.

The process is the container's config process with the caller's overrides,
or a whole process object from a JSON file (runc's `exec --process`).  It
joins every namespace of the container's init, the container's cgroup and
its seccomp filter; the parent side lives in pyrunc.launch (plan_exec,
spawn_exec), the child side in pyrunc.init.stages.EXEC_STAGES.
"""

import marshal
import os
import _signal as signal  # the C module: signal.py's enums would import enum on every create

from pyrunc.errors import ConfigError, InvalidState, PyruncError
from pyrunc.oci import jsonload
from pyrunc.oci import state as S


class ExecOptions:
    """exec options as the CLI parsed them (runc's flag names)."""

    process = None          # path of a process JSON file: replaces the config's process
    args = ()               # the command, when no process file is given
    tty = False
    console_socket = None
    detach = False
    pid_file = None
    cwd = None
    env = ()
    user = None             # "UID[:GID]"
    additional_gids = ()
    caps = ()
    no_new_privs = None     # None: keep the config's value
    apparmor = None
    process_label = None
    preserve_fds = 0
    cgroup = ()             # "[controller:]sub-cgroup" entries
    ignore_paused = False
    warn = None             # callable(message) for warnings, or None


def load_process_file(path):
    try:
        with open(path, "rb") as f:
            proc = jsonload.loads(f.read())
    except OSError as e:
        raise PyruncError(f"{path}: {e.strerror.lower()}") from None
    except ValueError as e:
        raise ConfigError("", f"invalid json: {e}", path) from None
    if not isinstance(proc, dict):
        raise ConfigError("", "must be a json object", path)
    return proc


def build_process(config, opts):
    """The process to run, as runc's exec builds it (exec.go getProcess)."""
    if opts.process:
        proc = load_process_file(opts.process)
        where = opts.process
    else:
        # A deep copy of JSON data, in C (copy.deepcopy costs its import and more).
        proc = marshal.loads(marshal.dumps(config.get("process") or {}))
        where = "config.json"
        proc["args"] = list(opts.args)
        if opts.cwd:
            proc["cwd"] = opts.cwd
        if opts.apparmor:
            proc["apparmorProfile"] = opts.apparmor
        if opts.process_label:
            proc["selinuxLabel"] = opts.process_label
        if opts.caps:
            caps = proc.setdefault("capabilities", {})
            for name in opts.caps:
                for s in ("bounding", "effective", "permitted"):
                    caps.setdefault(s, []).append(name)
                # Ambient needs inheritable, which --cap does not add: only
                # where the config already has an inheritable set (as runc).
                if caps.get("inheritable") is not None:
                    caps.setdefault("ambient", []).append(name)
        proc["env"] = list(proc.get("env") or []) + list(opts.env)
        # Never a terminal unless asked for on the command line.
        proc["terminal"] = bool(opts.tty)
        if opts.no_new_privs is not None:
            proc["noNewPrivileges"] = opts.no_new_privs
        user = proc.setdefault("user", {"uid": 0, "gid": 0})
        if opts.user:
            uid, sep, gid = opts.user.partition(":")
            user["uid"] = _int(uid, "uid", opts.user)
            if sep:
                user["gid"] = _int(gid, "gid", opts.user)
        if opts.additional_gids:
            user["additionalGids"] = [_int(g, "additional gid", g) for g in opts.additional_gids]
    if not proc.get("args"):
        raise ConfigError("args", "must not be empty", where)
    cwd = proc.get("cwd")
    if not cwd:
        raise ConfigError("cwd", "must not be empty", where)
    if not cwd.startswith("/"):
        raise ConfigError("cwd", f"must be an absolute path: {cwd}", where)
    return proc


def _int(text, what, whole):
    try:
        v = int(text, 10)
    except ValueError:
        v = -1
    if v < 0:
        raise PyruncError(f"--user/--additional-gids: {what} {text!r} in {whole!r}: must be a number >= 0")
    return v


def cgroup_for(mgr, subs):
    """The container's cgroup manager, or one whose paths are the existing
    sub-cgroups named by --cgroup ("[controller[,controller]:]path")."""
    if not subs:
        return mgr
    from pyrunc.cgroups import Manager
    d = mgr.to_dict()
    for spec in subs:
        ctrls, sep, sub = spec.rpartition(":")
        sub = sub.strip("/")
        if not sub or ".." in sub.split("/"):
            raise PyruncError(f"--cgroup {spec!r}: must name a sub-cgroup inside the container's")
        if d.get("version") == 2:
            if ctrls:
                raise PyruncError(f"--cgroup {spec!r}: controller names need cgroup v1")
            d["path"] = _existing(os.path.join(d["path"], sub), spec)
            continue
        keys = ctrls.split(",") if ctrls else list(d["paths"])
        for k in keys:
            if k not in d["paths"]:
                raise PyruncError(f"--cgroup {spec!r}: controller {k} is not in the container's cgroup")
            d["paths"][k] = _existing(os.path.join(d["paths"][k], sub), spec)
    return Manager.from_dict(d)


def _existing(path, spec):
    if not os.path.isdir(path):
        raise PyruncError(f"--cgroup {spec!r}: {path}: no such cgroup")
    return path


def exec_process(root, container_id, opts):
    """Run a process in the container.  Returns its exit status in the
    foreground (128+N when killed by signal N), 0 with --detach."""
    from pyrunc.lifecycle import FORWARDED, _wait, write_pid_file
    from pyrunc.linux import prctl

    saved_mask = None
    if not opts.detach:
        # The exec'd process is our grandchild: as subreaper we get it back when
        # the bootstrap child exits (the kernel looks for a subreaper at the
        # exiting parent's pid-namespace level, i.e. the host's).
        prctl.set_child_subreaper()
        saved_mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    try:
        pid, master = _start(root, container_id, opts)
        if opts.pid_file:
            write_pid_file(opts.pid_file, pid)
        if opts.detach:
            return 0
        return _wait(pid, master, saved_mask)
    finally:
        if saved_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)


def _start(root, container_id, opts):
    from pyrunc.container import Container
    from pyrunc.launch import plan_exec, spawn_exec

    # A shared lock while the state is read: never beside a delete.
    c = Container.load(root, container_id, exclusive=False)
    local = None
    listener_parent = None
    try:
        status = c.status()
        if status == S.STOPPED:
            raise InvalidState("cannot exec in a stopped container")
        if status == S.PAUSED and not opts.ignore_paused:
            raise InvalidState("cannot exec in a paused container (use --ignore-paused to override)")
        config = c.state.get("config") or {}
        proc = build_process(config, opts)
        plan = plan_exec(config, c.state, c.pid, proc, opts.preserve_fds)
        ignored = getattr(plan.process, "ignored_caps", None)
        if ignored and opts.warn:
            # runc warns about capabilities it cannot apply and carries on.
            opts.warn("ignoring unknown or unavailable capabilities: " + ", ".join(ignored))
        terminal = plan.process.terminal
        if terminal and opts.detach and not opts.console_socket:
            raise PyruncError("cannot allocate tty if pyrunc will detach without setting console socket")
        if opts.console_socket and not terminal:
            raise PyruncError("cannot use console socket if pyrunc will not detach or allocate tty")
        mgr = cgroup_for(c.cgroup(), opts.cgroup)
        if terminal:
            import socket
            from pyrunc import console
            if opts.console_socket:
                plan.console_sock = console.connect(opts.console_socket)
            else:
                local, plan.console_sock = socket.socketpair(
                    socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        if plan.seccomp_listener:
            import socket
            listener_parent, plan.listener_sock = socket.socketpair(
                socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        # The lock is for reading the state only: a process joining a paused
        # container waits frozen until `resume`, which needs the lock.
        c.close()
        after_ready = None
        if listener_parent is not None:
            def after_ready(pid):
                _forward_listener(plan, listener_parent, c, pid)
        pid = spawn_exec(plan, mgr, after_ready)
        master = None
        if local is not None:
            from pyrunc import console
            try:
                master = console.recv_master(local)
            except BaseException:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                raise
        return pid, master
    finally:
        for sock in (local, listener_parent):
            if sock is not None:
                sock.close()
        c.close()


def _forward_listener(plan, sock, container, pid):
    from pyrunc import console
    from pyrunc.seccomp.notify import send_listener
    try:
        fd = console.recv_master(sock)
    except (OSError, ValueError, IndexError):
        raise PyruncError("seccomp: the process exited before handing over its listener") from None
    try:
        state = container.hook_state(S.RUNNING)
        send_listener(plan.seccomp_listener, fd, state,
                      ((container.state.get("config") or {}).get("linux") or {})
                      .get("seccomp", {}).get("listenerMetadata", ""))
    finally:
        os.close(fd)
