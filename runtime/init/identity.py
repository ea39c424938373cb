"""Child side: the process attributes the container's program starts with.

Every module this file uses is imported at the top: after pivot_root the host's
filesystem (and so the runtime's own source) is out of reach.
"""

import os
import resource

from pyrunc.errors import SetupError
from pyrunc.linux import caps as _caps
from pyrunc.linux import prctl, sched

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def apply_limits(plan):
    """rlimits, oom_score_adj, scheduler and io priority: while we still hold
    CAP_SYS_RESOURCE/CAP_SYS_NICE, i.e. before the capability sets are reduced."""
    for res, soft, hard in plan.rlimits:
        resource.setrlimit(res, (_rlim(soft), _rlim(hard)))
    if plan.oom_score_adj is not None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(plan.oom_score_adj))
    if plan.scheduler:
        sched.sched_setattr(**plan.scheduler)
    if plan.io_priority:
        sched.ioprio_set(*plan.io_priority)


def _rlim(v):
    # The spec's uint64 max means unlimited; setrlimit wants RLIM_INFINITY.
    return resource.RLIM_INFINITY if v >= (1 << 64) - 1 else v


def set_identity(plan, userns_setgroups=True):
    """Groups, uid/gid and the five capability sets, in the order that keeps
    each step permitted: bounding set drop needs CAP_SETPCAP (before setuid);
    KEEPCAPS keeps the permitted set across setuid to non-zero; ambient
    capabilities must be in permitted and inheritable (capabilities(7))."""
    c = plan.caps
    if c is not None:
        for cap in range(plan.last_cap + 1):
            if not c["bounding"] & (1 << cap) and prctl.capbset_read(cap):
                prctl.capbset_drop(cap)
        prctl.set_keepcaps(True)
    if userns_setgroups:
        os.setgroups(plan.additional_gids)
    os.setresgid(plan.gid, plan.gid, plan.gid)
    os.setresuid(plan.uid, plan.uid, plan.uid)
    if c is not None:
        prctl.set_keepcaps(False)
        _caps.capset(c["effective"], c["permitted"], c["inheritable"])
        prctl.ambient_clear()
        # The kernel refuses an ambient capability missing from permitted or
        # inheritable; runc skips those (its own default spec lists ambient
        # capabilities without inheritable ones), and so do we.
        ambient = c["ambient"] & c["permitted"] & c["inheritable"]
        for cap in range(64):
            if ambient & (1 << cap):
                prctl.ambient_raise(cap)
    if plan.umask is not None:
        os.umask(plan.umask)


def env_path(env):
    for e in env:
        if e.startswith("PATH="):
            return e[5:]
    return DEFAULT_PATH


def find_executable(plan):
    """Resolve args[0] inside the container, as the container's user, before
    create returns: a missing program fails create, not start (as runc)."""
    name = plan.args[0]
    if "/" in name:
        try:
            os.stat(name)
        except OSError as e:
            raise SetupError("exec", f'exec: "{name}": stat {name}: {e.strerror.lower()}',
                             e.errno, name) from None
        if not os.access(name, os.X_OK):
            raise SetupError("exec", f'exec: "{name}": permission denied', 13, name)
        return name
    for d in env_path(plan.env).split(":"):
        cand = os.path.join(d or ".", name)
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    raise SetupError("exec", f'exec: "{name}": executable file not found in $PATH', 2, name)
