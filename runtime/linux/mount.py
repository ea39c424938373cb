"""mount(2), umount2(2), pivot_root(2), mount_setattr(2) and statfs(2).

The MS_* and MOUNT_ATTR_* numbers themselves are pure data and live with the
option table in ``pyrunc.oci.mounts``; this module only makes the calls.
"""

import ctypes

from pyrunc.linux._libc import (c_char_p, c_int, c_uint, c_uint64, c_ulong, c_void_p, check,
                                fsencode, func, syscall)

MNT_FORCE = 1
MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8

AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
AT_SYMLINK_NOFOLLOW = 0x100

# f_type values of statfs(2) (<linux/magic.h>).
PROC_SUPER_MAGIC = 0x9FA0
SYSFS_MAGIC = 0x62656572
TMPFS_MAGIC = 0x01021994
CGROUP_SUPER_MAGIC = 0x27E0EB
CGROUP2_SUPER_MAGIC = 0x63677270

_mount = func("mount", c_int, c_char_p, c_char_p, c_char_p, c_ulong, c_void_p)
_umount2 = func("umount2", c_int, c_char_p, c_int)
_statfs = func("statfs", c_int, c_char_p, c_void_p)


def _opt(value):
    return None if value is None else fsencode(value)


def mount(source, target, fstype, flags=0, data=None):
    """mount(2); None for source/fstype/data passes NULL."""
    buf = None if not data else ctypes.create_string_buffer(fsencode(data))
    rc = _mount(_opt(source), fsencode(target), _opt(fstype), flags,
                None if buf is None else ctypes.addressof(buf))
    check(rc, "mount", target, source)


def umount2(target, flags=0):
    check(_umount2(fsencode(target), flags), "umount2", target)


def pivot_root(new_root, put_old):
    syscall("pivot_root", c_char_p(fsencode(new_root)), c_char_p(fsencode(put_old)),
            path=new_root)


class _MountAttr(ctypes.Structure):
    # struct mount_attr from <linux/mount.h> (MOUNT_ATTR_SIZE_VER0 = 32 bytes).
    _fields_ = [("attr_set", c_uint64), ("attr_clr", c_uint64),
                ("propagation", c_uint64), ("userns_fd", c_uint64)]


def mount_setattr(dirfd, path, flags, attr_set=0, attr_clr=0, propagation=0):
    """mount_setattr(2) (Linux 5.12+): with AT_RECURSIVE it changes a whole
    mount tree, which mount(MS_REMOUNT) cannot (the r* options: rro, rnosuid...)."""
    attr = _MountAttr(attr_set, attr_clr, propagation, 0)
    syscall("mount_setattr", c_int(dirfd), c_char_p(fsencode(path)), c_uint(flags),
            c_void_p(ctypes.addressof(attr)), ctypes.c_size_t(ctypes.sizeof(attr)),
            path=path)


def statfs_type(path):
    """The f_type of the filesystem holding path (a *_MAGIC value above)."""
    # struct statfs is 120 bytes on 64-bit Linux; f_type is its first word.
    buf = ctypes.create_string_buffer(256)
    check(_statfs(fsencode(path), buf), "statfs", path)
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF
