"""config-linux.md: sysctl, masked and readonly paths, rootfs propagation,
personality, Intel RDT, network devices, time offsets."""
import itertools
import os
import subprocess

from ..core import case
from .common import probe, sh
from .mounts import mountinfo

CL = "config-linux.md"
_dev_names = itertools.count()


@case("linux.sysctl.net", CL, "sysctl (object, OPTIONAL) allows kernel parameters to be modified at runtime for the container.")
def _(ctx):
    b = ctx.bundle()
    b.linux["sysctl"] = {"net.ipv4.ip_forward": "1"}
    ctx.eq(sh(ctx, b, "cat /proc/sys/net/ipv4/ip_forward").strip(), "1", "net.ipv4.ip_forward")


@case("linux.sysctl.ipc", CL, "sysctl (object, OPTIONAL) allows kernel parameters to be modified at runtime for the container.")
def _(ctx):
    b = ctx.bundle()
    b.linux["sysctl"] = {"kernel.shm_rmid_forced": "1", "kernel.msgmax": "4321"}
    out = sh(ctx, b, "cat /proc/sys/kernel/shm_rmid_forced /proc/sys/kernel/msgmax")
    ctx.eq(out.split(), ["1", "4321"], "kernel.shm_rmid_forced, kernel.msgmax")


@case("linux.sysctl.not_on_host", CL, "sysctl (object, OPTIONAL) allows kernel parameters to be modified at runtime for the container.")
def _(ctx):
    with open("/proc/sys/kernel/msgmax") as f:
        before = f.read()
    b = ctx.bundle()
    b.linux["sysctl"] = {"kernel.msgmax": "4322"}
    sh(ctx, b, "cat /proc/sys/kernel/msgmax")
    with open("/proc/sys/kernel/msgmax") as f:
        ctx.eq(f.read(), before, "the host's kernel.msgmax after the container ran")


@case("linux.masked_paths.file", CL, "maskedPaths (array of strings, OPTIONAL) will mask over the provided paths inside the container so that they cannot be read.")
def _(ctx):
    b = ctx.bundle()
    with open(b.in_rootfs("/etc/secret"), "w") as f:
        f.write("top-secret")
    b.linux["maskedPaths"] = ["/etc/secret"]
    out = sh(ctx, b, "cat /etc/secret; echo :end")
    ctx.check("top-secret" not in out, "a masked file can be read")
    ctx.check(":end" in out, f"the check did not run: {out!r}")


@case("linux.masked_paths.directory", CL, "maskedPaths ... will mask over the provided paths inside the container so that they cannot be read.")
def _(ctx):
    b = ctx.bundle()
    os.makedirs(b.in_rootfs("/secretdir"))
    with open(b.in_rootfs("/secretdir/inside"), "w") as f:
        f.write("top-secret")
    b.linux["maskedPaths"] = ["/secretdir"]
    out = sh(ctx, b, "ls -A /secretdir; cat /secretdir/inside 2>/dev/null; echo :end")
    ctx.check("inside" not in out and "top-secret" not in out, f"a masked directory can be read: {out!r}")
    ctx.check(":end" in out, f"the check did not run: {out!r}")


@case("linux.masked_paths.proc", CL, "maskedPaths ... will mask over the provided paths inside the container so that they cannot be read.")
def _(ctx):
    b = ctx.bundle()
    b.linux["maskedPaths"] = ["/proc/cpuinfo", "/proc/acpi", "/proc/kcore-absent"]
    out = sh(ctx, b, "wc -c < /proc/cpuinfo; ls -A /proc/acpi 2>/dev/null | wc -l")
    ctx.eq(out.split(), ["0", "0"], "bytes of /proc/cpuinfo, entries of /proc/acpi")


@case("linux.readonly_paths.proc", CL, "readonlyPaths (array of strings, OPTIONAL) will set the provided paths as readonly inside the container.")
def _(ctx):
    b = ctx.bundle()
    b.linux["readonlyPaths"] = ["/proc/sys"]
    out = probe(ctx, b, "open", "/proc/sys/kernel/domainname", "w")
    ctx.eq(out.get("errno"), "30", "errno opening /proc/sys/kernel/domainname for writing (EROFS)")


@case("linux.readonly_paths.directory", CL, "readonlyPaths (array of strings, OPTIONAL) will set the provided paths as readonly inside the container.")
def _(ctx):
    b = ctx.bundle()
    os.makedirs(b.in_rootfs("/rodir"))
    b.linux["readonlyPaths"] = ["/rodir"]
    out = probe(ctx, b, "open", "/rodir/new", "create")
    ctx.eq(out.get("errno"), "30", "errno creating a file in a readonly path (EROFS)")


@case("linux.readonly_paths.rest_writable", CL, "readonlyPaths ... will set the provided paths as readonly inside the container.")
def _(ctx):
    b = ctx.bundle()
    os.makedirs(b.in_rootfs("/rodir"))
    b.linux["readonlyPaths"] = ["/rodir"]
    ctx.eq(probe(ctx, b, "open", "/rwfile", "create").get("errno", "none"), "none", "errno creating /rwfile")


def _root_propagation(value, field, want):
    def check(ctx):
        b = ctx.bundle()
        b.linux["rootfsPropagation"] = value
        info = mountinfo(sh(ctx, b, "cat /proc/self/mountinfo"))
        ctx.check("/" in info, "no mount at / in the container")
        fields = info["/"][1]
        has = any(f.startswith(field) for f in fields)
        ctx.check(has == want, f"rootfsPropagation {value!r}: / has optional fields {fields}")
    return check


for _v, _f, _w in [("shared", "shared:", True), ("private", "shared:", False),
                   ("unbindable", "unbindable", True), ("slave", "shared:", False)]:
    case(f"linux.rootfs_propagation.{_v}", CL, f"rootfsPropagation (string, OPTIONAL) sets the rootfs's mount propagation. [{_v}]")(
        _root_propagation(_v, _f, _w))


@case("linux.personality.linux32", CL, "LINUX32 will set the uname system call to show a 32 bit CPU type, such as i686.")
def _(ctx):
    if os.uname().machine != "x86_64":
        ctx.skip("LINUX32 check written for x86_64 hosts")
    b = ctx.bundle()
    b.linux["personality"] = {"domain": "LINUX32"}
    out = probe(ctx, b, "uts")
    ctx.check(out.get("machine") in ("i686", "i386"), f"uname machine under LINUX32: {out.get('machine')!r}")


@case("linux.personality.linux", CL, "domain (string, REQUIRED) - the execution domain.")
def _(ctx):
    b = ctx.bundle()
    b.linux["personality"] = {"domain": "LINUX"}
    ctx.eq(probe(ctx, b, "personality").get("personality"), "0", "personality")


@case("linux.intel_rdt.no_resctrl_error", CL,
      "If no mounted resctrl pseudo-filesystem is available in the runtime mount namespace, the runtime MUST generate an error.")
def _(ctx):
    with open("/proc/self/mounts") as f:
        if any(ln.split()[2] == "resctrl" for ln in f if len(ln.split()) > 2):
            ctx.skip("host has resctrl mounted")
    b = ctx.bundle()
    b.linux["intelRdt"] = {"closID": "conformance", "l3CacheSchema": "L3:0=f"}
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create with intelRdt on a host without resctrl")


@case("linux.net_devices.moved", CL, "netDevices (object, OPTIONAL) - A set of network devices that MUST be made available in the container.")
def _(ctx):
    name = f"cf{os.getpid() % 100000}x{next(_dev_names)}"
    r = subprocess.run(["ip", "link", "add", name, "type", "dummy"], capture_output=True, text=True)
    if r.returncode:
        ctx.skip(f"cannot make a dummy interface: {r.stderr.strip()}")
    ctx.defer(subprocess.run, ["ip", "link", "del", name], capture_output=True)
    b = ctx.bundle()
    b.config["ociVersion"] = "1.3.0"
    b.linux["netDevices"] = {name: {"name": "conf0"}}
    out = sh(ctx, b, "cat /sys/class/net/conf0/operstate /sys/class/net/conf0/flags 2>&1")
    words = out.split()
    ctx.check(len(words) == 2 and not out.startswith("cat"), f"conf0 not in the container: {out.strip()!r}")
    ctx.check(int(words[1], 16) & 1, f"conf0 is not up (flags {words[1]})")


@case("linux.time_offsets", CL, "timeOffsets (object, OPTIONAL) sets the offset for Time Namespace.")
def _(ctx):
    if not os.path.exists("/proc/self/ns/time"):
        ctx.skip("kernel has no time namespaces")
    b = ctx.bundle()
    b.config["ociVersion"] = "1.1.0"  # time namespaces appeared in v1.1.0
    b.linux["namespaces"].append({"type": "time"})
    day = 86400
    b.linux["timeOffsets"] = {"monotonic": {"secs": 1000 * day, "nanosecs": 0},
                              "boottime": {"secs": 2000 * day, "nanosecs": 0}}
    got = probe(ctx, b, "clocks")
    with open("/proc/uptime") as f:
        host_up = float(f.read().split()[0])
    mono, boot = int(got.get("monotonic", 0)), int(got.get("boottime", 0))
    # The host's clocks are at most its uptime; a day of slack covers any drift.
    ctx.check(999 * day < mono < 1001 * day + host_up, f"CLOCK_MONOTONIC {mono}s lacks the 1000-day offset")
    ctx.check(1999 * day < boot < 2001 * day + host_up, f"CLOCK_BOOTTIME {boot}s lacks the 2000-day offset")
