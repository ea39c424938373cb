"""config-linux.md control groups: cgroupsPath and resources, read back from the
host's view of the container process's cgroup (v1 hierarchies or the unified one)."""
import os

from .. import host
from ..core import case
from .common import sh

CL = "config-linux.md"
MiB = 1 << 20


def _container_cgroup(ctx, b, controller):
    cid = ctx.started(b, ["sleep", "60"])
    pid = ctx.pid(cid)
    d = host.controller_dir(pid, controller)
    ctx.check(d and os.path.isdir(d), f"no {controller} cgroup directory for pid {pid}")
    return d


def _read(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            return f.read().strip()
    except OSError as e:
        return f"<{e.strerror}>"


def _resource_case(resources, v1, v2, needs=None):
    """v1/v2: (controller, file, expected text) or None when the host's version has no such file."""
    def check(ctx):
        spec = v2 if host.cgroup_v2() else v1
        if spec is None:
            ctx.skip(f"no cgroup {'v2' if host.cgroup_v2() else 'v1'} interface for this resource")
        controller, fname, want = spec
        root = host.cgroup_mounts().get("" if host.cgroup_v2() else controller)
        if root is None:
            ctx.skip(f"host has no {controller} cgroup controller")
        if host.cgroup_v2() and needs and needs not in _read(root, "cgroup.subtree_control").split():
            ctx.skip(f"the {needs} controller is not enabled at the v2 root")
        b = ctx.bundle()
        b.linux["resources"] = resources
        if not host.cgroup_file_exists(root, fname):
            # "If the runtime cannot apply a property as specified ..., it MUST generate an error"
            cid, res = ctx.create(b, expect_ok=False)
            ctx.errors(res, f"create asking for {fname}, which this host's cgroups lack")
            return
        d = _container_cgroup(ctx, b, controller)
        got = _read(d, fname)
        if callable(want):
            ctx.check(want(got), f"{fname}: unexpected {got!r}")
        else:
            ctx.eq(got, want, fname)
    return check


def _register(name, quote, resources, v1, v2, needs=None):
    case(f"cgroups.{name}", CL, quote)(_resource_case(resources, v1, v2, needs))


_register("memory.limit", "limit (int64, OPTIONAL) - sets limit of memory usage",
          {"memory": {"limit": 64 * MiB}}, ("memory", "memory.limit_in_bytes", str(64 * MiB)),
          ("memory", "memory.max", str(64 * MiB)), "memory")
_register("memory.reservation", "reservation (int64, OPTIONAL) - sets soft limit of memory usage",
          {"memory": {"limit": 64 * MiB, "reservation": 32 * MiB}},
          ("memory", "memory.soft_limit_in_bytes", str(32 * MiB)), ("memory", "memory.low", str(32 * MiB)), "memory")
_register("memory.swap", "swap (int64, OPTIONAL) - sets limit of memory+Swap usage",
          {"memory": {"limit": 64 * MiB, "swap": 96 * MiB}},
          ("memory", "memory.memsw.limit_in_bytes", str(96 * MiB)), ("memory", "memory.swap.max", str(32 * MiB)),
          "memory")
_register("memory.swappiness", "swappiness (uint64, OPTIONAL) - sets swappiness parameter of vmscan",
          {"memory": {"swappiness": 17}}, ("memory", "memory.swappiness", "17"), None)
_register("memory.disable_oom_killer", "disableOOMKiller (bool, OPTIONAL) - enables or disables the OOM killer",
          {"memory": {"limit": 64 * MiB, "disableOOMKiller": True}},
          ("memory", "memory.oom_control", lambda t: "oom_kill_disable 1" in t), None)
_register("cpu.shares", "shares (uint64, OPTIONAL) - specifies a relative share of CPU time available to the tasks in a cgroup",
          {"cpu": {"shares": 512}}, ("cpu", "cpu.shares", "512"), ("cpu", "cpu.weight", "20"), "cpu")
_register("cpu.quota_period", "quota (int64, OPTIONAL) - specifies the total amount of time in microseconds for which all tasks in a cgroup can run during one period",
          {"cpu": {"quota": 50000, "period": 100000}}, ("cpu", "cpu.cfs_quota_us", "50000"),
          ("cpu", "cpu.max", "50000 100000"), "cpu")
_register("cpu.period", "period (uint64, OPTIONAL) - specifies a period of time in microseconds for how regularly a cgroup's access to CPU resources should be reallocated",
          {"cpu": {"quota": 20000, "period": 40000}}, ("cpu", "cpu.cfs_period_us", "40000"),
          ("cpu", "cpu.max", "20000 40000"), "cpu")
_register("cpu.cpus", "cpus (string, OPTIONAL) - list of CPUs the container will run on",
          {"cpu": {"cpus": "0"}}, ("cpuset", "cpuset.cpus", "0"), ("cpuset", "cpuset.cpus", "0"), "cpuset")
_register("cpu.mems", "mems (string, OPTIONAL) - list of memory nodes the container will run on",
          {"cpu": {"mems": "0"}}, ("cpuset", "cpuset.mems", "0"), ("cpuset", "cpuset.mems", "0"), "cpuset")
_register("cpu.realtime_runtime", "realtimeRuntime (int64, OPTIONAL) - specifies a period of time in microseconds for the longest continuous period in which the tasks in a cgroup have access to CPU resources",
          {"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 0}},
          ("cpu", "cpu.rt_runtime_us", "0"), None)
_register("pids.limit", "limit (int64, OPTIONAL) - specifies the maximum number of tasks in the cgroup",
          {"pids": {"limit": 42}}, ("pids", "pids.max", "42"), ("pids", "pids.max", "42"), "pids")
_register("hugepage_limits", "hugepageLimits (array of objects, OPTIONAL) represents the hugetlb controller which allows to limit the HugeTLB reservations (if supported) or usage (page fault).",
          {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MiB}]},
          ("hugetlb", "hugetlb.2MB.limit_in_bytes", str(4 * MiB)), ("hugetlb", "hugetlb.2MB.max", str(4 * MiB)),
          "hugetlb")
_register("block_io.weight", "weight (uint16, OPTIONAL) - specifies per-cgroup weight.",
          {"blockIO": {"weight": 300}}, ("blkio", "blkio.weight", "300"), ("io", "io.bfq.weight", lambda t: "300" in t),
          "io")


def _root_block_device():
    st = os.stat("/")
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    return major, minor if os.path.exists(f"/sys/dev/block/{major}:{minor}") else None


@case("cgroups.block_io.throttle_read_bps", CL, "throttleReadBpsDevice, throttleWriteBpsDevice (array of objects, OPTIONAL) - an array of per-device bandwidth rate limits.")
def _(ctx):
    major, minor = _root_block_device()
    if minor is None:
        ctx.skip("the host's root filesystem is not on a block device")
    res = {"blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}]}}
    v1 = ("blkio", "blkio.throttle.read_bps_device", f"{major}:{minor} 1048576")
    v2 = ("io", "io.max", lambda t: f"{major}:{minor} rbps=1048576" in t)
    _resource_case(res, v1, v2, "io")(ctx)


@case("cgroups.path.absolute", CL, "In the case of an absolute path (starting with /), the runtime MUST take the path to be relative to the cgroups mount point.")
def _(ctx):
    b = ctx.bundle()
    cid = ctx.started(b, ["sleep", "60"])
    pid = ctx.pid(cid)
    for ctrl in ("memory", "pids", "cpu") if not host.cgroup_v2() else ("",):
        ctx.eq(host.cgroup_path_of(pid, ctrl), b.linux["cgroupsPath"], f"{ctrl or 'unified'} cgroup of the container")


@case("cgroups.path.consistent", CL, "the runtime MUST consistently attach to the same place in the cgroups hierarchy given the same value of cgroupsPath.")
def _(ctx):
    b1 = ctx.bundle()
    cid = ctx.stopped(b1)
    ctx.delete(cid)
    b2 = ctx.bundle()
    b2.linux["cgroupsPath"] = b1.linux["cgroupsPath"]
    cid = ctx.started(b2, ["sleep", "60"])
    ctx.eq(host.cgroup_path_of(ctx.pid(cid), "" if host.cgroup_v2() else "memory"), b1.linux["cgroupsPath"],
           "cgroup of the second container")


# A char device number with no driver: open(2) gives ENXIO (6) when the device
# cgroup lets it through and EPERM (1) when the cgroup denies it.
NODEV = {"path": "/dev/conf-nodev", "type": "c", "major": 240, "minor": 99, "fileMode": 0o666}


def _devices(ctx, rules):
    b = ctx.bundle()
    b.linux["devices"] = [dict(NODEV)]
    b.linux["resources"] = {"devices": rules}
    out = sh(ctx, b, "/bin/probe open /dev/conf-nodev r; /bin/probe open /dev/conf-nodev w")
    return out.split()


def _rule(allow, access, **kw):
    return dict(allow=allow, access=access, **kw)


@case("cgroups.devices.deny", CL, "devices (array of objects, OPTIONAL) configures the allowed device list.")
def _(ctx):
    got = _devices(ctx, [_rule(True, "rwm"), _rule(False, "rw", type="c", major=240, minor=99)])
    ctx.eq(got, ["errno=1", "errno=1"], "read, write open of a denied device")


@case("cgroups.devices.allow", CL, "allow (boolean, REQUIRED) - whether the entry is allowed or denied.")
def _(ctx):
    got = _devices(ctx, [_rule(False, "rwm"), _rule(True, "rw", type="c", major=240, minor=99)])
    ctx.eq(got, ["errno=6", "errno=6"], "read, write open of an allowed device without a driver (ENXIO)")


@case("cgroups.devices.order", CL, "The runtime MUST apply entries in the listed order.")
def _(ctx):
    got = _devices(ctx, [_rule(True, "rwm", type="c", major=240, minor=99), _rule(False, "rwm")])
    ctx.eq(got, ["errno=1", "errno=1"], "open of a device allowed, then denied by a later deny-all")


@case("cgroups.devices.access", CL, "access (string, OPTIONAL) - cgroup permissions for device. A composition of r (read), w (write), and m (mknod).")
def _(ctx):
    got = _devices(ctx, [_rule(True, "rwm"), _rule(False, "w", type="c", major=240, minor=99)])
    ctx.eq(got, ["errno=6", "errno=1"], "read, write open of a device with write denied")


@case("cgroups.devices.wildcard_minor", CL, "major, minor (int64, OPTIONAL) ... Unset values mean \"all\"")
def _(ctx):
    got = _devices(ctx, [_rule(True, "rwm"), _rule(False, "rw", type="c", major=240)])
    ctx.eq(got, ["errno=1", "errno=1"], "open of a device whose major is denied for all minors")


@case("cgroups.pids.enforced", CL, "limit (int64, OPTIONAL) - specifies the maximum number of tasks in the cgroup")
def _(ctx):
    b = ctx.bundle()
    b.linux["resources"] = {"pids": {"limit": 4}}
    # The shell gives up at its first refused fork; with itself counted, at most 3 sleeps start.
    out = sh(ctx, b, "for i in 1 2 3 4 5 6; do sleep 30 & echo forked; done; echo all-forked")
    n = out.split().count("forked")
    ctx.check(1 <= n <= 3 and "all-forked" not in out, f"{n} forks succeeded under pids.limit 4")


@case("cgroups.unified.v1_error", CL, "The runtime MUST generate an error when the configuration refers to a cgroup controller that is not present or that cannot be enabled.")
def _(ctx):
    if host.cgroup_v2():
        ctx.skip("host runs cgroup v2 (see cgroups.unified.applied)")
    b = ctx.bundle()
    b.linux["resources"] = {"unified": {"pids.max": "10"}}
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create with unified pids.max on a host whose pids controller is v1")


@case("cgroups.unified.applied", CL, "Each key in the map refers to a file in the cgroup unified hierarchy.")
def _(ctx):
    if not host.cgroup_v2():
        ctx.skip("host runs cgroup v1 (see cgroups.unified.v1_error)")
    b = ctx.bundle()
    b.linux["resources"] = {"unified": {"pids.max": "17"}}
    ctx.eq(_read(_container_cgroup(ctx, b, ""), "pids.max"), "17", "pids.max")


@case("cgroups.missing_controller_error", CL, "The runtime MUST generate an error when the configuration refers to a cgroup controller that is not present")
def _(ctx):
    if host.cgroup_v2() or "net_cls" in host.cgroup_mounts():
        ctx.skip("host has a net_cls controller")
    b = ctx.bundle()
    b.linux["resources"] = {"network": {"classID": 1048577}}
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create with network.classID on a host without net_cls")
