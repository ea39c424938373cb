"""The driver interface both cgroup drivers implement, and what they share.

A Manager is data: the planned directories plus what create() made, so that it can be
saved in the container's state.json and rebuilt by any later pyrunc process.
"""

import errno
import os
import time

from pyrunc.oci.plain import Plain

from . import files
from .files import CgroupError

SIGKILL = 9  # signal(7): the same on every Linux architecture; no enum import


class CgroupMount(Plain):
    # What the container's /sys/fs/cgroup mount needs for one hierarchy: NAME is the
    # directory under /sys/fs/cgroup ("cpu,cpuacct", "memory", "" for a v2 root), SOURCE
    # the host directory of the container's cgroup, SYMLINKS the extra names pointing at
    # NAME ("cpu" -> "cpu,cpuacct").
    _fields = ("name", "source", "symlinks")


class Manager:
    """One container's cgroup in every hierarchy the host has."""

    version = None

    def create(self): raise NotImplementedError
    def add(self, pid): raise NotImplementedError
    def join_targets(self): raise NotImplementedError
    def apply(self, resources, *, update=False): raise NotImplementedError
    def freeze(self): raise NotImplementedError
    def thaw(self): raise NotImplementedError
    def frozen(self): raise NotImplementedError
    def pids(self): raise NotImplementedError
    def stats(self): raise NotImplementedError
    def oom_events(self): raise NotImplementedError
    def destroy(self): raise NotImplementedError
    def mounts(self): raise NotImplementedError
    def to_dict(self): raise NotImplementedError
    def exists(self): raise NotImplementedError

    @staticmethod
    def from_dict(d):
        if d.get("version") == 2:
            from .v2 import V2Manager
            return V2Manager.from_dict(d)
        from .v1 import V1Manager
        return V1Manager.from_dict(d)

    def can_freeze(self):
        return True

    def kill_all(self, sig):
        """Signal every process in the cgroup.

        The group is frozen while its pids are read and signalled, so that no process can
        fork a child that is missed (runc does the same). A paused container stays
        paused, except after SIGKILL: a task held by the freezer dies only once thawed.
        """
        can = self.can_freeze()
        was_frozen = can and self.frozen()
        if can and not was_frozen:
            self.freeze()
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if can and (not was_frozen or sig == SIGKILL):
                self.thaw()


def add_pid(path, pid):
    files.write(path, "cgroup.procs", pid)


def tree_pids(path):
    """Every pid in cgroup.procs of PATH and of its descendants."""
    out = []
    for dirpath, dirnames, _ in os.walk(path):
        try:
            text = files.read(dirpath, "cgroup.procs")
        except CgroupError as e:
            if e.errno == errno.ENOENT:
                continue
            raise
        out.extend(int(p) for p in text.split())
    return sorted(set(out))


def _rmdir(path):
    """rmdir PATH; True when it is gone, False while the kernel still has tasks in it."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError as e:
        if e.errno == errno.EBUSY:
            return False
        raise CgroupError(f"cgroup: {path}: removing: {os.strerror(e.errno).lower()}",
                          path, e.errno) from None
    return True


def _rmdir_quick(path):
    """rmdir PATH; False when it is busy or has sub-cgroups (or any other error,
    which the full removal then reports)."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


def remove_tree(leaf, created, timeout=3.0):
    """Remove LEAF's sub-cgroups and LEAF, then the parents in CREATED that are empty.

    A cgroup directory holding a task, even one that is exiting, is EBUSY; retry with
    a growing delay while the tasks drain.  Sub-cgroups of the leaf belong to the
    container (it may have made them).  A parent that create() made may since hold
    other containers' cgroups: it is removed only if empty, and otherwise left to
    whoever is last (directories that were there before create() are never touched).
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    ordered = sorted(created, key=len, reverse=True)
    own = [d for d in ordered if leaf and (d == leaf or d.startswith(leaf.rstrip("/") + "/"))]
    parents = [d for d in ordered if d not in own]
    if leaf and _rmdir_quick(leaf):
        # The usual case: an empty leaf went with one rmdir, no directory walk.
        leaf, own = None, []
    while True:
        pending = []
        if leaf and os.path.isdir(leaf):
            for dirpath, dirnames, _ in os.walk(leaf, topdown=False):
                for d in dirnames:
                    if not _rmdir(os.path.join(dirpath, d)):
                        pending.append(os.path.join(dirpath, d))
        if not pending:
            for d in own:
                if not _rmdir(d):
                    pending.append(d)
                    break
        if not pending:
            break
        if time.monotonic() >= deadline:
            raise CgroupError(f"cgroup: {pending[0]}: still busy after {timeout:g}s "
                              f"(processes remain)", pending[0], errno.EBUSY)
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    for d in parents:
        try:
            if not _rmdir(d):
                break  # another container's cgroup lives under it now
        except CgroupError:
            break


def make_dirs(root, path):
    """mkdir every missing level from ROOT down to PATH; returns those it made."""
    if not (path == root or path.startswith(root.rstrip("/") + "/")):
        raise CgroupError(f"cgroup: {path}: not inside the hierarchy at {root}")
    # The usual case first: the parents exist (one mkdir per hierarchy, not one per level).
    try:
        os.mkdir(path, 0o755)
        return [path]
    except FileExistsError:
        return []
    except FileNotFoundError:
        pass
    except OSError as e:
        raise CgroupError(f"cgroup: {path}: creating: {os.strerror(e.errno).lower()}",
                          path, e.errno) from None
    made = []
    current = root
    for part in os.path.relpath(path, root).split("/"):
        if part in ("", "."):
            continue
        current = os.path.join(current, part)
        try:
            os.mkdir(current, 0o755)
        except FileExistsError:
            continue
        except OSError as e:
            raise CgroupError(f"cgroup: {current}: creating: {os.strerror(e.errno).lower()}",
                              current, e.errno) from None
        made.append(current)
    return made


def rollback(created):
    """Remove directories just made, after a later step of create() failed."""
    for d in sorted(created, key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            pass

