"""The bootstrap child: enters and creates namespaces, then forks the init.

A new pid namespace only applies to children of the process that made it
(pid_namespaces(7)), so this process forks once more; its child is pid 1 of
the container.  It also keeps the namespace work out of the parent, which must
stay on the host.
"""

import os

from pyrunc import protocol
from pyrunc.linux import ns, prctl


def bootstrap(plan, chan, run_init):
    """Runs in the forked child; never returns."""
    stage = "bootstrap"
    try:
        # The state directory's flock lives on the open file description: a
        # copy kept here (and in the init) would hold the lock until exec
        # and block every later command on this container.
        for fd in plan.parent_fds:
            os.close(fd)
        # Before touching any namespace of the container: no other process there
        # may open /proc/<us>/exe or ptrace us (CVE-2019-5736).
        prctl.set_dumpable(False)
        chan.expect(protocol.GO)
        stage = "namespaces"
        join_namespaces(plan.join)
        if plan.new_user:
            ns.unshare(ns.CLONE_NEWUSER)
            chan.send(protocol.USERNS)
            chan.expect(protocol.MAPPED)
            become_root(plan)
        if plan.new_flags:
            ns.unshare(plan.new_flags)
        if plan.time_offsets:
            with open("/proc/self/timens_offsets", "w") as f:
                f.write(plan.time_offsets)
        stage = "fork"
        pid = os.fork()
        if pid == 0:
            run_init(plan, chan)  # never returns
        chan.send(protocol.PID, pid=pid)
        os._exit(0)
    except BaseException as e:  # noqa: B036 - every failure must reach the parent as data
        protocol.send_error(chan, stage, e)
        os._exit(1)


def join_namespaces(join):
    """setns for every namespace given by path, user namespace first: joining
    the others needs the privileges it grants (setns(2))."""
    fds = []
    try:
        for kind, path in join:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            fds.append((fd, kind, path))
        for fd, kind, path in fds:
            ns.setns(fd, ns.NAMESPACES[kind][0], path)
    finally:
        for fd, _, _ in fds:
            os.close(fd)


def become_root(plan):
    """Inside a new user namespace: take the mapped root ids when they exist, so
    the rest of set-up runs with full capabilities there."""
    if plan.root_mapped:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
