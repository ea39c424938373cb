"""The container's root filesystem, built in the child from the parent's plan.

Order (each stage called by the init's stage table):
  plan_rootfs      parent, no side effect (``rootfs_plan``)
  prepare_rootfs   child, in its new mount namespace: propagation of /, the
                   rootfs bound onto itself, every mount, devices, /dev links
  pivot_rootfs     pivot_root(2) (or MS_MOVE + chroot with no_pivot)
  finalize_rootfs  after pivot: readonlyPaths, maskedPaths, /dev and / read-only,
                   rootfsPropagation
  bind_console     after pivot: the pty slave onto /dev/console

After pivot_root the host's filesystem is gone, so everything this module
uses is imported here, at the top.
"""

import errno
import os
import stat

from pyrunc.errors import SetupError
from pyrunc.init.devices import create_devices, setup_dev_links, setup_ptmx
from pyrunc.init.paths import (clean, ensure_target, fd_path, lstat_in_root, mkdir_all,
                               open_in_root, real_path)
from pyrunc.init.rootfs_copyup import copy_tree
from pyrunc.init.rootfs_plan import (PROC_ALLOWED, LinkStep, MountStep, RemountStep,
                                     RootfsPlan, plan_rootfs)
from pyrunc.linux.mount import (AT_EMPTY_PATH, AT_RECURSIVE, MNT_DETACH, mount, mount_setattr,
                                pivot_root, umount2)
from pyrunc.linux.openat2 import O_DIRECTORY, O_PATH
from pyrunc.oci.mounts import (MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID,
                               MOUNT_ATTR_RDONLY, MS_BIND, MS_MOVE, MS_NOATIME, MS_NODEV,
                               MS_NODIRATIME, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY,
                               MS_REC, MS_RELATIME, MS_REMOUNT, MS_SHARED, MS_SLAVE,
                               MS_STRICTATIME, MS_UNBINDABLE)

__all__ = ["RootfsPlan", "plan_rootfs", "prepare_rootfs", "pivot_rootfs", "finalize_rootfs",
           "bind_console"]

# statvfs f_flag bits (ST_*) -> the mount flags a user namespace may not
# drop from a mount it did not create ("locked" flags, mount_namespaces(7)).
_LOCKED = [(os.ST_RDONLY, MS_RDONLY), (os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV),
           (os.ST_NOEXEC, MS_NOEXEC), (os.ST_NOATIME, MS_NOATIME),
           (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME)]
_ATIME = MS_NOATIME | MS_RELATIME | MS_STRICTATIME

_FLAG_ATTRS = [(MS_RDONLY, MOUNT_ATTR_RDONLY), (MS_NOSUID, MOUNT_ATTR_NOSUID),
               (MS_NODEV, MOUNT_ATTR_NODEV), (MS_NOEXEC, MOUNT_ATTR_NOEXEC)]


def _fail(stage, what, e, path):
    """OSError -> SetupError, one line: what failed, then why."""
    why = (e.strerror or str(e)).lower()
    name = e.filename if isinstance(e.filename, str) else None
    if name and name not in what and not name.startswith("/proc/self/fd/"):
        why = f"{name}: {why}"
    return SetupError(stage, f"{what}: {why}", e.errno or 0, path)


def _remount(fd, flags, target=None):
    """mount(MS_REMOUNT) of the mount open at fd (or at target); when a user
    namespace refuses (EPERM because a flag is locked), retry keeping the
    flags the mount already has, as runc does."""
    target = target or fd_path(fd)
    try:
        mount(None, target, None, flags)
    except PermissionError:
        have = os.fstatvfs(fd).f_flag
        locked = 0
        for st_flag, ms_flag in _LOCKED:
            if have & st_flag:
                locked |= ms_flag
        if flags & _ATIME:
            locked &= ~_ATIME
        mount(None, target, None, flags | locked)


def _check_resolved(plan, fd, step):
    """Check where the destination really is (after symlinks inside the root)
    against runc's /proc rules; a symlink must not turn /foo into /proc/sys."""
    real = real_path(fd)
    if real != plan.rootfs and not real.startswith(plan.rootfs + "/"):
        raise OSError(errno.EXDEV, "destination resolved outside the root", real)
    inside = real[len(plan.rootfs):] or "/"
    if inside == "/":
        raise OSError(errno.EINVAL, "destination resolves to the root", step.destination)
    if inside == "/proc" and not step.proc_ok:
        raise OSError(errno.EPERM, "only a proc filesystem may be mounted on /proc", inside)
    if inside.startswith("/proc/") and inside not in PROC_ALLOWED:
        raise OSError(errno.EPERM, "cannot mount inside /proc", inside)


def _flags_to_attrs(flags):
    return sum(attr for flag, attr in _FLAG_ATTRS if flags & flag)


def _mount_fs(plan, root_fd, fd, step):
    """The mount(2) of one step onto fd, with the fallbacks runc uses."""
    target = fd_path(fd)
    if step.fstype is None:
        mount(step.source, target, None, step.flags)
        return
    try:
        mount(step.source, target, step.fstype, step.flags, step.data)
        return
    except PermissionError:
        if step.sys_fallback:
            # sysfs needs a network namespace owned by the user namespace
            # (sysfs_get_tree); without one, bind the host's /sys and make
            # the whole tree as restrictive as asked.
            mount("/sys", target, None, MS_BIND | MS_REC)
            nfd = open_in_root(root_fd, step.destination)
            try:
                attrs = _flags_to_attrs(step.flags)
                if attrs:
                    mount_setattr(nfd, "", AT_EMPTY_PATH | AT_RECURSIVE, attrs, 0)
            finally:
                os.close(nfd)
            return
        if step.bind_fallback is None:
            raise
    except OSError as e:
        if step.bind_fallback is None or e.errno != errno.EBUSY:
            raise
    # cgroup2 refused (no cgroup namespace of our own): bind the cgroup.
    mount(step.bind_fallback, target, None, MS_BIND)
    nfd = open_in_root(root_fd, step.destination)
    try:
        _remount(nfd, step.flags | MS_BIND | MS_REMOUNT)
    finally:
        os.close(nfd)


def _mount_step(plan, root_fd, step):
    if step.fstype in ("proc", "sysfs"):
        # Mounting through a symlink planted at /proc or /sys has been a
        # container escape (CVE-2019-16884, CVE-2019-19921): demand a real directory.
        st = lstat_in_root(root_fd, step.destination)
        if st is not None and not stat.S_ISDIR(st.st_mode):
            raise OSError(errno.ENOTDIR, f"{step.fstype} must be mounted on a directory",
                          step.destination)
    fd = ensure_target(root_fd, step.destination, step.is_dir)
    old_dir = None
    try:
        _check_resolved(plan, fd, step)
        if step.copyup:
            # Held across the mount: it still names the directory underneath.
            old_dir = open_in_root(root_fd, step.destination, os.O_RDONLY | O_DIRECTORY)
        _mount_fs(plan, root_fd, fd, step)
        if old_dir is not None:
            new_dir = open_in_root(root_fd, step.destination, os.O_RDONLY | O_DIRECTORY)
            try:
                copy_tree(old_dir, new_dir)
            finally:
                os.close(new_dir)
    finally:
        os.close(fd)
        if old_dir is not None:
            os.close(old_dir)
    # Reopen: the fd above names the directory under the new mount.
    fd = open_in_root(root_fd, step.destination)
    try:
        if step.remount is not None:
            _remount(fd, step.remount)
        if step.attr_set or step.attr_clr:
            mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, step.attr_set, step.attr_clr)
        for prop in step.propagation:
            mount(None, fd_path(fd), None, prop)
    finally:
        os.close(fd)


def _link_step(root_fd, step):
    parent, name = os.path.split(step.path)
    pfd = mkdir_all(root_fd, parent)
    try:
        os.symlink(step.target, name, dir_fd=pfd)
    except FileExistsError:
        pass
    finally:
        os.close(pfd)


def _remount_step(root_fd, step):
    fd = open_in_root(root_fd, step.destination)
    try:
        _remount(fd, step.flags | MS_BIND | MS_REMOUNT)
    finally:
        os.close(fd)


def _mountinfo():
    """(mount point, optional fields, fs type) of each mount, from mountinfo."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            point = fields[4].replace("\\040", " ")
            out.append((point, fields[6:sep], fields[sep + 1]))
    return out


def _parent_private(rootfs):
    """pivot_root(2) and MS_MOVE fail with EINVAL when the mount the rootfs
    sits on is shared (a rootfsPropagation of shared leaves it so, as may the
    host): make that one mount private, as runc does."""
    best = ""
    shared = False
    for point, optional, _ in _mountinfo():
        if (rootfs == point or rootfs.startswith(point.rstrip("/") + "/")) \
                and len(point) >= len(best):
            best = point
            shared = any(o.startswith("shared:") for o in optional)
    if shared:
        mount(None, best, None, MS_PRIVATE)


def prepare_rootfs(plan):
    """Build the root under plan.rootfs (child, in its own mount namespace)."""
    stage = "rootfs"
    try:
        # rslave by default: host mounts still reach the container, but
        # nothing the container mounts propagates back to the host.
        # An unbindable "/" would refuse the bind of the rootfs below (EINVAL):
        # until finalize_rootfs applies it after pivot, stay slave.
        early = plan.propagation
        if not early or early & MS_UNBINDABLE:
            early = MS_SLAVE | MS_REC
        mount(None, "/", None, early)
        if early & MS_SHARED or not early & MS_REC:
            # Otherwise the line above left no mount shared.
            _parent_private(plan.rootfs)
        # pivot_root needs new_root to be a mount point.
        mount(plan.rootfs, plan.rootfs, None, MS_BIND | MS_REC)
        root_fd = os.open(plan.rootfs, O_PATH | O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise _fail(stage, f"root {plan.rootfs}", e, plan.rootfs) from None
    try:
        for step in plan.steps:
            try:
                if isinstance(step, MountStep):
                    _mount_step(plan, root_fd, step)
                elif isinstance(step, LinkStep):
                    _link_step(root_fd, step)
                elif isinstance(step, RemountStep):
                    _remount_step(root_fd, step)
                else:
                    raise TypeError(f"unknown plan step {step!r}")
            except OSError as e:
                dest = step.path if isinstance(step, LinkStep) else step.destination
                raise _fail(stage, f"{step.where}: {dest}", e, dest) from None
        if plan.setup_dev:
            try:
                create_devices(root_fd, plan.devices, plan.userns)
                setup_ptmx(root_fd)
                setup_dev_links(root_fd, plan.dev_core)
            except OSError as e:
                raise _fail("devices", f"devices: {e.filename or ''}", e, e.filename) from None
    finally:
        os.close(root_fd)


def _hide_host_proc_sys(rootfs):
    """Before chroot (no pivot): the host's procfs and sysfs stay in the
    mount namespace, and their presence lets later proc/sysfs mounts pass the
    kernel's mount_too_revealing() check; detach them, or cover them."""
    for point, _, fstype in reversed(_mountinfo()):
        if fstype not in ("proc", "sysfs") or point == rootfs or point.startswith(rootfs + "/"):
            continue
        try:
            umount2(point, MNT_DETACH)
        except OSError:
            mount("tmpfs", point, "tmpfs", MS_RDONLY)


def pivot_rootfs(plan):
    """Make plan.rootfs the root; ends with cwd = "/"."""
    try:
        if plan.no_pivot:
            _hide_host_proc_sys(plan.rootfs)
            os.chdir(plan.rootfs)
            mount(plan.rootfs, "/", None, MS_MOVE)
            os.chroot(".")
        else:
            old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
            new = os.open(plan.rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
            try:
                # pivot_root(".", ".") stacks the old root on top of the new
                # one at "/" with no directory needed for it (pivot_root(2)).
                os.fchdir(new)
                pivot_root(".", ".")
                os.fchdir(old)
                # Slave first, so that detaching it cannot propagate an
                # unmount to the host (runc, pivotRoot).
                mount(None, ".", None, MS_SLAVE | MS_REC)
                umount2(".", MNT_DETACH)
            finally:
                os.close(old)
                os.close(new)
        os.chdir("/")
    except OSError as e:
        raise _fail("pivot", f"pivot into {plan.rootfs}", e, plan.rootfs) from None


def _readonly_path(root_fd, path):
    try:
        fd = open_in_root(root_fd, path)
    except FileNotFoundError:
        return
    try:
        mount(fd_path(fd), fd_path(fd), None, MS_BIND | MS_REC)
    finally:
        os.close(fd)
    fd = open_in_root(root_fd, path)
    try:
        _remount(fd, MS_BIND | MS_REMOUNT | MS_RDONLY)
    finally:
        os.close(fd)


def _masked_path(root_fd, null_fd, path):
    try:
        fd = open_in_root(root_fd, path)
    except FileNotFoundError:
        return
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            mount("tmpfs", fd_path(fd), "tmpfs", MS_RDONLY)
        else:
            if null_fd is None:
                raise OSError(errno.ENOENT, "no /dev/null to mask files with", "/dev/null")
            mount(fd_path(null_fd), fd_path(fd), None, MS_BIND)
    finally:
        os.close(fd)


def _open_null(root_fd):
    try:
        fd = open_in_root(root_fd, "/dev/null")
    except FileNotFoundError:
        return None
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != os.makedev(1, 3):
        os.close(fd)
        raise OSError(errno.EINVAL, "not the null device", "/dev/null")
    return fd


def finalize_rootfs(plan):
    """After pivot: readonlyPaths, maskedPaths, late remounts, root
    read-only, rootfsPropagation (runc's order)."""
    root_fd = os.open("/", O_PATH | O_DIRECTORY | os.O_CLOEXEC)
    null_fd = None
    path = "/"
    try:
        for path in plan.readonly_paths:
            _readonly_path(root_fd, path)
        if plan.masked_paths:
            path = "/dev/null"
            null_fd = _open_null(root_fd)
        for path in plan.masked_paths:
            _masked_path(root_fd, null_fd, path)
        for step in plan.late_remounts:
            path = step.destination
            _remount_step(root_fd, step)
        path = "/"
        if plan.readonly:
            # "/" itself: needs no /proc, and no symlink can stand in for it.
            _remount(root_fd, MS_BIND | MS_REMOUNT | MS_RDONLY, "/")
        if plan.propagation:
            # Only now: before pivot the flag would apply to the host's "/".
            mount(None, "/", None, plan.propagation)
    except OSError as e:
        raise _fail("finalize", clean(path), e, path) from None
    finally:
        os.close(root_fd)
        if null_fd is not None:
            os.close(null_fd)


def bind_console(slave_path):
    """Bind the pty slave onto /dev/console (created empty if missing)."""
    root_fd = os.open("/", O_PATH | O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = ensure_target(root_fd, "/dev/console", is_dir=False, mode=0o000)
        try:
            mount(slave_path, fd_path(fd), None, MS_BIND)
        finally:
            os.close(fd)
    except OSError as e:
        raise _fail("console", f"bind {slave_path} on /dev/console", e, "/dev/console") from None
    finally:
        os.close(root_fd)
