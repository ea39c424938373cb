"""The cgroup v2 driver: one directory on the unified hierarchy.

Controllers are enabled top-down through cgroup.subtree_control of every level above
the container's (a controller is usable in a group only when its parent enables it;
Documentation/admin-guide/cgroup-v2.rst, "Enabling and Disabling"). The freezer,
cgroup.kill and cgroup.events are part of the core and always present (5.2+, 5.14+).
"""

import errno
import os
import select
import time

from .. import files, paths as P
from ..files import CgroupError, not_available
from ..manager import SIGKILL, CgroupMount, Manager, add_pid, make_dirs, remove_tree, rollback, tree_pids
from ..v1 import rdma
from .. import pids
from . import cpu, cpuset, devices, hugetlb, io, memory, unified


_CONTROLLERS = (
    ("cpuset", cpuset.is_set, cpuset.apply, "cpu.cpus"),
    ("memory", memory.is_set, memory.apply, "memory"),
    ("cpu", cpu.is_set, cpu.apply, "cpu"),
    ("pids", pids.is_set, pids.apply, "pids"),
    ("io", io.is_set, io.apply, "blockIO"),
    ("hugetlb", hugetlb.is_set, hugetlb.apply, "hugepageLimits"),
    ("rdma", rdma.is_set, rdma.apply, "rdma"),
)

# (file whose presence shows the controller is enabled here, stats function)
_STATS = (("cpu.stat", cpu.stats), ("memory.current", memory.stats), ("pids.current", pids.stats),
          ("io.stat", io.stats), ("cgroup.controllers", hugetlb.stats))


class V2Manager(Manager):
    version = 2

    def __init__(self, path, root=P.CGROUP_ROOT, created=(), rootless=False, controllers=None):
        self.path = path
        self.root = root
        self.created = list(created)
        self.rootless = rootless
        # Controllers to enable on the way down; None means all the root offers.
        self.enable = controllers
        self.attach_devices = None  # replaced in tests that run against a plain directory tree

    @classmethod
    def open(cls, cgroups_path, container_id, rootless=False, root=P.CGROUP_ROOT,
             self_cgroup=None):
        inner = P.inner_path(cgroups_path, container_id)
        own = P.own_cgroups(self_cgroup).get("", "/")
        return cls(P.v2_path(root, inner, own), root, rootless=rootless)

    def to_dict(self):
        return {"version": 2, "path": self.path, "root": self.root, "created": self.created,
                "rootless": self.rootless}

    @classmethod
    def from_dict(cls, d):
        return cls(d["path"], d.get("root", P.CGROUP_ROOT), d.get("created", ()), d.get("rootless", False))

    # -- lifecycle ---------------------------------------------------------------
    def _enable_controllers(self):
        wanted = self.enable
        if wanted is None:
            wanted = files.read(self.root, "cgroup.controllers").split()
        if not wanted:
            return
        levels = [self.root]
        for part in os.path.relpath(os.path.dirname(self.path), self.root).split("/"):
            if part not in ("", ".", ".."):
                levels.append(os.path.join(levels[-1], part))
        for current in levels:
            have = set(files.read(current, "cgroup.subtree_control").split())
            missing = [c for c in wanted if c not in have]
            if not missing:
                continue
            try:
                files.write(current, "cgroup.subtree_control", " ".join("+" + c for c in missing))
            except CgroupError:
                # One refused controller (rootless, or a threaded subtree) must not keep
                # the others off; apply() reports a controller that is needed but absent.
                for c in missing:
                    try:
                        files.write(current, "cgroup.subtree_control", "+" + c)
                    except CgroupError:
                        pass

    def create(self):
        made = make_dirs(self.root, self.path)
        try:
            self._enable_controllers()
        except BaseException:
            rollback(made)
            raise
        self.created.extend(made)

    def add(self, pid):
        add_pid(self.path, pid)

    def join_targets(self):
        # Permission errors are never tolerated on v2: rootless v2 runs in a delegated
        # subtree it can write.
        return (), self.path, False

    def available(self):
        return set(files.read(self.path, "cgroup.controllers").split())

    def apply(self, resources, *, update=False):
        res = resources or {}
        available = self.available()
        for name, is_set, apply, field in _CONTROLLERS:
            if not is_set(res):
                continue
            if name not in available:
                raise not_available(name, field)
            apply(self.path, res, update)
        if cpu.rt_set(res):
            cpu.apply(self.path, res, update)  # raises: no real-time bandwidth on v2
        net = res.get("network") or {}
        if net.get("classID") is not None or net.get("priorities"):
            raise CgroupError("cgroup: linux.resources.network: net_cls and net_prio do not "
                              "exist on cgroup v2")
        if not update and not self.rootless:
            devices.apply(self.path, res.get("devices"), self.attach_devices)
        if res.get("unified"):
            unified.apply(self.path, res["unified"], available)

    def freeze(self, timeout=10.0):
        if not files.exists(self.path, "cgroup.freeze"):
            raise CgroupError(f"cgroup: {self.path}/cgroup.freeze: missing (kernel older than 5.2)")
        files.write(self.path, "cgroup.freeze", 1)
        # Freezing is asynchronous: cgroup.events says "frozen 1" once every task stopped.
        deadline = time.monotonic() + timeout
        while files.read_keyed(self.path, "cgroup.events").get("frozen") != 1:
            if time.monotonic() >= deadline:
                files.write(self.path, "cgroup.freeze", 0)
                raise CgroupError(f"cgroup: {self.path}/cgroup.events: not frozen after {timeout:g}s")
            _wait_event(self.path, 0.05)

    def thaw(self):
        files.write(self.path, "cgroup.freeze", 0)

    def frozen(self):
        return files.exists(self.path, "cgroup.freeze") and files.read(self.path, "cgroup.freeze") == "1"

    def can_freeze(self):
        return files.exists(self.path, "cgroup.freeze")

    def kill_all(self, sig):
        # cgroup.kill (5.14+) kills every task atomically, forks included: no freeze needed.
        if sig == SIGKILL and files.exists(self.path, "cgroup.kill"):
            files.write(self.path, "cgroup.kill", 1)
            return
        super().kill_all(sig)

    def pids(self):
        return tree_pids(self.path)

    def exists(self):
        return os.path.isdir(self.path)

    def stats(self):
        data = {"cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
                "memory": {"usage": {"limit": 0, "failcnt": 0}, "swap": {"limit": 0, "failcnt": 0},
                           "kernel": {"limit": 0, "failcnt": 0}, "kernelTCP": {"limit": 0, "failcnt": 0}},
                "pids": {}, "blkio": {}, "hugetlb": {}, "intel_rdt": {}}
        for probe, fn in _STATS:
            if files.exists(self.path, probe):
                fn(self.path, data)
        return data

    def oom_events(self):
        from ..oom import V2OomWatcher
        if not files.exists(self.path, "memory.events"):
            raise CgroupError(f"cgroup: {self.path}/memory.events: missing (memory controller "
                              f"not enabled): no oom notifications")
        return V2OomWatcher(self.path)

    def destroy(self):
        mine = [d for d in self.created if d == self.path or self.path.startswith(d + "/")]
        remove_tree(self.path if self.path in mine else None, mine)
        self.created = [d for d in self.created if os.path.isdir(d)]

    def mounts(self):
        return [CgroupMount("", self.path, ())]


def _wait_event(path, timeout):
    """Sleep until cgroup.events changes (kernfs raises POLLPRI) or TIMEOUT passes."""
    try:
        fd = os.open(os.path.join(path, "cgroup.events"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENOENT:
            time.sleep(timeout)
            return
        raise
    try:
        os.read(fd, 4096)
        p = select.poll()
        p.register(fd, select.POLLPRI)
        p.poll(int(timeout * 1000))
    finally:
        os.close(fd)
