"""seccomp(2): install a compiled filter; the user-notification ioctls.

The caller (the container's init) has already set no_new_privs or holds
CAP_SYS_ADMIN in its user namespace; without either the kernel refuses the
filter with EACCES (seccomp(2)).  Deciding that is not this module's job.
"""

import ctypes
import errno

from pyrunc.linux._libc import c_int, c_uint, c_ulong, c_void_p, check, func, raise_errno, syscall

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

USER_NOTIF_FLAG_CONTINUE = 1


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", c_void_p)]


class _SeccompData(ctypes.Structure):
    _fields_ = [("nr", c_int), ("arch", ctypes.c_uint32), ("instruction_pointer", ctypes.c_uint64),
                ("args", ctypes.c_uint64 * 6)]


class _Notif(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("pid", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("data", _SeccompData)]


class _NotifResp(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("val", ctypes.c_int64), ("error", ctypes.c_int32),
                ("flags", ctypes.c_uint32)]


def _iowr(nr, size, write_only=False):
    # _IOWR('!', nr, size) / _IOW('!', nr, size), linux/ioctl.h encoding
    direction = 1 if write_only else 3
    return (direction << 30) | (size << 16) | (ord("!") << 8) | nr


NOTIF_RECV = _iowr(0, ctypes.sizeof(_Notif))
NOTIF_SEND = _iowr(1, ctypes.sizeof(_NotifResp))
NOTIF_ID_VALID = _iowr(2, 8, write_only=True)

_ioctl = func("ioctl", c_int, c_int, c_ulong, c_void_p)


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


# One trapped syscall, from SECCOMP_IOCTL_NOTIF_RECV (struct seccomp_notif).
class Notification:
    """One seccomp_notif: who made which system call."""

    __slots__ = ("id", "pid", "flags", "nr", "arch", "instruction_pointer", "args")

    def __init__(self, *values):
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)


def notif_recv(fd):
    """Wait for the next notification on a listener fd (seccomp_unotify(2))."""
    notif = _Notif()        # the kernel requires a zeroed buffer
    check(_ioctl(fd, NOTIF_RECV, ctypes.addressof(notif)), "ioctl SECCOMP_IOCTL_NOTIF_RECV")
    d = notif.data
    return Notification(notif.id, notif.pid, notif.flags, d.nr, d.arch, d.instruction_pointer,
                        tuple(d.args))


def notif_send(fd, notif_id, val=0, err=0, flags=0):
    """Answer a notification: the syscall returns val, or fails with errno err
    (positive); flags=USER_NOTIF_FLAG_CONTINUE lets the kernel run it instead."""
    resp = _NotifResp(notif_id, val, -err, flags)
    check(_ioctl(fd, NOTIF_SEND, ctypes.addressof(resp)), "ioctl SECCOMP_IOCTL_NOTIF_SEND")


def notif_id_valid(fd, notif_id):
    """Whether the notifying task still waits (guards against pid reuse, seccomp_unotify(2))."""
    value = ctypes.c_uint64(notif_id)
    if _ioctl(fd, NOTIF_ID_VALID, ctypes.addressof(value)) == 0:
        return True
    if ctypes.get_errno() == errno.ENOENT:
        return False
    raise_errno("ioctl SECCOMP_IOCTL_NOTIF_ID_VALID")
