"""Device nodes and the /dev links of a container, planned in the parent and
created in the child before pivot_root.

Parent: ``plan_devices`` validates linux.devices and adds runc's default set
(null, zero, full, random, urandom, tty; /dev/ptmx becomes a link to the
devpts instance's ptmx).  Child: ``create_devices`` makes each node with
mknodat(2) or, in a user namespace where mknod of devices is refused
(user_namespaces(7)), bind-mounts the host's node onto an empty file.
"""

import os
import stat
from pyrunc.oci.plain import Plain

from pyrunc.errors import ConfigError
from pyrunc.init.paths import clean, ensure_target, fd_path, mkdir_all
from pyrunc.linux.mount import mount
from pyrunc.oci.mounts import MS_BIND

TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


class Device(Plain):
    _fields = ('path', 'kind', 'major', 'minor', 'mode', 'uid', 'gid')
    # kind: S_IFCHR, S_IFBLK or S_IFIFO
    # mode: permission bits
    _defaults = {'uid': 0, 'gid': 0}


DEFAULT_DEVICES = [
    Device("/dev/null", stat.S_IFCHR, 1, 3, 0o666),
    Device("/dev/zero", stat.S_IFCHR, 1, 5, 0o666),
    Device("/dev/full", stat.S_IFCHR, 1, 7, 0o666),
    Device("/dev/random", stat.S_IFCHR, 1, 8, 0o666),
    Device("/dev/urandom", stat.S_IFCHR, 1, 9, 0o666),
    Device("/dev/tty", stat.S_IFCHR, 5, 0, 0o666),
]

# /proc/self/fd/N are the process's own fds: these links make /dev/stdin and
# friends work for whatever process opens them (runc's setupDevSymlinks).
DEV_LINKS = [
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
]


def _int(value, where, lo=0, hi=0xFFFFFFFF):
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(where, f"must be an integer in [{lo}, {hi}]")
    return value


def _or(value, default):
    return default if value is None else value


def plan_devices(devices):
    """linux.devices -> [Device], then every default the config does not name."""
    if devices is None:
        devices = []
    if not isinstance(devices, list):
        raise ConfigError("linux.devices", "must be an array")
    out = []
    for i, d in enumerate(devices):
        where = f"linux.devices[{i}]"
        if not isinstance(d, dict):
            raise ConfigError(where, "must be an object")
        path = d.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError(f"{where}.path", "must be an absolute path")
        if clean(path) == "/":
            raise ConfigError(f"{where}.path", "must not be the root")
        kind = TYPES.get(d.get("type"))
        if kind is None:
            raise ConfigError(f"{where}.type", f"{d.get('type')!r}: must be one of b, c, u, p")
        if kind == stat.S_IFIFO:
            major = minor = 0
        else:
            for key in ("major", "minor"):
                if key not in d:
                    raise ConfigError(f"{where}.{key}", "required for block and character devices")
            major = _int(d["major"], f"{where}.major")
            minor = _int(d["minor"], f"{where}.minor")
        # JSON null means "not given", as an absent key.
        mode = _int(_or(d.get("fileMode"), 0o666), f"{where}.fileMode", 0, 0o7777)
        uid = _int(_or(d.get("uid"), 0), f"{where}.uid")
        gid = _int(_or(d.get("gid"), 0), f"{where}.gid")
        out.append(Device(clean(path), kind, major, minor, mode, uid, gid))
    named = {d.path for d in out}
    out += [d for d in DEFAULT_DEVICES if d.path not in named]
    # /dev/ptmx is the link to pts/ptmx made by setup_ptmx, never a node.
    return [d for d in out if d.path != "/dev/ptmx"]


def _bind_device(root_fd, dev):
    """User namespaces cannot mknod devices: bind the host's node instead."""
    fd = ensure_target(root_fd, dev.path, is_dir=False, mode=0o000)
    try:
        mount(dev.path, fd_path(fd), None, MS_BIND)
    finally:
        os.close(fd)


def _mknod_device(root_fd, dev):
    parent, name = os.path.split(dev.path)
    pfd = mkdir_all(root_fd, parent)
    try:
        try:
            os.mknod(name, dev.kind | dev.mode, os.makedev(dev.major, dev.minor), dir_fd=pfd)
        except FileExistsError:
            return  # the image (or an earlier entry) already has it: keep it, as runc
        os.chown(name, dev.uid, dev.gid, dir_fd=pfd, follow_symlinks=False)
    finally:
        os.close(pfd)


def create_devices(root_fd, devices, userns):
    """Create every planned device under the root (umask 0 so that fileMode
    is exact)."""
    old = os.umask(0)
    try:
        for dev in devices:
            if userns and dev.kind != stat.S_IFIFO:
                _bind_device(root_fd, dev)
                continue
            try:
                _mknod_device(root_fd, dev)
            except PermissionError:
                # mknod refused (e.g. a user namespace the plan did not know of).
                _bind_device(root_fd, dev)
    finally:
        os.umask(old)


def _replace_with_link(root_fd, target, path):
    parent, name = os.path.split(path)
    pfd = mkdir_all(root_fd, parent)
    try:
        try:
            os.unlink(name, dir_fd=pfd)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            os.rmdir(name, dir_fd=pfd)
        os.symlink(target, name, dir_fd=pfd)
    finally:
        os.close(pfd)


def setup_ptmx(root_fd):
    """/dev/ptmx -> pts/ptmx: ptys come from the container's own devpts
    instance (mounted with newinstance), not from the host's."""
    _replace_with_link(root_fd, "pts/ptmx", "/dev/ptmx")


def setup_dev_links(root_fd, with_core):
    """The /dev/fd, /dev/std* links (and /dev/core when the host has /proc/kcore)."""
    links = DEV_LINKS + ([("/proc/kcore", "/dev/core")] if with_core else [])
    for target, path in links:
        parent, name = os.path.split(path)
        pfd = mkdir_all(root_fd, parent)
        try:
            os.symlink(target, name, dir_fd=pfd)
        except FileExistsError:
            pass
        finally:
            os.close(pfd)
