"""File descriptors: close_range(2) and pidfd_open(2)."""

from pyrunc.linux._libc import c_int, c_uint, syscall

CLOSE_RANGE_CLOEXEC = 1 << 2


def close_range_cloexec(first):
    """Mark every fd >= first close-on-exec (kernel 5.11+)."""
    syscall("close_range", c_uint(first), c_uint(0xFFFFFFFF), c_uint(CLOSE_RANGE_CLOEXEC))


def pidfd_open(pid):
    return syscall("pidfd_open", c_int(pid), c_uint(0))

