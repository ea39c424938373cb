"""clone3(2): fork straight into new namespaces and a cgroup v2 directory.

Writing a pid to a cgroup v2 cgroup.procs file takes the kernel's global
threadgroup lock for writing, which waits for an RCU grace period (5-20 ms on
these machines); a child created inside its cgroup never migrates, so nothing
waits.  os.fork cannot pass a cgroup, so this is a fork done by hand, with the
interpreter's own before/after-fork steps around the raw system call:

- the call goes through a PyDLL handle, which keeps the GIL held across it,
  exactly as os.fork does, so the child starts with a consistent interpreter;
- PyOS_BeforeFork / PyOS_AfterFork_Child / PyOS_AfterFork_Parent are the C API
  os.fork itself runs (import lock, thread state, at-fork callbacks).

glibc's fork bookkeeping is skipped: the child keeps its parent's idea of its
thread id, which only pthread functions consult.  It runs set-up stages and
then execve, or forks with os.fork (which sets its own child right).
"""

import ctypes
import errno
import os

from pyrunc.linux._libc import NR

CLONE_INTO_CGROUP = 0x200000000
SIGCHLD = 17
# flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
# set_tid, set_tid_size, cgroup: CLONE_ARGS_SIZE_VER2
_ARGS = ctypes.c_uint64 * 11

_gil_syscall = ctypes.PyDLL(None, use_errno=True).syscall
_gil_syscall.restype = ctypes.c_long
_api = ctypes.pythonapi
_before, _after_child, _after_parent = (
    getattr(_api, n) for n in ("PyOS_BeforeFork", "PyOS_AfterFork_Child", "PyOS_AfterFork_Parent"))
for _f in (_before, _after_child, _after_parent):
    _f.argtypes = []
    _f.restype = None

# errno values meaning "this kernel cannot": the caller falls back to a plain fork
# and a cgroup.procs write.
UNSUPPORTED = (errno.ENOSYS, errno.E2BIG, errno.EINVAL)


def clone(flags=0, cgroup_fd=None):
    """Fork, the child in new namespaces (CLONE_NEW* FLAGS) and, with
    cgroup_fd, a member of the cgroup v2 directory open there from its start.
    Returns 0 in the child and the child's pid in the parent; raises OSError
    (errno in UNSUPPORTED: the kernel has no clone3 or no CLONE_INTO_CGROUP)."""
    if cgroup_fd is not None:
        flags |= CLONE_INTO_CGROUP
    args = _ARGS(flags, 0, 0, 0, SIGCHLD, 0, 0, 0, 0, 0, cgroup_fd or 0)
    _before()
    pid = _gil_syscall(ctypes.c_long(NR["clone3"]), ctypes.byref(args),
                       ctypes.c_size_t(ctypes.sizeof(args)))
    if pid == 0:
        _after_child()
        return 0
    err = ctypes.get_errno()
    _after_parent()
    if pid < 0:
        raise OSError(err, os.strerror(err))
    return pid


def fork_into_cgroup(cgroup_fd):
    """clone() into a cgroup, no new namespaces."""
    return clone(0, cgroup_fd)
