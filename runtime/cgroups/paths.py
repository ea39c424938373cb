"""Where a container's cgroup lives: host layout detection and cgroupsPath resolution.

Pure reading of /proc/self/mountinfo and /proc/self/cgroup; nothing is created here.
The rules follow runc 1.1's cgroupfs driver:
- cgroupsPath is cleaned lexically first, so "../x" cannot climb out of a hierarchy;
- an absolute path is taken from the root of each hierarchy;
- a relative path is placed under the caller's own cgroup in that hierarchy (v1), or
  under the parent of the caller's own cgroup (v2: the caller's own cgroup usually
  holds processes, and a cgroup with processes cannot enable controllers for children);
- an absent cgroupsPath means the container id, relative.
"""

import os
import posixpath

from pyrunc.oci.plain import Plain

from .files import CgroupError

CGROUP_ROOT = "/sys/fs/cgroup"

# The v1 controllers runc joins, in its order; other names in a mount's options are flags.
V1_CONTROLLERS = ("cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio", "hugetlb",
                  "net_cls", "net_prio", "perf_event", "freezer", "rdma", "misc")


class Hierarchy(Plain):
    _fields = ("mountpoint", "root", "controllers")


def clean(path):
    """Lexically clean PATH; a relative path stays relative but cannot start with "..".

    An empty path stays empty (meaning "use the default").
    """
    if not path:
        return ""
    if path.startswith("/"):
        return posixpath.normpath("/" + path.lstrip("/"))
    rel = posixpath.relpath(posixpath.normpath("/" + path), "/")
    return "" if rel == "." else rel


def _unescape(field):
    # mountinfo escapes space, tab, newline and backslash as octal (proc(5)).
    return (field.replace("\\040", " ").replace("\\011", "\t")
            .replace("\\012", "\n").replace("\\134", "\\"))


def read_mountinfo(text=None):
    """The cgroup mounts as (mountpoint, root, fstype, super-options) tuples."""
    if text is None:
        with open("/proc/self/mountinfo") as f:
            text = f.read()
    out = []
    for line in text.splitlines():
        fields = line.split()
        try:
            sep = fields.index("-")
        except ValueError:
            continue
        fstype = fields[sep + 1]
        if fstype in ("cgroup", "cgroup2", "tmpfs"):
            out.append((_unescape(fields[4]), _unescape(fields[3]), fstype, fields[sep + 3]))
    return out


def detect_mode(mountinfo=None):
    """"unified" (pure v2), "hybrid" (v1 plus a controller-less v2 at unified/) or "legacy".

    Decided by the filesystem mounted at /sys/fs/cgroup, as runc decides by its statfs
    magic: cgroup2 there is the unified layout, tmpfs is the v1 layout.
    """
    mounts = read_mountinfo(mountinfo)
    at_root = [m for m in mounts if m[0] == CGROUP_ROOT]
    if at_root and at_root[-1][2] == "cgroup2":
        return "unified"
    unified = os.path.join(CGROUP_ROOT, "unified")
    if any(m[0] == unified and m[2] == "cgroup2" for m in mounts):
        return "hybrid"
    if not any(m[2] == "cgroup" for m in mounts):
        raise CgroupError(f"cgroup: no cgroup filesystem is mounted under {CGROUP_ROOT}")
    return "legacy"


def v1_hierarchies(mountinfo=None):
    """Map each v1 controller (and "name=systemd") to its Hierarchy.

    The first mount of a hierarchy below /sys/fs/cgroup wins over bind mounts elsewhere.
    """
    found = {}
    for mountpoint, root, fstype, opts in read_mountinfo(mountinfo):
        if fstype != "cgroup":
            continue
        names = [o for o in opts.split(",") if o in V1_CONTROLLERS or o.startswith("name=")]
        if not names:
            continue
        h = Hierarchy(mountpoint, root, tuple(names))
        preferred = mountpoint.startswith(CGROUP_ROOT + "/")
        for name in names:
            old = found.get(name)
            if old is None or (preferred and not old.mountpoint.startswith(CGROUP_ROOT + "/")):
                found[name] = h
    return found


def own_cgroups(text=None):
    """/proc/self/cgroup as {controller: path}; the v2 entry is under the key ""."""
    if text is None:
        with open("/proc/self/cgroup") as f:
            text = f.read()
    out = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            out[""] = parts[2]
            continue
        for name in parts[1].split(","):
            out[name] = parts[2]
    return out


def inner_path(cgroups_path, container_id):
    """The cleaned cgroupsPath, or the container id when none is given."""
    inner = clean(cgroups_path or "")
    if not inner:
        inner = clean(container_id)
    if not inner or inner == "/":
        raise CgroupError(f"cgroup: cgroupsPath {cgroups_path!r}: resolves to a hierarchy root")
    return inner


def _relative_to_mount(own, mount_root):
    # When the hierarchy is mounted from a sub-cgroup (inside a container), the path in
    # /proc/self/cgroup includes the mount's root, which the mountpoint already stands for.
    if mount_root in ("/", ""):
        return own
    rel = posixpath.relpath(own, mount_root)
    return "/" if rel == "." else "/" + rel


def v1_path(hierarchy, inner, own):
    """Host directory of the container's cgroup in one v1 hierarchy."""
    if inner.startswith("/"):
        return hierarchy.mountpoint + inner
    base = _relative_to_mount(own, hierarchy.root)
    return posixpath.join(hierarchy.mountpoint, base.lstrip("/"), inner)


def v2_path(root, inner, own, mount_root="/"):
    """Host directory of the container's cgroup on a cgroup2 mount at ROOT."""
    if inner.startswith("/"):
        return root + inner
    base = posixpath.dirname(_relative_to_mount(own, mount_root))
    return posixpath.join(root, base.lstrip("/"), inner)


def validate_systemd_style(cgroups_path):
    """Refuse "slice:prefix:name" paths, which belong to the systemd driver."""
    if cgroups_path and ":" in cgroups_path and not cgroups_path.startswith("/"):
        raise CgroupError(f"cgroup: cgroupsPath {cgroups_path!r}: looks like a systemd "
                          f"\"slice:prefix:name\" path, but the systemd cgroup driver "
                          f"is not supported")
