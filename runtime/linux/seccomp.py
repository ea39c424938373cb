"""seccomp(2): install a compiled filter (the user-notification ioctls are in
pyrunc.linux.seccomp_notify).

The caller (the container's init) has already set no_new_privs or holds
CAP_SYS_ADMIN in its user namespace; without either the kernel refuses the
filter with EACCES (seccomp(2)).  Deciding that is not this module's job.
"""

import ctypes
import errno

from pyrunc.linux._libc import c_uint, c_void_p, syscall

SECCOMP_SET_MODE_FILTER = 1

FLAG_TSYNC = 1 << 0
FLAG_LOG = 1 << 1
FLAG_SPEC_ALLOW = 1 << 2
FLAG_NEW_LISTENER = 1 << 3
FLAG_TSYNC_ESRCH = 1 << 4
FLAG_WAIT_KILLABLE_RECV = 1 << 5
# Flags that change only logging, speculation mitigations or how a
# listener waits.  Kernels older than the flag (LOG 4.14, SPEC_ALLOW 4.17,
# WAIT_KILLABLE_RECV 5.19) reject it with EINVAL; the filter itself means
# the same without them, so load() retries once without.
OPTIONAL_FLAGS = FLAG_LOG | FLAG_SPEC_ALLOW | FLAG_WAIT_KILLABLE_RECV


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", c_void_p)]


def _set_filter(program, flags):
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.addressof(buf))
    return syscall("seccomp", c_uint(SECCOMP_SET_MODE_FILTER), c_uint(flags),
                   c_void_p(ctypes.addressof(prog)))


def load(program, flags):
    """Install program (struct sock_filter[] bytes) on the calling thread.

    Returns the notification fd when flags has NEW_LISTENER, else None.
    """
    try:
        rc = _set_filter(program, flags)
    except OSError as e:
        if e.errno != errno.EINVAL or not flags & OPTIONAL_FLAGS:
            raise
        flags &= ~OPTIONAL_FLAGS
        rc = _set_filter(program, flags)
    if flags & FLAG_NEW_LISTENER:
        return rc
    if rc > 0:
        # TSYNC without TSYNC_ESRCH: rc is a thread that could not be synchronized.
        raise OSError(errno.ESRCH, f"seccomp: thread {rc} could not be synchronized")
    return None
