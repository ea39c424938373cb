"""Small process-attribute syscalls: domainname, personality, scheduler, io priority,
session keyring, close_range, pidfd."""

import ctypes

from pyrunc.linux._libc import (c_char_p, c_int, c_long, c_size_t, c_uint, c_ulong, check,
                                func, syscall)

_sethostname = func("sethostname", c_int, c_char_p, c_size_t)
_setdomainname = func("setdomainname", c_int, c_char_p, c_size_t)
_personality = func("personality", c_int, c_ulong)


def sethostname(name):
    b = name.encode()
    check(_sethostname(b, len(b)), "sethostname")


def setdomainname(name):
    b = name.encode()
    check(_setdomainname(b, len(b)), "setdomainname")


def personality(persona):
    check(_personality(persona), "personality")


# keyctl(KEYCTL_JOIN_SESSION_KEYRING): a fresh session keyring keeps the
# container from reading the host's keys (runc does the same unless --no-new-keyring).
KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_SETPERM = 5


def join_session_keyring(name):
    serial = syscall("keyctl", c_int(KEYCTL_JOIN_SESSION_KEYRING), c_char_p(name.encode()))
    return serial


def keyring_setperm(serial, perm):
    syscall("keyctl", c_int(KEYCTL_SETPERM), c_int(serial), c_uint(perm))


class SchedAttr(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("sched_policy", ctypes.c_uint32),
                ("sched_flags", ctypes.c_uint64), ("sched_nice", ctypes.c_int32),
                ("sched_priority", ctypes.c_uint32), ("sched_runtime", ctypes.c_uint64),
                ("sched_deadline", ctypes.c_uint64), ("sched_period", ctypes.c_uint64)]


def sched_setattr(policy, nice=0, priority=0, flags=0, runtime=0, deadline=0, period=0):
    attr = SchedAttr(ctypes.sizeof(SchedAttr), policy, flags, nice, priority, runtime,
                     deadline, period)
    syscall("sched_setattr", c_int(0), ctypes.byref(attr), c_uint(0))


IOPRIO_WHO_PROCESS = 1


def ioprio_set(ioclass, priority):
    syscall("ioprio_set", c_int(IOPRIO_WHO_PROCESS), c_int(0),
            c_int((ioclass << 13) | priority))


CLOSE_RANGE_CLOEXEC = 1 << 2


def close_range_cloexec(first):
    """Mark every fd >= first close-on-exec (kernel 5.11+)."""
    syscall("close_range", c_uint(first), c_uint(0xFFFFFFFF), c_uint(CLOSE_RANGE_CLOEXEC))


def pidfd_open(pid):
    return syscall("pidfd_open", c_int(pid), c_uint(0))


def pidfd_send_signal(pidfd, sig):
    syscall("pidfd_send_signal", c_int(pidfd), c_int(sig), c_long(0), c_uint(0))
