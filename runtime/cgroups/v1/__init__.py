"""The cgroup v1 driver: one directory per hierarchy, plus the v2 one in hybrid layout.

In the hybrid layout a controller-less cgroup2 is mounted at /sys/fs/cgroup/unified;
the container gets a directory there too (key "" in ``paths``) so that tools reading
the v2 hierarchy (systemd, cgroup-aware monitoring) see it as its own group.
"""

import errno
import os

from .. import paths as P
from ..files import CgroupError, not_available
from ..manager import CgroupMount, Manager, add_pid, make_dirs, remove_tree, rollback, tree_pids
# The controller modules load on first use, and only those a config sets: delete,
# kill, pause and state need none, and importing all eleven costs more than the rest
# of `delete`.


# (hierarchy, resources key, module, its is-set and apply functions, field named when
# the hierarchy is missing), in the order runc applies them; cpuset first so later
# writes see the final placement.
_CONTROLLERS = (
    ("cpuset", "cpu", "cpuset", "is_set", "apply", "cpu.cpus"),
    ("memory", "memory", "memory", "is_set", "apply", "memory"),
    ("cpu", "cpu", "cpu", "is_set", "apply", "cpu"),
    ("pids", "pids", "pids", "is_set", "apply", "pids"),
    ("blkio", "blockIO", "blkio", "is_set", "apply", "blockIO"),
    ("hugetlb", "hugepageLimits", "hugetlb", "is_set", "apply", "hugepageLimits"),
    ("net_cls", "network", "network", "classid_set", "apply_classid", "network.classID"),
    ("net_prio", "network", "network", "priorities_set", "apply_priorities", "network.priorities"),
    ("rdma", "rdma", "rdma", "is_set", "apply", "rdma"),
)


def _module(name):
    if name == "pids":  # shared with the v2 driver
        from .. import pids
        return pids
    return __import__(f"{__name__}.{name}", fromlist=["apply"])


def _controllers(res):
    """(hierarchy, is it set?, apply, field) for the controllers RES mentions; the
    modules of the others are not even loaded."""
    for hierarchy, key, module, is_set, apply, field in _CONTROLLERS:
        if res.get(key):
            m = _module(module)
            yield hierarchy, getattr(m, is_set), getattr(m, apply), field


def _stats():
    from .. import pids
    from . import blkio, cpu, cpuacct, hugetlb, memory
    return (("cpu", cpu.stats), ("cpuacct", cpuacct.stats), ("memory", memory.stats),
            ("pids", pids.stats), ("blkio", blkio.stats), ("hugetlb", hugetlb.stats))

_PERMISSION = (errno.EACCES, errno.EPERM, errno.EROFS)


def plan(inner, hierarchies, own, hybrid, rootless=False):
    """{key: host path} and {key: mountpoint} for every hierarchy the container joins."""
    paths, mountpoints = {}, {}
    for name in P.V1_CONTROLLERS + ("name=systemd",):
        h = hierarchies.get(name)
        if h is None:
            # Without the devices hierarchy nothing would stop the container from
            # opening host block devices; refuse rather than run unconfined.
            if name == "devices" and not rootless:
                raise CgroupError("cgroup: the devices controller is not mounted; refusing to "
                                  "run a container without device restrictions")
            continue
        if not inner.startswith("/") and name not in own:
            raise CgroupError(f"cgroup: /proc/self/cgroup has no {name} entry for the "
                              f"relative cgroupsPath {inner!r}")
        paths[name] = P.v1_path(h, inner, own.get(name, "/"))
        mountpoints[name] = h.mountpoint
    if hybrid:
        root = os.path.join(P.CGROUP_ROOT, "unified")
        if inner.startswith("/"):
            paths[""] = root + inner
        else:
            paths[""] = os.path.join(root, own.get("", "/").lstrip("/"), inner)
        mountpoints[""] = root
    return paths, mountpoints


class V1Manager(Manager):
    version = 1

    def __init__(self, paths, mountpoints, controllers, created=(), rootless=False,
                 explicit=True):
        self.paths = dict(paths)              # key -> host directory of the container's cgroup
        self.mountpoints = dict(mountpoints)  # key -> mountpoint of that hierarchy
        self.controllers = {k: list(v) for k, v in controllers.items()}  # mountpoint -> names
        self.created = list(created)
        self.rootless = rootless
        self.explicit = explicit              # cgroupsPath was given (rootless errors are fatal)

    @classmethod
    def open(cls, cgroups_path, container_id, rootless=False, hybrid=False,
             mountinfo=None, self_cgroup=None):
        hierarchies = P.v1_hierarchies(mountinfo)
        inner = P.inner_path(cgroups_path, container_id)
        paths, mountpoints = plan(inner, hierarchies, P.own_cgroups(self_cgroup), hybrid, rootless)
        controllers = {h.mountpoint: list(h.controllers) for h in hierarchies.values()}
        return cls(paths, mountpoints, controllers, rootless=rootless, explicit=bool(cgroups_path))

    # -- state.json --------------------------------------------------------------
    def to_dict(self):
        return {"version": 1, "paths": self.paths, "mountpoints": self.mountpoints,
                "controllers": self.controllers, "created": self.created,
                "rootless": self.rootless, "explicit": self.explicit}

    @classmethod
    def from_dict(cls, d):
        return cls(d["paths"], d["mountpoints"], d.get("controllers", {}), d.get("created", ()),
                   d.get("rootless", False), d.get("explicit", True))

    def _distinct(self):
        """(key, path) once per hierarchy: co-mounted controllers share a directory."""
        seen, out = set(), []
        for key, path in self.paths.items():
            if path not in seen:
                seen.add(path)
                out.append((key, path))
        return out

    # -- lifecycle ---------------------------------------------------------------
    def create(self):
        made_now = []
        try:
            for key, path in self._distinct():
                try:
                    made = make_dirs(self.mountpoints[key], path)
                except CgroupError as e:
                    # Rootless without an explicit path: use what we may, as runc does.
                    if self.rootless and not self.explicit and e.errno in _PERMISSION:
                        self._drop(path)
                        continue
                    raise
                made_now.extend(made)
                if key == "cpuset" or "cpuset" in self.controllers.get(self.mountpoints[key], ()):
                    from . import cpuset
                    cpuset.inherit(self.mountpoints[key], path)
        except BaseException:
            rollback(made_now)
            raise
        self.created.extend(made_now)

    def _drop(self, path):
        for k in [k for k, p in self.paths.items() if p == path]:
            del self.paths[k]

    def add(self, pid):
        for key, path in self._distinct():
            try:
                add_pid(path, pid)
            except CgroupError as e:
                if self.rootless and not self.explicit and e.errno in _PERMISSION:
                    self._drop(path)
                    continue
                raise

    def join_targets(self):
        """(v1 directories, v2 directory or None, tolerate permission errors?): what a
        process joins itself into (pyrunc.init.bootstrap.join_cgroups)."""
        v1 = tuple(path for key, path in self._distinct() if key != "")
        return v1, self.paths.get(""), self.rootless and not self.explicit

    def apply(self, resources, *, update=False):
        res = resources or {}
        if res.get("unified"):
            raise CgroupError("cgroup: linux.resources.unified: set, but this host uses "
                              "cgroup v1 (unified keys need cgroup v2)")
        for key, is_set, apply, field in _controllers(res):
            if not is_set(res):
                continue
            path = self.paths.get(key)
            if path is None:
                raise not_available(key, field)
            apply(path, res, update)
        # Device rules are the container's boundary to host devices: always applied at
        # create (absent means "deny all but the defaults"), never touched by update.
        if not update and "devices" in self.paths and not self.rootless:
            from . import devices
            devices.apply(self.paths["devices"], res.get("devices"))

    def can_freeze(self):
        return "freezer" in self.paths

    def _freezer(self):
        if "freezer" not in self.paths:
            raise CgroupError("cgroup: the freezer controller is not mounted: cannot freeze")
        return self.paths["freezer"]

    def freeze(self):
        from . import freezer
        freezer.freeze(self._freezer())

    def thaw(self):
        from . import freezer
        freezer.thaw(self._freezer())

    def frozen(self):
        from . import freezer
        return "freezer" in self.paths and freezer.frozen(self.paths["freezer"])

    def _pid_path(self):
        for key in ("devices", "freezer", "pids", "memory", "cpu"):
            if key in self.paths:
                return self.paths[key]
        return next(iter(self.paths.values()))

    def pids(self):
        return tree_pids(self._pid_path())

    def exists(self):
        return os.path.isdir(self._pid_path())

    def stats(self):
        data = {"cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
                "memory": {"usage": {"limit": 0, "failcnt": 0}, "swap": {"limit": 0, "failcnt": 0},
                           "kernel": {"limit": 0, "failcnt": 0}, "kernelTCP": {"limit": 0, "failcnt": 0}},
                "pids": {}, "blkio": {}, "hugetlb": {}, "intel_rdt": {}}
        for key, fn in _stats():
            if key in self.paths:
                fn(self.paths[key], data)
        return data

    def oom_events(self):
        from ..oom import V1OomWatcher
        if "memory" not in self.paths:
            raise CgroupError("cgroup: the memory controller is not mounted: no oom notifications")
        return V1OomWatcher(self.paths["memory"])

    def destroy(self):
        errors = []
        for key, path in self._distinct():
            mine = [d for d in self.created if d == path or path.startswith(d + "/")]
            try:
                remove_tree(path if path in mine else None, mine)
            except CgroupError as e:
                errors.append(e)
        self.created = [d for d in self.created if os.path.isdir(d)]
        if errors:
            raise errors[0]

    def mounts(self):
        out, seen = [], set()
        for key, path in self._distinct():
            mp = self.mountpoints[key]
            if mp in seen:
                continue
            seen.add(mp)
            name = os.path.basename(mp)
            links = tuple(c for c in self.controllers.get(mp, ())
                          if c != name and not c.startswith("name="))
            out.append(CgroupMount(name, path, links))
        return out
