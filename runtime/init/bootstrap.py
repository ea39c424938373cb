"""The bootstrap child: joins the cgroup, enters and creates namespaces, then
forks the init.

A new pid namespace only applies to children of the process that made it
(pid_namespaces(7)), so this process forks once more; its child is pid 1 of
the container.  It also keeps the namespace work out of the parent, which must
stay on the host.

Cgroup placement is done here, not by the parent writing pids, because of what
a migration costs.  Writing a pid to cgroup.procs takes the kernel's global
threadgroup lock for writing, which first waits for an RCU grace period
(5-20 ms here, every time).  Two moves skip it:
- a process writing "0" to a v1 hierarchy's ``tasks`` file moves only its
  own thread, for which the kernel takes no global lock;
- on v2 (pure or the hybrid unified/ hierarchy) the init is forked straight
  into its cgroup with clone3(CLONE_INTO_CGROUP), so it never migrates.
That is why a new cgroup namespace is unshared by the init, not here: it is
rooted at the cgroup its creator is in, and only the init is in the
container's v2 cgroup from birth.  Where clone3 cannot be used (a user
namespace: the permission check would run as the container's root; a kernel
without it) this process writes "0" to v2 cgroup.procs itself, before joining
any namespace, and pays the wait.
"""

import os

from pyrunc import protocol
from pyrunc.init import join
from pyrunc.init.stages import run_init
from pyrunc.linux import clone, ns, prctl


def bootstrap(plan, chan):
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
        stage = "cgroup"
        join.join_v1(plan)
        cgroup_fd = None
        if plan.clone_into_cgroup:
            cgroup_fd = join.open_v2(plan)
        else:
            join.join_v2(plan)
        stage = "namespaces"
        if plan.cgroupns_path:
            # Opened on the host's /proc; the init joins it (stage "cgroupns").
            plan.cgroupns_fd = os.open(plan.cgroupns_path, os.O_RDONLY | os.O_CLOEXEC)
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
        pid = fork_init(plan, cgroup_fd)
        if pid == 0:
            run_init(plan, chan)  # never returns
        chan.send(protocol.PID, pid=pid)
        os._exit(0)
    except BaseException as e:  # noqa: B036 - every failure must reach the parent as data
        protocol.send_error(chan, stage, e)
        os._exit(1)


def fork_init(plan, cgroup_fd):
    if cgroup_fd is None:
        return os.fork()
    try:
        return clone.fork_into_cgroup(cgroup_fd)
    except OSError as e:
        if e.errno not in clone.UNSUPPORTED:
            raise OSError(e.errno, f"clone3: {e.strerror}", plan.cgroup[1]) from None
    finally:
        os.close(cgroup_fd)
    join.join_v2(plan)
    return os.fork()


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
