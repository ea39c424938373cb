"""openat2(2): path resolution with kernel-enforced scoping (Linux 5.6+).

RESOLVE_IN_ROOT makes the kernel treat dirfd as the root of the lookup:
``..`` stops there and absolute symlinks are resolved relative to it, so no
path or symlink planted by an untrusted tree can lead outside (openat2(2)).
"""

import ctypes
import os

from pyrunc.linux._libc import c_int, c_size_t, c_uint64, c_void_p, fsencode, syscall

O_PATH = os.O_PATH
O_DIRECTORY = os.O_DIRECTORY
O_NOFOLLOW = os.O_NOFOLLOW
O_CLOEXEC = os.O_CLOEXEC
O_RDONLY = os.O_RDONLY

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
RESOLVE_CACHED = 0x20


class _OpenHow(ctypes.Structure):
    # struct open_how from <linux/openat2.h>: three u64, 24 bytes (OPEN_HOW_SIZE_VER0).
    _fields_ = [("flags", c_uint64), ("mode", c_uint64), ("resolve", c_uint64)]


def openat2(dirfd, path, flags, mode=0, resolve=0):
    """Open path relative to dirfd and return the new fd; raises OSError
    (ENOSYS before Linux 5.6, EXDEV/ELOOP when resolve forbids the walk)."""
    how = _OpenHow(flags | O_CLOEXEC, mode, resolve)
    return syscall("openat2", c_int(dirfd), ctypes.c_char_p(fsencode(path)),
                   c_void_p(ctypes.addressof(how)), c_size_t(ctypes.sizeof(how)),
                   path=path)
