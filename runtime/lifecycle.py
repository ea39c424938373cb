"""create and run: the verbs that bring a container into being."""

import os
import select
import _signal as signal  # the C module: signal.py's enums would import enum on every create

from pyrunc import OCI_VERSION, store
from pyrunc.container import Container, load_config, validate_config, wait_gone
from pyrunc.errors import PyruncError
from pyrunc.oci import state as S

# Signals `run` forwards to the container's process (all but the ones that
# cannot be caught or that concern the runtime's own job control).
FORWARDED = tuple(s for s in range(1, 32)
                  if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGWINCH,
                               signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU))


def create(root, container_id, opts, internal_console=False):
    """Create a container; returns (Container, console master fd or None)."""
    store.check_id(container_id)
    bundle = os.path.abspath(opts.bundle)
    config = load_config(bundle)
    validate_config(config, bundle)
    from pyrunc.cgroups import open_manager
    from pyrunc.launch import plan_create, spawn

    linux = config.get("linux") or {}
    mgr = open_manager(linux.get("cgroupsPath"), container_id, rootless=opts.rootless)
    plan = plan_create(config, bundle, container_id, opts, mgr)
    if plan.process.ignored_caps and opts.warn:
        opts.warn("ignoring unknown or unavailable capabilities: "
                  + ", ".join(plan.process.ignored_caps))
    terminal = plan.process.terminal
    if terminal and not opts.console_socket and not internal_console:
        raise PyruncError("cannot allocate tty if pyrunc will detach without setting console socket")
    if opts.console_socket and not terminal:
        raise PyruncError("cannot use console socket if pyrunc will not detach or allocate tty")

    cdir = store.create(root, container_id)
    made_cgroup = False
    local_console = None
    init = None
    try:
        if terminal:
            from pyrunc import console
            if opts.console_socket:
                plan.console_sock = console.connect(opts.console_socket)
            else:
                import socket
                local_console, plan.console_sock = socket.socketpair(
                    socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        if plan.seccomp_listener:
            import socket
            listener_parent, plan.listener_sock = socket.socketpair(
                socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        os.mkfifo(cdir.fifo, 0o622)
        # Writable by the container's user whatever the umask: the init opens
        # it after taking the user's uid.
        os.chmod(cdir.fifo, 0o622)
        plan.parent_fds = (cdir.fd,)
        plan.state_dir_fd = os.open(cdir.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        mgr.create()
        made_cgroup = True
        resources = linux.get("resources")

        def runtime_hooks(pid):
            from pyrunc.hooks import run_hooks
            st = plan.hook_state(pid, S.CREATING)
            run_hooks(plan.hooks, "prestart", st)
            run_hooks(plan.hooks, "createRuntime", st)

        state = {}

        def record(pid, start_time):
            # Written while the init builds its root (the lock keeps other
            # commands from seeing it before create returns).
            state.update({
                "ociVersion": OCI_VERSION,
                "id": container_id,
                "pid": pid,
                "start_time": start_time,
                "bundle": bundle,
                "rootfs": plan.rootfs.rootfs,
                "created": S.timestamp(),
                "annotations": plan.annotations,
                "owner": "",
                "cgroup": mgr.to_dict(),
                "config": config,
            })
            cdir.write_state(state)

        # The limits are written while the init builds its root filesystem; it
        # waits for them before any hook or the container's process runs.
        init = spawn(plan, mgr, runtime_hooks,
                     (lambda: mgr.apply(resources)) if resources else None, record)
        if plan.seccomp_listener:
            _forward_listener(plan, listener_parent, init.pid)
        master = None
        if local_console is not None:
            from pyrunc import console
            master = console.recv_master(local_console)
        if opts.pid_file:
            write_pid_file(opts.pid_file, init.pid)
        return Container(cdir, state), master
    except BaseException as e:
        _after_failed_hook(plan, e, opts)
        if init is not None:
            try:
                os.kill(init.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            wait_gone(init.pid)
        if made_cgroup:
            try:
                mgr.destroy()
            except (OSError, PyruncError):
                pass
        cdir.remove()
        raise
    finally:
        for sock in (local_console, plan.console_sock, plan.listener_sock):
            if sock is not None:
                sock.close()
        if plan.state_dir_fd is not None:
            os.close(plan.state_dir_fd)


def _after_failed_hook(plan, error, opts):
    """runtime-spec: when a prestart, createRuntime or createContainer hook
    fails, the runtime stops the container and goes on with delete, which runs
    the poststop hooks (their own failures only warn)."""
    from pyrunc.errors import SetupError
    hooks = plan.hooks or {}
    if not hooks.get("poststop"):
        return
    failed_hook = (type(error).__name__ == "HookError"
                   or (isinstance(error, SetupError) and error.stage.endswith(" hooks")))
    if failed_hook:
        from pyrunc.hooks import run_hooks
        run_hooks(hooks, "poststop", plan.hook_state(0, S.STOPPED), warn_only=True, warn=opts.warn)


def _forward_listener(plan, sock, pid):
    from pyrunc import console
    from pyrunc.seccomp.notify import send_listener
    fd = console.recv_master(sock)
    try:
        send_listener(plan.seccomp_listener, fd, plan.hook_state(pid, S.CREATING),
                      plan.seccomp_metadata)
    finally:
        os.close(fd)
        sock.close()


def write_pid_file(path, pid):
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path))
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)


def run(root, container_id, opts):
    """create + start; in the foreground also wait, forward signals, relay the
    terminal and delete.  Returns the exit status to report."""
    from pyrunc.linux import prctl
    if opts.detach:
        container, _ = create(root, container_id, opts)
        try:
            container.start()
        except BaseException:
            _remove(container)
            raise
        container.close()
        return 0
    # The init is our grandchild; as subreaper we get it back when the
    # bootstrap child exits, and can wait for its status.
    prctl.set_child_subreaper()
    # Signals that arrive before the forwarding loop runs are held, not lost
    # (and do not kill us while the container runs); the init unblocks them.
    saved_mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    try:
        container, master = create(root, container_id, opts, internal_console=True)
        try:
            container.start()
        except BaseException:
            _remove(container)
            raise
        pid = container.pid
        container.close()
        try:
            status = _wait(pid, master, saved_mask)
        finally:
            if not opts.keep:
                try:
                    Container.load(root, container_id).delete(force=True)
                except PyruncError:
                    pass
        return status
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)


def _remove(container):
    try:
        container.delete(force=True)
    except PyruncError:
        pass


def _wait(pid, master, saved_mask):
    import gc
    gc.enable()  # the container may run for days (see cli.run_and_exit)
    rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wfd)
    for sig in FORWARDED + (signal.SIGCHLD, signal.SIGWINCH):
        try:
            signal.signal(sig, _noop)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
    relay = _TerminalRelay(master) if master is not None else None
    try:
        while True:
            status = _reap(pid)
            if status is not None:
                if relay:
                    relay.drain()
                return status
            fds = [rfd] + (relay.fds() if relay else [])
            try:
                ready, _, _ = select.select(fds, [], [])
            except InterruptedError:
                continue
            if rfd in ready:
                for b in os.read(rfd, 512):
                    if b == signal.SIGCHLD:
                        continue
                    if b == signal.SIGWINCH:
                        if relay:
                            relay.resize()
                        continue
                    try:
                        os.kill(pid, b)
                    except ProcessLookupError:
                        pass
            if relay:
                relay.pump(ready)
    finally:
        signal.set_wakeup_fd(-1)
        if relay:
            relay.restore()


def _noop(signum, frame):
    pass


def _reap(pid):
    """Reap every exited child; return the container's exit code once it is gone."""
    result = None
    while True:
        try:
            p, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return result if result is not None else 255
        if p == 0:
            return result
        if p == pid:
            code = os.waitstatus_to_exitcode(status)
            result = code if code >= 0 else 128 - code


class _TerminalRelay:
    """Copies between our stdio and the container's pty master (run -t without
    a console socket)."""

    def __init__(self, master):
        import termios
        import tty
        self.master = master
        self.saved = None
        self.stdin_open = True
        if os.isatty(0):
            self.saved = termios.tcgetattr(0)
            tty.setraw(0)
            self.resize()

    def fds(self):
        return [self.master] + ([0] if self.stdin_open else [])

    def resize(self):
        if os.isatty(0):
            from pyrunc import console
            try:
                console.set_size(self.master, *console.get_size(0))
            except OSError:
                pass

    def pump(self, ready):
        if self.master in ready:
            self._copy_out()
        if 0 in ready and self.stdin_open:
            data = os.read(0, 65536)
            if data:
                os.write(self.master, data)
            else:
                self.stdin_open = False

    def _copy_out(self):
        try:
            data = os.read(self.master, 65536)
        except OSError:
            data = b""
        if data:
            os.write(1, data)
        return bool(data)

    def drain(self):
        os.set_blocking(self.master, False)
        try:
            while self._copy_out():
                pass
        except BlockingIOError:
            pass

    def restore(self):
        if self.saved is not None:
            import termios
            termios.tcsetattr(0, termios.TCSADRAIN, self.saved)
        os.close(self.master)
