"""config.md: root, hostname, process (args, env, cwd, user, rlimits, capabilities...)."""
import os

from ..bundle import DEFAULT_CAPS, cap_mask
from ..core import case
from .common import probe, sh

C = "config.md"


@case("config.root.path_relative", C, "On POSIX platforms, path is either an absolute path or a relative path to the bundle.")
def _(ctx):
    b = ctx.bundle()
    with open(b.in_rootfs("/only-here"), "w") as f:
        f.write("rootfs-mark")
    ctx.eq(sh(ctx, b, "cat /only-here"), "rootfs-mark", "content of a rootfs file")


@case("config.root.path_absolute", C, "path (string, REQUIRED) Specifies the path to the root filesystem for the container.")
def _(ctx):
    b = ctx.bundle()
    b.config["root"]["path"] = b.rootfs
    with open(b.in_rootfs("/only-here"), "w") as f:
        f.write("rootfs-mark")
    ctx.eq(sh(ctx, b, "cat /only-here"), "rootfs-mark", "content of a rootfs file")


@case("config.root.readonly", C, "If true then the root filesystem MUST be read-only inside the container")
def _(ctx):
    b = ctx.bundle()
    b.config["root"]["readonly"] = True
    out = probe(ctx, b, "open", "/newfile", "create")
    ctx.eq(out.get("errno"), "30", "errno creating a file in a read-only root (EROFS)")


@case("config.root.readonly_false", C, "readonly (bool, OPTIONAL) ... defaults to false.")
def _(ctx):
    b = ctx.bundle()
    del b.config["root"]["readonly"]
    out = sh(ctx, b, "echo data > /newfile && cat /newfile")
    ctx.eq(out.strip(), "data", "write to a root that is not read-only")


@case("config.hostname", C, "hostname (string, OPTIONAL) specifies the container's hostname as seen by processes running inside the container.")
def _(ctx):
    b = ctx.bundle()
    b.config["hostname"] = "conf-host-check"
    ctx.eq(probe(ctx, b, "uts").get("hostname"), "conf-host-check", "hostname")


@case("config.domainname", C, "domainname (string, OPTIONAL) specifies the container's domainname as seen by processes running inside the container.")
def _(ctx):
    b = ctx.bundle()
    b.config["ociVersion"] = "1.1.0"  # the field appeared in v1.1.0
    b.config["domainname"] = "conf.example.test"
    ctx.eq(probe(ctx, b, "uts").get("domainname"), "conf.example.test", "domainname")


@case("config.process.args", C, "args (array of strings, OPTIONAL) with similar semantics to IEEE Std 1003.1-2008 execvp's argv.")
def _(ctx):
    b = ctx.bundle(["/bin/probe", "argv", "two words", "", "x=y"])
    out = ctx.run_container(b)
    ctx.eq(out.splitlines(), ["[/bin/probe]", "[argv]", "[two words]", "[]", "[x=y]"], "argv seen")


@case("config.process.args_path_lookup", C, "that entry is used with the same semantics as execvp's file.")
def _(ctx):
    b = ctx.bundle(["probe", "argv"])
    ctx.eq(ctx.run_container(b).splitlines()[:1], ["[probe]"], "argv[0] of a program found through PATH")


@case("config.process.cwd", C, "cwd (string, REQUIRED) is the working directory that will be set for the executable.")
def _(ctx):
    b = ctx.bundle()
    os.makedirs(b.in_rootfs("/work/dir"))
    b.process["cwd"] = "/work/dir"
    ctx.eq(sh(ctx, b, "pwd").strip(), "/work/dir", "working directory")


@case("config.process.cwd_relative_error", C, "This value MUST be an absolute path.")
def _(ctx):
    b = ctx.bundle(["pwd"])
    os.makedirs(b.in_rootfs("/work"))
    b.process["cwd"] = "work"
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create with a relative cwd")


@case("config.process.env", C, "env (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008's environ.")
def _(ctx):
    b = ctx.bundle()
    b.process["env"] += ["CONF_A=one", "CONF_B=two words", "CONF_EMPTY="]
    out = sh(ctx, b, 'echo "$CONF_A|$CONF_B|${CONF_EMPTY-unset}"')
    ctx.eq(out.strip(), "one|two words|", "configured environment")


@case("config.process.env_not_inherited", C, "env (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008's environ.")
def _(ctx):
    b = ctx.bundle()
    b.process["args"] = ["sh", "-c", 'echo "${CONF_LEAK-unset}"']
    cid, _ = ctx.create(b, wrap=["env", "CONF_LEAK=leaked"])
    ctx.start(cid)
    ctx.wait_status(cid, "stopped")
    ctx.eq(ctx.output(cid).strip(), "unset", "a variable of the runtime's own environment")


@case("config.process.user.uid", C, "uid (int, REQUIRED) specifies the user ID in the container namespace.")
def _(ctx):
    b = ctx.bundle()
    b.process["user"] = {"uid": 1234, "gid": 0}
    out = probe(ctx, b, "ids")
    ctx.eq((out.get("uid"), out.get("euid")), ("1234", "1234"), "uid, euid")


@case("config.process.user.gid", C, "gid (int, REQUIRED) specifies the group ID in the container namespace.")
def _(ctx):
    b = ctx.bundle()
    b.process["user"] = {"uid": 0, "gid": 4321}
    out = probe(ctx, b, "ids")
    ctx.eq((out.get("gid"), out.get("egid")), ("4321", "4321"), "gid, egid")


@case("config.process.user.additional_gids", C, "additionalGids (array of ints, OPTIONAL) specifies additional group IDs in the container namespace to be added to the process.")
def _(ctx):
    b = ctx.bundle()
    b.process["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [2001, 2002]}
    groups = set(probe(ctx, b, "ids").get("groups", "").split(","))
    ctx.check({"2001", "2002"} <= groups, f"supplementary groups {sorted(groups)} lack 2001, 2002")


@case("config.process.user.umask", C, "umask (int, OPTIONAL) specifies the umask of the user.")
def _(ctx):
    b = ctx.bundle()
    b.process["user"]["umask"] = 0o027
    ctx.eq(probe(ctx, b, "umask").get("umask"), "0027", "umask")


def _rlimits(ctx, entries):
    b = ctx.bundle()
    b.process["rlimits"] = entries
    return probe(ctx, b, "rlimits")


@case("config.process.rlimits.nofile", C, "rlim.rlim_cur MUST match the configured value. ... rlim.rlim_max MUST match the configured value.")
def _(ctx):
    out = _rlimits(ctx, [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}])
    ctx.eq(out.get("RLIMIT_NOFILE"), "321:654", "RLIMIT_NOFILE soft:hard")


@case("config.process.rlimits.core", C, "rlim.rlim_cur MUST match the configured value.")
def _(ctx):
    out = _rlimits(ctx, [{"type": "RLIMIT_CORE", "soft": 4096, "hard": 8192}])
    ctx.eq(out.get("RLIMIT_CORE"), "4096:8192", "RLIMIT_CORE soft:hard")


@case("config.process.rlimits.several", C, "For each entry in rlimits, a getrlimit(3) on type MUST succeed.")
def _(ctx):
    out = _rlimits(ctx, [{"type": "RLIMIT_MSGQUEUE", "soft": 1000, "hard": 2000},
                         {"type": "RLIMIT_STACK", "soft": 4 << 20, "hard": 8 << 20},
                         {"type": "RLIMIT_FSIZE", "soft": 1 << 30, "hard": 1 << 31}])
    got = (out.get("RLIMIT_MSGQUEUE"), out.get("RLIMIT_STACK"), out.get("RLIMIT_FSIZE"))
    ctx.eq(got, ("1000:2000", f"{4 << 20}:{8 << 20}", f"{1 << 30}:{1 << 31}"), "MSGQUEUE, STACK, FSIZE")


@case("config.process.rlimits.duplicate_error", C, "If rlimits contains duplicated entries with same type, the runtime MUST generate an error.")
def _(ctx):
    b = ctx.bundle()
    b.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 100},
                            {"type": "RLIMIT_NOFILE", "soft": 200, "hard": 200}]
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create with a duplicated rlimit")


@case("config.process.rlimits.unknown_type_error", C, "The runtime MUST generate an error for any values which cannot be mapped to a relevant kernel interface.")
def _(ctx):
    b = ctx.bundle()
    b.process["rlimits"] = [{"type": "RLIMIT_CONFORMANCE", "soft": 1, "hard": 1}]
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create with an unknown rlimit type")


def _caps(ctx, sets):
    b = ctx.bundle()
    b.process["capabilities"] = sets
    b.process["noNewPrivileges"] = False
    return probe(ctx, b, "caps")


def _hex(mask):
    return f"{mask:x}"


@case("config.process.capabilities.bounding", C, "bounding ... is an array of bounding capabilities that are kept for the process.")
def _(ctx):
    want = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    out = _caps(ctx, {"bounding": want, "effective": want, "permitted": want})
    ctx.eq(out.get("bnd"), _hex(cap_mask(want)), "bounding set")


@case("config.process.capabilities.inheritable", C, "inheritable ... is an array of inheritable capabilities that are kept for the process.")
def _(ctx):
    inh = ["CAP_KILL", "CAP_NET_RAW"]
    out = _caps(ctx, {"bounding": DEFAULT_CAPS, "permitted": DEFAULT_CAPS, "effective": DEFAULT_CAPS,
                      "inheritable": inh})
    ctx.eq(out.get("inh"), _hex(cap_mask(inh)), "inheritable set")


@case("config.process.capabilities.ambient", C, "ambient ... is an array of ambient capabilities that are kept for the process.")
def _(ctx):
    amb = ["CAP_NET_BIND_SERVICE"]
    b = ctx.bundle()
    b.process["user"] = {"uid": 1000, "gid": 1000}
    b.process["noNewPrivileges"] = False
    b.process["capabilities"] = {"bounding": DEFAULT_CAPS, "permitted": DEFAULT_CAPS, "effective": DEFAULT_CAPS,
                                 "inheritable": DEFAULT_CAPS, "ambient": amb}
    out = probe(ctx, b, "caps")
    # For a non-root user, execve(2) leaves exactly the ambient set permitted and effective.
    want = _hex(cap_mask(amb))
    ctx.eq((out.get("amb"), out.get("prm"), out.get("eff")), (want, want, want),
           "ambient, permitted, effective sets of uid 1000")


@case("config.process.capabilities.empty", C, "the effective field is an array of effective capabilities that are kept for the process.")
def _(ctx):
    out = _caps(ctx, {"bounding": [], "effective": [], "permitted": []})
    ctx.eq((out.get("bnd"), out.get("eff"), out.get("prm")), ("0", "0", "0"), "bounding, effective, permitted")


@case("config.process.capabilities.unknown_not_fatal", C,
      "Runtimes SHOULD NOT fail if the container configuration requests capabilities that cannot be granted", "SHOULD")
def _(ctx):
    want = ["CAP_KILL", "CAP_CONFORMANCE_UNKNOWN"]
    out = _caps(ctx, {"bounding": want, "effective": want, "permitted": want})
    ctx.eq(out.get("bnd"), _hex(cap_mask(["CAP_KILL"])), "bounding set")


@case("config.process.no_new_privileges.true", C, "setting noNewPrivileges to true prevents the process from gaining additional privileges.")
def _(ctx):
    b = ctx.bundle()
    b.process["noNewPrivileges"] = True
    ctx.eq(probe(ctx, b, "nnp").get("nnp"), "1", "PR_GET_NO_NEW_PRIVS")


@case("config.process.no_new_privileges.false", C, "noNewPrivileges (bool, OPTIONAL) setting noNewPrivileges to true prevents ...")
def _(ctx):
    b = ctx.bundle()
    b.process["noNewPrivileges"] = False
    ctx.eq(probe(ctx, b, "nnp").get("nnp"), "0", "PR_GET_NO_NEW_PRIVS")


@case("config.process.oom_score_adj.set", C, "If oomScoreAdj is set, the runtime MUST set oom_score_adj to the given value.")
def _(ctx):
    b = ctx.bundle()
    b.process["oomScoreAdj"] = 417
    ctx.eq(sh(ctx, b, "cat /proc/self/oom_score_adj").strip(), "417", "oom_score_adj")


@case("config.process.oom_score_adj.unset", C, "If oomScoreAdj is not set, the runtime MUST NOT change the value of oom_score_adj.")
def _(ctx):
    b = ctx.bundle(["sh", "-c", "cat /proc/self/oom_score_adj"])
    b.process.pop("oomScoreAdj", None)
    cid, _ = ctx.create(b, wrap=["sh", "-c", 'echo 123 > /proc/self/oom_score_adj && exec "$@"', "sh"])
    ctx.start(cid)
    ctx.wait_status(cid, "stopped")
    ctx.eq(ctx.output(cid).strip(), "123", "oom_score_adj of a container started by a runtime at 123")


@case("config.process.scheduler", C, "scheduler (object, OPTIONAL) is an object describing the scheduler properties for the process.")
def _(ctx):
    b = ctx.bundle()
    b.config["ociVersion"] = "1.2.0"
    b.process["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
    out = probe(ctx, b, "sched")
    ctx.eq((out.get("policy"), out.get("nice")), ("3", "7"), "policy (SCHED_BATCH=3), nice")


@case("config.process.io_priority", C, "ioPriority (object, OPTIONAL) configures the I/O priority settings for the container's processes")
def _(ctx):
    b = ctx.bundle()
    b.config["ociVersion"] = "1.2.0"
    b.process["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    out = probe(ctx, b, "sched")
    ctx.eq((out.get("ioclass"), out.get("iolevel")), ("2", "6"), "io class (BE=2), level")


@case("config.process.apparmor_profile", C, "apparmorProfile (string, OPTIONAL) specifies the name of the AppArmor profile for the process.")
def _(ctx):
    if not os.path.exists("/sys/kernel/security/apparmor"):
        ctx.skip("host has no AppArmor")
    ctx.skip("no AppArmor profile is loaded for the suite to ask for")


@case("config.process.selinux_label", C, "selinuxLabel (string, OPTIONAL) specifies the SELinux label for the process.")
def _(ctx):
    if not os.path.exists("/sys/fs/selinux/enforce"):
        ctx.skip("host has no SELinux")
    ctx.skip("no SELinux policy is loaded for the suite to ask for")


@case("config.unknown_properties_ignored", C, "Runtimes MAY log unknown properties but MUST otherwise ignore them.")
def _(ctx):
    b = ctx.bundle(["echo", "ran"])
    b.config["org.example.conformance"] = {"x": 1}
    b.process["org.example.field"] = [1, 2]
    b.linux["org.example.linux"] = True
    ctx.eq(ctx.run_container(b).strip(), "ran", "output of a config with unknown properties")


@case("config.annotations_unknown_key", C, "Runtimes MUST handle unknown annotation keys like any other unknown property.")
def _(ctx):
    b = ctx.bundle(["echo", "ran"])
    b.config["annotations"] = {"org.example.conformance.unknown": "value"}
    ctx.eq(ctx.run_container(b).strip(), "ran", "output of a config with an unknown annotation")


@case("config.invalid_value_error", C, "Runtimes MUST generate an error when invalid or unsupported values are encountered.")
def _(ctx):
    b = ctx.bundle()
    b.linux["namespaces"].append({"type": "conformance-bogus"})
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create with namespace type 'conformance-bogus'")
    ctx.gone(cid)
