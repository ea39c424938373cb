"""The OCI operations, one method per verb.

Every verb has the same shape: lock the container directory, refresh the
status from the world, check it against the table in pyrunc.oci.state, act,
save.  Nothing here prints; errors are raised as PyruncError.
"""

import os
import select

from pyrunc import OCI_VERSION, store
from pyrunc.errors import ConfigError, ContainerNotRunning, InvalidState, PyruncError
from pyrunc.oci import state as S


# signal(7): these two numbers are the same on every Linux architecture; named
# here so that the hot verbs need not import the signal module (and enum).
SIGKILL = 9
SIGTERM = 15


class Options:
    """create/run options as the CLI parsed them."""

    bundle = "."
    pid_file = None
    console_socket = None
    no_pivot = False
    no_new_keyring = False
    preserve_fds = 0
    detach = False
    keep = False
    rootless = False
    warn = None  # callable(message) for what runc only warns about


def load_config(bundle):
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise PyruncError(f"{path}: no such file or directory") from None
    except OSError as e:
        raise PyruncError(f"{path}: {e.strerror.lower()}") from None
    from pyrunc.oci.jsonload import loads
    try:
        config = loads(data)
    except ValueError as e:
        raise ConfigError("", f"invalid json: {e}") from None
    if not isinstance(config, dict):
        raise ConfigError("", "must be a json object")
    return config


def validate_config(config, bundle):
    from pyrunc.oci.validate import validate
    validate(config, "config.json", bundle)


def wait_gone(pid, timeout=10.0):
    """Wait for a process that need not be our child to exit."""
    from pyrunc.linux import fds
    try:
        fd = fds.pidfd_open(pid)
    except OSError:
        return True
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        return bool(p.poll(int(timeout * 1000)))
    finally:
        os.close(fd)


def _cgroup_manager_from(state):
    from pyrunc.cgroups import Manager
    return Manager.from_dict(state["cgroup"])


class Container:
    def __init__(self, cdir, state):
        self.dir = cdir
        self.state = state

    # -- loading and status ------------------------------------------------

    @classmethod
    def load(cls, root, container_id, exclusive=True):
        cdir = store.open_dir(root, container_id, exclusive)
        st = cdir.read_state()
        if st is None:
            # A directory without state: a create in progress holds the lock,
            # so this is a create that died; treat as absent.
            cdir.close()
            from pyrunc.errors import ContainerNotFound
            raise ContainerNotFound(container_id)
        return cls(cdir, st)

    @property
    def id(self):
        return self.state["id"]

    @property
    def pid(self):
        return self.state["pid"]

    def cgroup(self):
        return _cgroup_manager_from(self.state)

    def status(self):
        st = self.state
        if not S.is_alive(st["pid"], st["start_time"]):
            return S.STOPPED
        if os.path.lexists(self.dir.fifo):
            return S.CREATED
        try:
            if self.cgroup().frozen():
                return S.PAUSED
        except (OSError, PyruncError):
            pass
        return S.RUNNING

    def oci_state(self):
        status = self.status()
        st = self.state
        return {
            "ociVersion": OCI_VERSION,
            "id": st["id"],
            "pid": st["pid"] if status != S.STOPPED else 0,
            "status": status,
            "bundle": st["bundle"],
            "rootfs": st["rootfs"],
            "created": st["created"],
            "annotations": st.get("annotations") or {},
            "owner": st.get("owner", ""),
        }

    def hook_state(self, status=None):
        st = self.state
        status = status or self.status()
        return {"ociVersion": OCI_VERSION, "id": st["id"], "status": status,
                "pid": st["pid"] if status != S.STOPPED else 0, "bundle": st["bundle"],
                "annotations": st.get("annotations") or {}}

    def _require(self, operation):
        status = self.status()
        if not S.allowed(operation, status):
            if status == S.STOPPED:
                raise ContainerNotRunning(self.id)
            raise InvalidState(f"cannot {operation} container {self.id}: it is {status}")
        return status

    # -- verbs ---------------------------------------------------------------

    def start(self):
        status = self.status()
        if status != S.CREATED:
            if status == S.STOPPED:
                raise InvalidState("cannot start a container that has stopped")
            raise InvalidState("cannot start an already running container")
        self._release_init()
        self._poststart()

    def _release_init(self):
        """Open the exec fifo: the init, blocked opening it for writing, writes
        "0", runs startContainer hooks and execs the user's program; its write
        end closes on exec, which is when start may run poststart hooks.  A
        failing startContainer hook writes "E" and its message instead."""
        fd = os.open(self.dir.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        data = b""
        try:
            p = select.poll()
            p.register(fd, select.POLLIN)
            while True:
                if p.poll(100):
                    chunk = os.read(fd, 4096)
                    if chunk:
                        data += chunk
                        continue
                    break  # end of file: exec happened, or the init died
                if not S.is_alive(self.pid, self.state["start_time"]):
                    break
        finally:
            os.close(fd)
            os.unlink(self.dir.fifo)
        if not data:
            raise PyruncError("container init exited before start")
        if data[1:2] == b"E":
            raise PyruncError(data[2:].decode(errors="replace"))

    def _poststart(self):
        hooks = (self.state.get("config") or {}).get("hooks") or {}
        if hooks.get("poststart"):
            from pyrunc.hooks import run_hooks
            try:
                run_hooks(hooks, "poststart", self.hook_state("running"))
            except PyruncError:
                # runtime-spec 1.3: a failing poststart hook is an error and the
                # container is stopped.
                self.kill(SIGKILL, all=True)
                raise

    def kill(self, sig, all=False):
        status = self._require("kill")
        if all or status == S.PAUSED:
            mgr = self.cgroup()
            mgr.kill_all(sig)
            return
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            raise ContainerNotRunning(self.id) from None

    def delete(self, force=False, warn=None):
        status = self.status()
        if status in (S.RUNNING, S.PAUSED) and not force:
            raise InvalidState(f"cannot delete container {self.id} that is not stopped: {status}")
        if status != S.STOPPED:
            self._kill_everything()
        self.destroy(warn)

    def _kill_everything(self):
        mgr = self.cgroup()
        try:
            mgr.kill_all(SIGKILL)
        except (OSError, PyruncError):
            pass
        try:
            os.kill(self.pid, SIGKILL)
        except ProcessLookupError:
            pass
        wait_gone(self.pid)

    def destroy(self, warn=None):
        """Remove the cgroup and the state directory, then run poststop hooks."""
        hooks = (self.state.get("config") or {}).get("hooks") or {}
        try:
            self.cgroup().destroy()
        finally:
            self.dir.remove()
        if hooks.get("poststop"):
            from pyrunc.hooks import run_hooks
            run_hooks(hooks, "poststop", self.hook_state(S.STOPPED), warn_only=True, warn=warn)

    def pause(self):
        self._require("pause")
        self.cgroup().freeze()

    def resume(self):
        self._require("resume")
        self.cgroup().thaw()

    def close(self):
        self.dir.close()

    # -- cgroup operations: update, ps, events ---------------------------------

    def update(self, resources):
        """Apply RESOURCES (linux.resources holding only what changes) and record them
        in the saved config, so that a later update or events starts from them."""
        self._require("update")
        self.cgroup().apply(resources, update=True)
        linux = self.state.setdefault("config", {}).setdefault("linux", {})
        saved = linux.get("resources") or {}
        for section, fields in resources.items():
            saved[section] = {**(saved.get(section) or {}), **fields}
        linux["resources"] = saved
        self.dir.write_state(self.state)

    def ps(self):
        """Host pids of every process in the container's cgroup."""
        self._require("ps")
        return self.cgroup().pids()

    def events(self, interval=5.0, stats_only=False):
        """The event stream (checked now, read lazily); close() the container first:
        the stream needs no lock and must not hold off delete."""
        self._require("events")
        from pyrunc.cgroups import events
        return events(self.cgroup(), self.id, interval, stats_only)


def list_containers(root):
    out = []
    for cid in store.list_ids(root):
        try:
            c = Container.load(root, cid, exclusive=False)
        except PyruncError:
            continue
        try:
            out.append(c.oci_state())
        finally:
            c.close()
    return out
