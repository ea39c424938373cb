"""Namespaces: unshare(2) and setns(2), which Python 3.11's os module lacks."""

from pyrunc.linux._libc import c_int, check, func

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# OCI namespace type -> (clone flag, name under /proc/PID/ns)
NAMESPACES = {
    "user": (CLONE_NEWUSER, "user"),
    "pid": (CLONE_NEWPID, "pid"),
    "network": (CLONE_NEWNET, "net"),
    "mount": (CLONE_NEWNS, "mnt"),
    "ipc": (CLONE_NEWIPC, "ipc"),
    "uts": (CLONE_NEWUTS, "uts"),
    "cgroup": (CLONE_NEWCGROUP, "cgroup"),
    "time": (CLONE_NEWTIME, "time"),
}

_unshare = func("unshare", c_int, c_int)
_setns = func("setns", c_int, c_int, c_int)


def unshare(flags):
    check(_unshare(flags), "unshare")


def setns(fd, nstype=0, path=None):
    """Join the namespace open at fd; nstype 0 accepts any kind."""
    check(_setns(fd, nstype), "setns", path)
