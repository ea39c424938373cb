"""Container cgroups: a driver interface with cgroup v1 and v2 drivers.

    mgr = open_manager(cgroups_path, container_id)   # plans paths only
    mgr.create(); mgr.apply(resources)
    mgr.join_targets()     # what the container's processes join by themselves
                           # (pyrunc.init.join); mgr.add(pid) places any other
    ...
    mgr.destroy()

The layout (v1, hybrid or unified) is detected at run time. ``update_resources`` and
``events`` serve the update and events verbs.
"""

from . import paths as _paths
from .files import CgroupError
from .manager import CgroupMount, Manager

__all__ = ["open_manager", "Manager", "CgroupError", "CgroupMount", "detect_mode",
           "update_resources", "events"]


def detect_mode(mountinfo=None):
    """"unified", "hybrid" or "legacy": the cgroup layout of this host."""
    return _paths.detect_mode(mountinfo)


def open_manager(cgroups_path, container_id, rootless=False, *, mode=None):
    """The Manager for a container; computes paths and has no side effects.

    CGROUPS_PATH is linux.cgroupsPath (None or "" for the default, the container id).
    """
    _paths.validate_systemd_style(cgroups_path)
    mountinfo = None
    if mode is None:
        with open("/proc/self/mountinfo") as f:
            mountinfo = f.read()  # read once: the layout and the v1 hierarchies
        mode = detect_mode(mountinfo)
    if mode == "unified":
        from .v2 import V2Manager
        return V2Manager.open(cgroups_path, container_id, rootless)
    from .v1 import V1Manager
    return V1Manager.open(cgroups_path, container_id, rootless, hybrid=(mode == "hybrid"),
                          mountinfo=mountinfo)


def update_resources(flags=None, document=None):
    from .update import update_resources as impl
    return impl(flags, document)


def events(mgr, container_id, interval=5.0, stats_only=False):
    from .events import events as impl
    return impl(mgr, container_id, interval, stats_only)
