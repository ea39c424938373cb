"""config.process turned into plain numbers the container's init applies.

Pure: computed in the parent before fork so that the child only executes.
"""

from pyrunc.oci.plain import Plain

from pyrunc.errors import ConfigError

RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}

PERSONALITY = {"LINUX": 0x0000, "LINUX32": 0x0008}

SCHED_POLICIES = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3,
                  "SCHED_ISO": 4, "SCHED_IDLE": 5, "SCHED_DEADLINE": 6}
SCHED_FLAGS = {"SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02,
               "SCHED_FLAG_DL_OVERRUN": 0x04, "SCHED_FLAG_KEEP_POLICY": 0x08,
               "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
               "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40}
IOPRIO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}

CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


class ProcessPlan(Plain):
    _fields = ('args', 'env', 'cwd', 'uid', 'gid', 'additional_gids', 'umask', 'terminal', 'console_size', 'caps', 'last_cap', 'rlimits', 'no_new_privileges', 'oom_score_adj', 'scheduler', 'io_priority', 'apparmor', 'selinux', 'ignored_caps')
    # console_size: (height, width)
    # caps: set name -> mask; None: leave as they are
    # last_cap: highest capability the host kernel knows
    # rlimits: (resource, soft, hard)
    _defaults = {'uid': 0, 'gid': 0, 'additional_gids': list, 'umask': None, 'terminal': False, 'console_size': None, 'caps': None, 'last_cap': 40, 'rlimits': list, 'no_new_privileges': False, 'oom_score_adj': None, 'scheduler': None, 'io_priority': None, 'apparmor': "", 'selinux': "", 'ignored_caps': list}


def cap_mask(names, cap_numbers, last_cap, ignored):
    """Known names become bits.  Unknown names, and names the running kernel
    lacks, are collected in `ignored` and skipped: runc warns and carries on
    (and the spec says an unknown capability SHOULD NOT fail)."""
    mask = 0
    for name in names or ():
        num = cap_numbers.get(name)
        if num is None or num > last_cap:
            if name not in ignored:
                ignored.append(name)
            continue
        mask |= 1 << num
    return mask


def plan_process(proc, where="process", cap_numbers=None, last_cap=40):
    if not proc.get("args"):
        raise ConfigError(f"{where}.args", "must not be empty")
    user = proc.get("user") or {}
    plan = ProcessPlan(args=list(proc["args"]), env=list(proc.get("env") or []),
                       cwd=proc.get("cwd") or "/")
    plan.uid = user.get("uid", 0)
    plan.gid = user.get("gid", 0)
    plan.additional_gids = list(user.get("additionalGids") or [])
    plan.umask = user.get("umask")
    plan.terminal = bool(proc.get("terminal"))
    size = proc.get("consoleSize")
    if size:
        plan.console_size = (size.get("height", 0), size.get("width", 0))
    plan.last_cap = last_cap
    caps = proc.get("capabilities")
    if caps is not None:
        plan.caps = {s: cap_mask(caps.get(s), cap_numbers, last_cap, plan.ignored_caps)
                     for s in CAP_SETS}
    seen = set()
    for i, rl in enumerate(proc.get("rlimits") or ()):
        res = RLIMITS.get(rl.get("type"))
        if res is None:
            raise ConfigError(f"{where}.rlimits[{i}].type", f"unknown rlimit {rl.get('type')!r}")
        if res in seen:
            raise ConfigError(f"{where}.rlimits[{i}].type", f"duplicate rlimit {rl['type']}")
        seen.add(res)
        plan.rlimits.append((res, rl["soft"], rl["hard"]))
    plan.no_new_privileges = bool(proc.get("noNewPrivileges"))
    plan.oom_score_adj = proc.get("oomScoreAdj")
    sched = proc.get("scheduler")
    if sched:
        policy = SCHED_POLICIES.get(sched.get("policy"))
        if policy is None:
            raise ConfigError(f"{where}.scheduler.policy", f"unknown policy {sched.get('policy')!r}")
        flags = 0
        for i, fl in enumerate(sched.get("flags") or ()):
            if fl not in SCHED_FLAGS:
                raise ConfigError(f"{where}.scheduler.flags[{i}]", f"unknown flag {fl!r}")
            flags |= SCHED_FLAGS[fl]
        plan.scheduler = dict(policy=policy, nice=sched.get("nice", 0),
                              priority=sched.get("priority", 0), flags=flags,
                              runtime=sched.get("runtime", 0), deadline=sched.get("deadline", 0),
                              period=sched.get("period", 0))
    iop = proc.get("ioPriority")
    if iop:
        cls = IOPRIO_CLASSES.get(iop.get("class"))
        if cls is None:
            raise ConfigError(f"{where}.ioPriority.class", f"unknown class {iop.get('class')!r}")
        plan.io_priority = (cls, iop.get("priority", 0))
    plan.apparmor = proc.get("apparmorProfile") or ""
    plan.selinux = proc.get("selinuxLabel") or ""
    return plan
