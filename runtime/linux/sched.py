"""Scheduling of the current process: personality(2), sched_setattr(2), ioprio_set(2)."""

import ctypes

from pyrunc.linux._libc import c_int, c_uint, c_ulong, check, func, syscall

_personality = func("personality", c_int, c_ulong)


def personality(persona):
    check(_personality(persona), "personality")


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
