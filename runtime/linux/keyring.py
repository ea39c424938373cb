"""Session keyrings: keyctl(2), which glibc does not wrap.

A fresh session keyring keeps the container from reading the host's keys
(runc does the same unless --no-new-keyring)."""

from pyrunc.linux._libc import c_char_p, c_int, c_uint, syscall

KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_SETPERM = 5


def join_session_keyring(name):
    return syscall("keyctl", c_int(KEYCTL_JOIN_SESSION_KEYRING), c_char_p(name.encode()))


def setperm(serial, perm):
    syscall("keyctl", c_int(KEYCTL_SETPERM), c_int(serial), c_uint(perm))
