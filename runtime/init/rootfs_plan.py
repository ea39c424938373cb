"""The mount plan: config.json's root, mounts, devices and paths turned into
plain data in the parent, before any side effect.

Everything that can fail on the config fails here, as a ConfigError naming
the JSON path (``mounts[3].options[1]``); the child (``pyrunc.init.rootfs``)
only executes the steps.  A cgroup mount is expanded here into the steps
that build it (a tmpfs, one mount per hierarchy, links, a final remount).
"""

import os
import stat
from pyrunc.oci.plain import Plain

from pyrunc.errors import ConfigError
from pyrunc.init.devices import plan_devices
from pyrunc.init.paths import clean
from pyrunc.linux.mount import CGROUP2_SUPER_MAGIC, PROC_SUPER_MAGIC, statfs_type
from pyrunc.oci.mounts import (MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC,
                               MS_REMOUNT, parse_options, parse_propagation)

# Bind mounts take their flags only from a second, MS_REMOUNT call (mount(2)).
BIND_ONLY = MS_BIND | MS_REC | MS_REMOUNT
CGROUP_TMPFS_FLAGS = MS_NOSUID | MS_NOEXEC | MS_NODEV

# Mounts runc allows under /proc: the files lxcfs emulates.
PROC_ALLOWED = {
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
    "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
}


class MountStep(Plain):
    """One mount(2) onto ``destination`` (inside the root), then its remount,
    recursive attributes and propagation changes."""
    _fields = ('destination', 'where', 'source', 'fstype', 'flags', 'data', 'is_dir', 'remount', 'attr_set', 'attr_clr', 'propagation', 'proc_ok', 'sys_fallback', 'bind_fallback', 'copyup')
    # where: JSON path for messages, e.g. "mounts[3]"
    # fstype: None for binds
    # is_dir: the destination to create: a directory or a file
    # remount: binds: MS_BIND|MS_REMOUNT|flags after the bind
    # attr_set: mount_setattr(AT_RECURSIVE) of the r* options
    # proc_ok: allowed onto /proc (a proc mount or a bind of one)
    # sys_fallback: sysfs refused (user ns without net ns): rbind /sys
    # bind_fallback: cgroup2 refused: bind this host path instead
    # copyup: tmpcopyup: copy what the destination held into the tmpfs
    _defaults = {'data': "", 'is_dir': True, 'remount': None, 'attr_set': 0, 'attr_clr': 0, 'propagation': list, 'proc_ok': False, 'sys_fallback': False, 'bind_fallback': None, 'copyup': False}


class LinkStep(Plain):
    """symlink(target, path) inside the root; an existing entry is kept."""
    _fields = ('target', 'path', 'where')
    _defaults = {}


class RemountStep(Plain):
    """A read-only (or other flag) remount of a mount made by earlier steps."""
    _fields = ('destination', 'flags', 'where')
    _defaults = {}


class RootfsPlan(Plain):
    _fields = ('rootfs', 'readonly', 'propagation', 'no_pivot', 'userns', 'steps', 'setup_dev', 'devices', 'dev_core', 'late_remounts', 'masked_paths', 'readonly_paths')
    # rootfs: absolute, symlink-free host path
    # propagation: rootfsPropagation as MS_* flags, 0 when unset
    _defaults = {'readonly': False, 'propagation': 0, 'no_pivot': False, 'userns': False, 'steps': list, 'setup_dev': True, 'devices': list, 'dev_core': False, 'late_remounts': list, 'masked_paths': list, 'readonly_paths': list}


_filesystems = None


def known_filesystems():
    """Filesystem types this kernel knows (/proc/filesystems), read once."""
    global _filesystems
    if _filesystems is None:
        with open("/proc/filesystems") as f:
            _filesystems = {line.split()[-1] for line in f if line.strip()}
    return _filesystems


def _str_list(value, where):
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(where, "must be an array of strings")
    for i, v in enumerate(value):
        if not v.startswith("/"):
            raise ConfigError(f"{where}[{i}]", f"{v!r}: must be an absolute path")
    return value


def _root(config, bundle):
    root = config.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str) or not root["path"]:
        raise ConfigError("root.path", "must be a non-empty string")
    path = os.path.realpath(os.path.join(bundle, root["path"]))
    if not os.path.isdir(path):
        raise ConfigError("root.path", f"{path}: not a directory")
    if path == "/":
        raise ConfigError("root.path", "must not be the host's /")
    readonly = root.get("readonly", False)
    if not isinstance(readonly, bool):
        raise ConfigError("root.readonly", "must be a boolean")
    return path, readonly


def _check_destination(dest, where, fstype, proc_ok):
    """runc's rules for /proc: only proc itself (or a bind of a proc) at /proc,
    nothing under it but the files lxcfs emulates.  The child checks again
    on the path the kernel actually resolved."""
    if dest == "/":
        raise ConfigError(f"{where}.destination", "cannot mount over the root")
    if dest == "/proc" and not proc_ok:
        raise ConfigError(f"{where}.destination",
                          "/proc: only a proc filesystem may be mounted here")
    if dest.startswith("/proc/") and dest not in PROC_ALLOWED:
        raise ConfigError(f"{where}.destination", f"{dest}: cannot mount inside /proc")


def _bind_step(m, where, bundle, dest, opts, fstype):
    source = m.get("source")
    if not isinstance(source, str) or not source:
        raise ConfigError(f"{where}.source", "required for bind mounts")
    if not os.path.isabs(source):
        source = os.path.join(bundle, source)
    try:
        st = os.stat(source)
    except OSError as e:
        raise ConfigError(f"{where}.source", f"{source}: {e.strerror.lower()}") from None
    flags = opts.flags | MS_BIND
    proc_ok = dest == "/proc" and statfs_type(source) == PROC_SUPER_MAGIC
    _check_destination(dest, where, fstype, proc_ok)
    remount = None
    if flags & ~BIND_ONLY:
        remount = (flags & ~MS_REMOUNT) | MS_BIND | MS_REMOUNT
    return MountStep(dest, where, source, None, flags & BIND_ONLY & ~MS_REMOUNT, "",
                     stat.S_ISDIR(st.st_mode), remount, opts.attr_set, opts.attr_clr,
                     opts.propagation, proc_ok)


def _host_cgroup_v1():
    """(name, data) of each cgroup v1 hierarchy mounted under /sys/fs/cgroup."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            mountpoint, fstype, super_opts = fields[4], fields[sep + 1], fields[sep + 3]
            if fstype != "cgroup" or os.path.dirname(mountpoint) != "/sys/fs/cgroup":
                continue
            data = ",".join(o for o in super_opts.split(",") if o not in ("rw", "ro"))
            out.append((os.path.basename(mountpoint), data))
    return out


def _cgroup_steps(m, where, dest, opts, cgroup_mounts, cgroupns):
    """Expand a "cgroup" mount the way runc builds it."""
    user = opts.flags & ~BIND_ONLY
    if cgroup_mounts is None and statfs_type("/sys/fs/cgroup") == CGROUP2_SUPER_MAGIC:
        cgroup_mounts = "/sys/fs/cgroup"
    if isinstance(cgroup_mounts, str):
        # v2: in a cgroup namespace cgroup2 shows the namespace's root; without
        # one (or when refused) bind the container's own cgroup directory.
        if cgroupns:
            return [MountStep(dest, where, "cgroup", "cgroup2", user, opts.data,
                              attr_set=opts.attr_set, attr_clr=opts.attr_clr,
                              propagation=opts.propagation, bind_fallback=cgroup_mounts)]
        return [MountStep(dest, where, cgroup_mounts, None, MS_BIND,
                          remount=user | MS_BIND | MS_REMOUNT,
                          attr_set=opts.attr_set, attr_clr=opts.attr_clr,
                          propagation=opts.propagation)]
    steps = [MountStep(dest, where, "tmpfs", "tmpfs", CGROUP_TMPFS_FLAGS, "mode=755",
                       propagation=opts.propagation)]
    if cgroup_mounts is None:
        # No placement known: mount each hierarchy itself, which in a cgroup
        # namespace shows the namespace's root (runc with cgroupns).
        for name, data in _host_cgroup_v1():
            steps.append(MountStep(f"{dest}/{name}", where, "cgroup", "cgroup", user, data,
                                   attr_set=opts.attr_set, attr_clr=opts.attr_clr))
            steps += [LinkStep(name, f"{dest}/{s}", where) for s in name.split(",") if s != name]
    else:
        # The container's own cgroup of each hierarchy, bound from the host.
        for name, host_path, links in cgroup_mounts:
            steps.append(MountStep(f"{dest}/{name}", where, host_path, None, MS_BIND | MS_REC,
                                   remount=user | MS_BIND | MS_REMOUNT if user else None,
                                   attr_set=opts.attr_set, attr_clr=opts.attr_clr))
            steps += [LinkStep(name, f"{dest}/{s}", where) for s in links or [] if s != name]
    if user & MS_RDONLY:
        steps.append(RemountStep(dest, CGROUP_TMPFS_FLAGS | MS_RDONLY, where))
    return steps


def _mount_steps(m, i, bundle, cgroup_mounts, cgroupns):
    where = f"mounts[{i}]"
    if not isinstance(m, dict):
        raise ConfigError(where, "must be an object")
    dest = m.get("destination")
    if not isinstance(dest, str) or not dest:
        raise ConfigError(f"{where}.destination", "must be a non-empty string")
    dest = clean(dest)
    fstype = m.get("type") or ""
    if not isinstance(fstype, str):
        raise ConfigError(f"{where}.type", "must be a string")
    opts = parse_options(m.get("options"), where)
    if fstype == "bind" or opts.bind:
        return [_bind_step(m, where, bundle, dest, opts, fstype)]
    if fstype in ("", "none"):
        raise ConfigError(f"{where}.type", "required unless the options hold bind or rbind")
    if fstype.split(".")[0] not in known_filesystems() and fstype != "cgroup":
        raise ConfigError(f"{where}.type", f"{fstype}: unknown filesystem type")
    _check_destination(dest, where, fstype, fstype == "proc")
    if fstype == "cgroup":
        return _cgroup_steps(m, where, dest, opts, cgroup_mounts, cgroupns)
    source = m.get("source") or fstype
    if not isinstance(source, str):
        raise ConfigError(f"{where}.source", "must be a string")
    if "tmpcopyup" in opts.extensions and fstype != "tmpfs":
        raise ConfigError(f"{where}.options", "tmpcopyup: only for tmpfs mounts")
    step = MountStep(dest, where, source, fstype, opts.flags & ~MS_REMOUNT, opts.data,
                     attr_set=opts.attr_set, attr_clr=opts.attr_clr,
                     propagation=opts.propagation, proc_ok=fstype == "proc",
                     sys_fallback=fstype == "sysfs", copyup="tmpcopyup" in opts.extensions)
    if step.copyup and step.flags & MS_RDONLY:
        # The copy needs a writable tmpfs: read-only comes after it (runc too).
        step.remount = (step.flags & ~MS_REC) | MS_BIND | MS_REMOUNT
        step.flags &= ~MS_RDONLY
    return [step]


def plan_rootfs(config, bundle, cgroup_mounts=None, no_pivot=False, userns=False):
    """Validate and plan the container's root filesystem (see the module doc)."""
    bundle = os.path.abspath(bundle)
    rootfs, readonly = _root(config, bundle)
    linux = config.get("linux") or {}
    if not isinstance(linux, dict):
        raise ConfigError("linux", "must be an object")
    namespaces = linux.get("namespaces") or []
    cgroupns = any(isinstance(n, dict) and n.get("type") == "cgroup" for n in namespaces)
    mounts = config.get("mounts")
    if mounts is None:
        mounts = []
    if not isinstance(mounts, list):
        raise ConfigError("mounts", "must be an array")
    plan = RootfsPlan(rootfs, readonly, parse_propagation(linux.get("rootfsPropagation")),
                      no_pivot, userns)
    for i, m in enumerate(mounts):
        steps = _mount_steps(m, i, bundle, cgroup_mounts, cgroupns)
        first = steps[0]
        if first.destination == "/dev" and isinstance(first, MountStep):
            # runc creates no device nodes on a /dev bound from elsewhere
            # (needsSetupDev), and makes a mounted /dev read-only only after
            # creating them (finalizeRootfs).
            if first.fstype is None:
                plan.setup_dev = False
            elif first.flags & MS_RDONLY:
                plan.late_remounts.append(RemountStep(
                    "/dev", (first.flags & ~MS_REC) | MS_BIND | MS_REMOUNT, first.where))
                first.flags &= ~MS_RDONLY
        plan.steps += steps
    plan.devices = plan_devices(linux.get("devices"))
    plan.dev_core = os.path.exists("/proc/kcore")
    plan.masked_paths = [clean(p) for p in _str_list(linux.get("maskedPaths"), "linux.maskedPaths")]
    plan.readonly_paths = [clean(p) for p in
                           _str_list(linux.get("readonlyPaths"), "linux.readonlyPaths")]
    return plan
