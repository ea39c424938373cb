"""The one place that loads libc and turns a failed call into OSError.

Every prototype is declared once, with argtypes: without them ctypes passes
Python ints as C int, and 0xFFFFFFFF reaches the kernel sign-extended.
Modules of this package import ``ctypes`` and this module; nothing outside
``pyrunc.linux`` does.
"""

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)

c_int = ctypes.c_int
c_uint = ctypes.c_uint
c_long = ctypes.c_long
c_ulong = ctypes.c_ulong
c_uint64 = ctypes.c_uint64
c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
c_size_t = ctypes.c_size_t

ARCH = os.uname().machine

# Syscall numbers for calls glibc 2.36 has no wrapper for.  The generic
# table (aarch64, riscv64, loongarch64) shares the newer numbers with x86_64.
_NR = {
    "x86_64": {
        "pivot_root": 155, "keyctl": 250, "ioprio_set": 251, "ioprio_get": 252,
        "seccomp": 317, "bpf": 321, "sched_setattr": 314, "pidfd_send_signal": 424,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "pidfd_open": 434, "clone3": 435, "close_range": 436,
        "openat2": 437, "pidfd_getfd": 438, "mount_setattr": 442,
    },
    "aarch64": {
        "pivot_root": 41, "keyctl": 219, "ioprio_set": 30, "ioprio_get": 31,
        "seccomp": 277, "bpf": 280, "sched_setattr": 274, "pidfd_send_signal": 424,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "pidfd_open": 434, "clone3": 435, "close_range": 436,
        "openat2": 437, "pidfd_getfd": 438, "mount_setattr": 442,
    },
}
NR = _NR.get(ARCH, _NR["aarch64"])

_syscall = libc.syscall
_syscall.restype = c_long


def raise_errno(name, path=None, path2=None):
    """Raise OSError for the errno of the call that just failed."""
    err = ctypes.get_errno()
    raise OSError(err, f"{name}: {os.strerror(err)}", path, None, path2)


def check(rc, name, path=None, path2=None):
    """Return rc, or raise OSError naming the call (and path) when rc < 0."""
    if rc < 0:
        raise_errno(name, path, path2)
    return rc


def func(name, restype, *argtypes):
    """Declare a libc function once, with its full prototype."""
    f = getattr(libc, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


def syscall(name, *args, path=None):
    """Call a syscall without a glibc wrapper; every argument must already be
    a ctypes value (so that widths are explicit), e.g. c_int(fd), c_uint64(v)."""
    rc = _syscall(c_long(NR[name]), *args)
    return check(rc, name, path)


def fsencode(path):
    return path if isinstance(path, bytes) else os.fsencode(path)
