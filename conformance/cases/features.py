"""features.md and features-linux.md: the features document and what it promises."""
import json
import os

from .. import schema
from ..core import case
from .hooks import Hooks

F = "features.md"
FL = "features-linux.md"
NAMESPACES = {"cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"}
ACTIONS = {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
           "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"}
OPERATORS = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
             "SCMP_CMP_MASKED_EQ"}
ARCHS = {"SCMP_ARCH_" + a for a in (
    "X86 X86_64 X32 ARM AARCH64 MIPS MIPS64 MIPS64N32 MIPSEL MIPSEL64 MIPSEL64N32 PPC PPC64 PPC64LE "
    "S390 S390X PARISC PARISC64 RISCV64 LOONGARCH64 M68K SH SHEB").split()}
HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
# Flag options of the config.md table that apply to any filesystem, so a tmpfs can carry them.
FLAG_OPTIONS = {"async", "atime", "defaults", "dev", "diratime", "dirsync", "exec", "iversion", "lazytime",
                "loud", "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime", "norelatime",
                "nostrictatime", "nosuid", "relatime", "ro", "rw", "silent", "strictatime", "suid", "sync",
                "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"}
# Rarely used syscalls a filter may refuse without disturbing a shell.
QUIET_SYSCALLS = ["sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "acct",
                  "swapon", "swapoff", "syslog", "kexec_load", "init_module", "delete_module", "pivot_root"]


def features(ctx):
    res = ctx.call("features")
    if not res.ok:
        ctx.skip(f"runtime has no features command (it MAY provide one): {res.describe()}")
    try:
        doc = json.loads(res.out)
    except ValueError:
        ctx.check(False, f"features output is not JSON: {res.out[:100]!r}")
    ctx.check(isinstance(doc, dict), f"features output is not an object: {res.out[:100]!r}")
    return doc


def _ver(v):
    m = schema.SEMVER.match(v or "")
    return tuple(int(x) for x in m.groups()) if m else None


@case("features.schema", F, "All properties in the Features structure except ociVersionMin and ociVersionMax MAY either be absent or have the null value.")
def _(ctx):
    problems = schema.features(features(ctx))
    ctx.check(not problems, "; ".join(problems))


@case("features.no_unknown_properties", F, "The Features structure MUST NOT contain properties that are not defined in this version")
def _(ctx):
    doc = features(ctx)
    extra = [p for p in schema.features(doc) if "not a property" in p]
    ctx.check(not extra, "; ".join(extra))
    ctx.check("ociVersionMax" in doc, "ociVersionMax missing")


@case("features.oci_version_order", F, "The value MUST NOT be less than the value of the ociVersionMin property.")
def _(ctx):
    doc = features(ctx)
    lo, hi = _ver(doc.get("ociVersionMin")), _ver(doc.get("ociVersionMax"))
    ctx.check(lo and hi, f"versions are not SemVer: {doc.get('ociVersionMin')!r}, {doc.get('ociVersionMax')!r}")
    ctx.check(hi >= lo, f"ociVersionMax {doc['ociVersionMax']} < ociVersionMin {doc['ociVersionMin']}")


def _accepts(key):
    def check(ctx):
        v = features(ctx).get(key)
        ctx.check(isinstance(v, str), f"{key} is {v!r}")
        b = ctx.bundle(["echo", "ran"])
        b.config["ociVersion"] = v
        ctx.eq(ctx.run_container(b).strip(), "ran", f"output of a container with ociVersion {v}")
    return check


case("features.oci_version_min_accepted", F, "ociVersionMin ... The runtime MUST accept this value as the ociVersion property of config.json.")(
    _accepts("ociVersionMin"))
case("features.oci_version_max_accepted", F, "ociVersionMax ... The runtime MUST accept this value as the ociVersion property of config.json.")(
    _accepts("ociVersionMax"))


@case("features.hooks_supported", F, "The runtime MUST support the elements in this array as the hooks property of config.json.")
def _(ctx):
    listed = features(ctx).get("hooks") or []
    kinds = [k for k in HOOKS if k in listed]
    if not kinds:
        ctx.skip("the features document lists no hooks")
    h = Hooks(ctx, kinds=kinds)
    cid, _ = ctx.create(h.b)
    ctx.start(cid)
    ctx.wait_status(cid, "stopped")
    ctx.delete(cid)
    ctx.eq(sorted(h.order()), sorted(kinds), "hooks that ran")


@case("features.mount_options_recognized", F, "The runtime MUST recognize the elements in this array as the options of mounts objects in config.json.")
def _(ctx):
    listed = [o for o in features(ctx).get("mountOptions") or [] if o in FLAG_OPTIONS]
    if not listed:
        ctx.skip("the features document lists no generic flag options")
    b = ctx.bundle(["echo", "ran"])
    for i, opt in enumerate(listed):
        b.mount(f"/opts/{i}", "tmpfs", "tmpfs", [opt])
    ctx.eq(ctx.run_container(b).strip(), "ran", f"output with tmpfs mounts using {len(listed)} listed options")


@case("features.linux.namespaces_known", FL, "namespaces ... The recognized names of the namespaces")
def _(ctx):
    listed = (features(ctx).get("linux") or {}).get("namespaces")
    if listed is None:
        ctx.skip("the features document has no linux.namespaces")
    ctx.check(set(listed) <= NAMESPACES, f"unknown namespace names {sorted(set(listed) - NAMESPACES)}")


@case("features.linux.capabilities_recognized", FL, "The runtime MUST recognize the elements in this array in the process.capabilities object of config.json.")
def _(ctx):
    listed = (features(ctx).get("linux") or {}).get("capabilities")
    if not listed:
        ctx.skip("the features document has no linux.capabilities")
    b = ctx.bundle(["echo", "ran"])
    b.process["capabilities"] = {"bounding": list(listed)}
    b.process["noNewPrivileges"] = True
    ctx.eq(ctx.run_container(b).strip(), "ran", "output with every listed capability in the bounding set")


def _seccomp(ctx):
    sec = (features(ctx).get("linux") or {}).get("seccomp")
    if not sec or not sec.get("enabled", True):
        ctx.skip("the features document declares no seccomp support")
    return sec


@case("features.linux.seccomp_actions_recognized", FL, "actions (array of strings, OPTIONAL) The recognized names of the seccomp actions. The runtime MUST recognize the elements in this array [syscalls[].action]")
def _(ctx):
    actions = [a for a in _seccomp(ctx).get("actions") or [] if a != "SCMP_ACT_NOTIFY"]
    unknown = set(actions) - ACTIONS
    ctx.check(not unknown, f"unknown action names {sorted(unknown)}")
    b = ctx.bundle(["echo", "ran"])
    rules = [{"names": [QUIET_SYSCALLS[i % len(QUIET_SYSCALLS)]], "action": a} for i, a in enumerate(actions)]
    b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}
    ctx.eq(ctx.run_container(b).strip(), "ran", f"output with rules using {actions}")


@case("features.linux.seccomp_operators_recognized", FL, "operators (array of strings, OPTIONAL) The recognized names of the seccomp operators. The runtime MUST recognize the elements in this array [syscalls[].args[].op]")
def _(ctx):
    ops = _seccomp(ctx).get("operators") or []
    unknown = set(ops) - OPERATORS
    ctx.check(not unknown, f"unknown operator names {sorted(unknown)}")
    b = ctx.bundle(["echo", "ran"])
    rules = [{"names": [QUIET_SYSCALLS[i % len(QUIET_SYSCALLS)]], "action": "SCMP_ACT_ERRNO",
              "args": [{"index": 0, "value": 1000, "valueTwo": 1000, "op": op}]} for i, op in enumerate(ops)]
    b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}
    ctx.eq(ctx.run_container(b).strip(), "ran", f"output with rules using {ops}")


@case("features.linux.seccomp_archs_recognized", FL, "The runtime MUST recognize the elements in this array in the architectures property")
def _(ctx):
    archs = _seccomp(ctx).get("archs") or []
    if not archs:
        ctx.skip("the features document lists no seccomp architectures")
    unknown = set(archs) - ARCHS
    ctx.check(not unknown, f"unknown architecture names {sorted(unknown)}")
    # One filter can only hold architectures of the host's family and byte order.
    family = {"x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
              "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]}.get(os.uname().machine, [])
    archs = [a for a in archs if a in family]
    if not archs:
        ctx.skip("no listed architecture belongs to the host's family")
    b = ctx.bundle(["echo", "ran"])
    b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": archs,
                          "syscalls": [{"names": ["acct"], "action": "SCMP_ACT_ERRNO"}]}
    ctx.eq(ctx.run_container(b).strip(), "ran", f"output with architectures {archs}")
