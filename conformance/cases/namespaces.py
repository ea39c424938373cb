"""config-linux.md namespaces and user namespace mappings."""
import os
import subprocess
import time

from .. import host
from ..core import case
from .common import sh

CL = "config-linux.md"
PROC_NAME = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
             "user": "user", "cgroup": "cgroup", "time": "time"}
USERNS_MAP = [{"containerID": 0, "hostID": 200000, "size": 65536}]


def _userns(b):
    b.linux["namespaces"].append({"type": "user"})
    b.linux["uidMappings"] = [dict(m) for m in USERNS_MAP]
    b.linux["gidMappings"] = [dict(m) for m in USERNS_MAP]


def _ns_of_container(ctx, b):
    """Start ``b`` (sleeping) and return {kind: ns link} of its process."""
    b.process["args"] = ["sleep", "60"]
    if "time" in b.namespaces():
        b.process["args"] = ["sh", "-c", "exec sleep 60"]
    cid = ctx.started(b)
    pid = ctx.pid(cid)
    return {k: host.ns_inode(pid, p) for k, p in PROC_NAME.items()}


def _created(kind):
    def check(ctx):
        b = ctx.bundle()
        if kind == "user":
            _userns(b)
        elif kind not in b.namespaces():
            b.linux["namespaces"].append({"type": kind})
        if kind == "time":
            b.config["ociVersion"] = "1.1.0"  # time namespaces appeared in v1.1.0
            if not os.path.exists("/proc/self/ns/time"):
                ctx.skip("kernel has no time namespaces")
        got = _ns_of_container(ctx, b)[kind]
        mine = host.ns_inode(os.getpid(), PROC_NAME[kind])
        ctx.check(got and got != mine, f"{kind} namespace of the container is the runtime's ({got})")
    return check


for _k in ("pid", "network", "mount", "ipc", "uts", "cgroup", "user", "time"):
    case(f"namespaces.{_k}.created", CL,
         "If path is not specified, the runtime MUST create a new container namespace of type type.")(_created(_k))


def _inherited(kind):
    def check(ctx):
        b = ctx.bundle()
        b.drop_namespace(kind)
        if kind == "uts":
            b.config.pop("hostname", None)
        got = _ns_of_container(ctx, b)[kind]
        ctx.eq(got, host.ns_inode(os.getpid(), PROC_NAME[kind]), f"{kind} namespace (the runtime's)")
    return check


for _k in ("pid", "network", "ipc", "uts", "cgroup"):
    case(f"namespaces.{_k}.inherited", CL,
         "If a namespace type is not specified in the namespaces array, the container MUST inherit the runtime namespace of that type.")(
        _inherited(_k))


def _holder(ctx, flags):
    """A host process in fresh namespaces (util-linux unshare), killed by cleanup."""
    pidfile = ctx.path("holder.pid")
    p = subprocess.Popen(["unshare", *flags, "sh", "-c", f"echo $$ > {pidfile}; exec sleep 60"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(pidfile) as f:
                pid = int(f.read())
            ctx._remember(pid)
            ctx.pids.setdefault(p.pid, host.start_time(p.pid))
            return pid
        except (OSError, ValueError):
            time.sleep(0.02)
    ctx.skip("cannot start a namespace holder with unshare(1)")


def _joined(kind, flag):
    def check(ctx):
        holder = _holder(ctx, [flag])
        want = host.ns_inode(holder, PROC_NAME[kind])
        b = ctx.bundle()
        b.drop_namespace(kind)
        b.linux["namespaces"].append({"type": kind, "path": f"/proc/{holder}/ns/{PROC_NAME[kind]}"})
        got = _ns_of_container(ctx, b)[kind]
        ctx.eq(got, want, f"{kind} namespace (the one at path)")
    return check


for _k, _f in (("network", "--net"), ("uts", "--uts"), ("ipc", "--ipc")):
    case(f"namespaces.{_k}.joined", CL,
         "The runtime MUST place the container process in the namespace associated with that path.")(_joined(_k, _f))


@case("namespaces.path_wrong_type_error", CL,
      "The runtime MUST generate an error if path is not associated with a namespace of type type.")
def _(ctx):
    holder = _holder(ctx, ["--uts"])
    b = ctx.bundle()
    b.drop_namespace("network")
    b.linux["namespaces"].append({"type": "network", "path": f"/proc/{holder}/ns/uts"})
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create joining a uts namespace as the network namespace")


@case("namespaces.path_not_namespace_error", CL,
      "The runtime MUST generate an error if path is not associated with a namespace of type type.")
def _(ctx):
    b = ctx.bundle()
    b.drop_namespace("network")
    b.linux["namespaces"].append({"type": "network", "path": "/etc/hostname" if os.path.exists("/etc/hostname") else "/etc/passwd"})
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create joining a regular file as the network namespace")


@case("namespaces.duplicate_error", CL,
      "If a namespaces field contains duplicated namespaces with same type, the runtime MUST generate an error.")
def _(ctx):
    b = ctx.bundle()
    b.linux["namespaces"].append({"type": "uts"})
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create with two uts namespaces")


@case("namespaces.uts.hostname_in_new_ns", CL, "uts the container will be able to have its own hostname and domain name.")
def _(ctx):
    b = ctx.bundle()
    b.config["hostname"] = "conf-uts-own"
    sh(ctx, b, "hostname")
    ctx.check(os.uname().nodename != "conf-uts-own", "the container's hostname leaked to the host")


@case("namespaces.user.uid_mappings", CL, "uidMappings (array of objects, OPTIONAL) describes the user namespace uid mappings from the host to the container.")
def _(ctx):
    b = ctx.bundle()
    _userns(b)
    out = sh(ctx, b, "cat /proc/self/uid_map")
    ctx.eq(out.split(), ["0", "200000", "65536"], "uid_map")


@case("namespaces.user.gid_mappings", CL, "gidMappings (array of objects, OPTIONAL) describes the user namespace gid mappings from the host to the container.")
def _(ctx):
    b = ctx.bundle()
    _userns(b)
    out = sh(ctx, b, "cat /proc/self/gid_map")
    ctx.eq(out.split(), ["0", "200000", "65536"], "gid_map")


@case("namespaces.user.several_mappings", CL, "uidMappings ... describes the user namespace uid mappings from the host to the container.")
def _(ctx):
    b = ctx.bundle()
    _userns(b)
    b.linux["uidMappings"] = [{"containerID": 0, "hostID": 300000, "size": 1000},
                              {"containerID": 1000, "hostID": 310000, "size": 1000}]
    out = sh(ctx, b, "cat /proc/self/uid_map")
    ctx.eq(out.split(), ["0", "300000", "1000", "1000", "310000", "1000"], "uid_map")


@case("namespaces.user.host_ids", CL, "hostID (uint32, REQUIRED) - is the starting uid/gid on the host to be mapped to containerID.")
def _(ctx):
    b = ctx.bundle()
    _userns(b)
    cid = ctx.started(b, ["sleep", "60"])
    pid = ctx.pid(cid)
    st = os.stat(f"/proc/{pid}")
    ctx.eq((st.st_uid, st.st_gid), (200000, 200000), "host uid, gid of the container's root process")


@case("namespaces.cgroup.root_view", CL, "cgroup the container will have an isolated view of the cgroup hierarchy.")
def _(ctx):
    b = ctx.bundle()
    b.linux["namespaces"].append({"type": "cgroup"})
    out = sh(ctx, b, "cat /proc/self/cgroup")
    paths = {ln.split(":", 2)[2] for ln in out.splitlines() if ln.count(":") >= 2 and
             ("memory" in ln.split(":")[1].split(",") or ln.split(":")[1] == "")}
    ctx.check(paths == {"/"}, f"cgroup paths seen in a cgroup namespace: {sorted(paths)}")
