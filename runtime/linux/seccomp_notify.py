"""The seccomp user-notification ioctls (seccomp_unotify(2)): receive a trapped
system call on a listener fd, answer it, check that its task still waits."""

import ctypes
import errno

from pyrunc.linux._libc import c_int, c_ulong, c_void_p, check, func, raise_errno

USER_NOTIF_FLAG_CONTINUE = 1


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
