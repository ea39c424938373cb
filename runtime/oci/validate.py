"""Validate a bundle's config.json: the spec's JSON schema first, then the rules it cannot express.

``validate`` raises a ConfigError for the first problem (create and run stop
there); ``check`` returns every problem it finds (``pyrunc check``).  The schema
part runs the code generated from spec/ (see schemagen); the semantic rules
are small functions in RULES, most of them the checks runc makes before it
starts anything (libcontainer/configs/validate, libcontainer/specconv) or
MUSTs of the runtime-spec.

A rule is ``rule(config, ctx)`` yielding ``(json_path, message)`` pairs; it
may assume the config passed the schema.
"""

import os

from pyrunc.errors import ConfigError
from pyrunc.oci import schema as _schema

_generated = _schema.load()

# linux/capability.h, CAP_CHOWN (0) to CAP_CHECKPOINT_RESTORE (40).
CAPABILITIES = {name: number for number, name in enumerate((
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE"))}

# asm-generic/resource.h (x86, arm and most others; mips, sparc and alpha differ).
RLIMITS = {name: number for number, name in enumerate((
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME"))}


def validate(config, filename="config.json", bundle=None):
    """Raise ConfigError for the first problem in ``config`` (a parsed config.json).

    bundle: the bundle directory.  When given, what is about to be used on
    the host is looked at too: root.path must be a directory, namespace
    paths must exist, net.* sysctls must not land in the host's namespace.
    """
    _generated.validate_config(config, _raiser(filename))
    ctx = _Context(config, bundle)
    for rule in RULES:
        for path, message in rule(config, ctx):
            raise ConfigError(path, message, filename)
    for error in _seccomp_errors(config):
        raise ConfigError(error.path, error.message, filename)


def check(config, filename="config.json", bundle=None):
    """Return a ConfigError for every problem found: schema problems first, then semantic ones."""
    found = []

    def collect(path, kind, arg, value):
        found.append(ConfigError(path.lstrip("."), _schema_message(kind, arg, value), filename))

    _generated.validate_config(config, collect)
    if not isinstance(config, dict):
        return found
    ctx = _Context(config, bundle)
    for rule in RULES:
        try:
            for path, message in rule(config, ctx):
                found.append(ConfigError(path, message, filename))
        except (TypeError, AttributeError, KeyError, ValueError):
            # Rules assume the schema held; where it did not, the schema error
            # above already names the field this rule tripped over.
            if not found:
                raise
    if not any(e.path == "linux.seccomp" or e.path.startswith(("linux.seccomp.", "linux.seccomp["))
               for e in found):
        found.extend(ConfigError(e.path, e.message, filename) for e in _seccomp_errors(config))
    unique = {}     # allOf can report one problem twice
    for error in found:
        unique.setdefault((error.path, error.message), error)
    return list(unique.values())


def validate_state(state, filename="state.json"):
    """Raise ConfigError if ``state`` does not follow state-schema.json."""
    _generated.validate_state(state, _raiser(filename))


def validate_features(features, filename="features.json"):
    """Raise ConfigError if ``features`` does not follow features-schema.json."""
    _generated.validate_features(features, _raiser(filename))


def _raiser(filename):
    def fail(path, kind, arg, value):
        raise ConfigError(path.lstrip("."), _schema_message(kind, arg, value), filename)
    return fail


# -- schema messages ---------------------------------------------------------

_TYPE_WORDS = {"object": "an object", "array": "an array", "string": "a string",
               "integer": "an integer", "number": "a number", "boolean": "a boolean", "null": "null"}


def _json_type(value):
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), type(value).__name__)


def _show(value):
    from pyrunc.oci.jsondump import dumps
    return dumps(value)


def _schema_message(kind, arg, value):
    if kind == "type":
        return f"must be {_TYPE_WORDS[arg]}, not {_TYPE_WORDS.get(_json_type(value), _json_type(value))}"
    if kind == "required":
        return "is required"
    if kind == "enum":
        return f"{_show(value)} is not one of {', '.join(arg)}"
    if kind == "pattern":
        return f"{_show(value)} does not match {arg}"
    if kind == "minimum":
        return f"must be >= {arg}"
    if kind == "maximum":
        return f"must be <= {arg}"
    if kind == "minItems":
        return "must not be empty" if arg == 1 else f"must have at least {arg} entries"
    return f"fails {kind} {arg}"


# -- semantic rules ----------------------------------------------------------

class _Context:
    """What several rules need, computed once: the namespaces by type."""

    def __init__(self, config, bundle):
        self.bundle = bundle
        linux = config.get("linux") or {}
        self.linux = linux if isinstance(linux, dict) else {}
        self.namespaces = {}
        for ns in self.linux.get("namespaces") or ():
            if isinstance(ns, dict):
                self.namespaces.setdefault(ns.get("type"), ns)

    def has(self, ns_type):
        return ns_type in self.namespaces

    def path_of(self, ns_type):
        return (self.namespaces.get(ns_type) or {}).get("path")


def _process(config):
    return config.get("process") or {}


def rule_oci_version(config, ctx):
    # SemVer 2.0.0 (config.md); only runtime-spec 1.x exists and is understood.
    version = config["ociVersion"]
    core = version.split("-", 1)[0].split("+", 1)[0].split(".")
    if len(core) != 3 or not all(part.isdigit() and part.isascii() for part in core):
        yield "ociVersion", f"{_show(version)} is not a semantic version (MAJOR.MINOR.PATCH)"
    elif int(core[0]) != 1:
        yield "ociVersion", f"{_show(version)} is not supported: the major version must be 1"


def rule_root(config, ctx):
    # config.md: root is REQUIRED on every platform but Hyper-V; runc: "root must be specified".
    if "root" not in config:
        yield "root", "is required"


def rule_root_exists(config, ctx):
    # config.md: a directory MUST exist at root.path (relative to the bundle).
    if ctx.bundle is None or "root" not in config:
        return
    path = os.path.join(ctx.bundle, config["root"]["path"])
    if not os.path.exists(path):
        yield "root.path", f"{_show(config['root']['path'])} does not exist in the bundle"
    elif not os.path.isdir(path):
        yield "root.path", f"{_show(config['root']['path'])} is not a directory"


def rule_process_args(config, ctx):
    # config.md: at least one entry is REQUIRED (non-Windows), used as execvp's file.
    process = config.get("process")
    if process is None:
        return
    if "args" not in process:
        yield "process.args", "is required"
    elif not process["args"]:
        yield "process.args", "must not be empty"


def rule_process_cwd(config, ctx):
    process = config.get("process")
    if process is not None and not process["cwd"].startswith("/"):
        yield "process.cwd", f"{_show(process['cwd'])} must be an absolute path"


def rule_process_user(config, ctx):
    umask = (_process(config).get("user") or {}).get("umask")
    if umask is not None and umask > 0o777:
        yield "process.user.umask", f"{umask} is not a umask: must be <= 511 (0777)"


def rule_rlimits(config, ctx):
    # config.md: duplicated types MUST be an error; a type getrlimit(2) does not know cannot be set.
    seen = set()
    for i, rlimit in enumerate(_process(config).get("rlimits") or ()):
        kind = rlimit["type"]
        if kind not in RLIMITS:
            yield f"process.rlimits[{i}].type", f"unknown rlimit {_show(kind)}"
        elif kind in seen:
            yield f"process.rlimits[{i}].type", f"duplicate rlimit {kind}"
        elif rlimit["soft"] > rlimit["hard"]:
            # setrlimit(2) fails with EINVAL when rlim_cur > rlim_max.
            yield f"process.rlimits[{i}].soft", f"{rlimit['soft']} is above the hard limit {rlimit['hard']}"
        seen.add(kind)


def rule_oom_score_adj(config, ctx):
    # proc(5): /proc/pid/oom_score_adj takes -1000 to 1000.
    adj = _process(config).get("oomScoreAdj")
    if adj is not None and not -1000 <= adj <= 1000:
        yield "process.oomScoreAdj", f"{adj} is out of range: must be in [-1000, 1000]"


def rule_io_priority(config, ctx):
    # ioprio_set(2): levels 0 (highest) to 7 for the RT and BE classes.
    priority = (_process(config).get("ioPriority") or {}).get("priority", 0)
    if not 0 <= priority <= 7:
        yield "process.ioPriority.priority", f"{priority} is out of range: must be in [0, 7]"


def rule_scheduler(config, ctx):
    # sched_setattr(2): nice applies to SCHED_OTHER/BATCH, priority to FIFO/RR,
    # runtime/deadline/period to DEADLINE only.
    sched = _process(config).get("scheduler")
    if sched is None:
        return
    policy = sched["policy"]
    nice = sched.get("nice", 0)
    if policy in ("SCHED_OTHER", "SCHED_BATCH") and not -20 <= nice <= 19:
        yield "process.scheduler.nice", f"{nice} is out of range for {policy}: must be in [-20, 19]"
    if sched.get("priority", 0) != 0 and policy not in ("SCHED_FIFO", "SCHED_RR"):
        yield "process.scheduler.priority", f"only applies to SCHED_FIFO and SCHED_RR, not {policy}"
    if policy != "SCHED_DEADLINE":
        for field in ("runtime", "deadline", "period"):
            if sched.get(field, 0) != 0:
                yield f"process.scheduler.{field}", f"only applies to SCHED_DEADLINE, not {policy}"


def rule_hooks(config, ctx):
    # config.md: a hook's path MUST be absolute.
    for stage, hooks in (config.get("hooks") or {}).items():
        for i, hook in enumerate(hooks):
            if not hook["path"].startswith("/"):
                yield f"hooks.{stage}[{i}].path", f"{_show(hook['path'])} must be an absolute path"


def rule_mounts(config, ctx):
    # Relative destinations stay accepted: config.md allows them on Linux "for
    # compatibility with old tools" (taken as relative to /), as runc 1.1 does.
    for i, mount in enumerate(config.get("mounts") or ()):
        for field in ("destination", "source"):
            if "\0" in mount.get(field, ""):
                yield f"mounts[{i}].{field}", "must not contain a NUL byte"
        has_uid, has_gid = "uidMappings" in mount, "gidMappings" in mount
        if has_uid != has_gid:
            missing = "gidMappings" if has_uid else "uidMappings"
            yield f"mounts[{i}].{missing}", "is required with " + ("uidMappings" if has_uid else "gidMappings")
        options = mount.get("options") or ()
        if ("idmap" in options or "ridmap" in options) and not has_uid and not ctx.has("user"):
            # config.md, idmap: no mappings and no user namespace MUST be an error.
            yield f"mounts[{i}].options", "idmap needs uidMappings/gidMappings or a user namespace"


def rule_namespaces(config, ctx):
    # config-linux.md: duplicated types MUST be an error; path is absolute, in the runtime's namespace.
    seen = set()
    for i, ns in enumerate(ctx.linux.get("namespaces") or ()):
        if ns["type"] in seen:
            yield f"linux.namespaces[{i}].type", f"duplicate namespace {ns['type']}"
        seen.add(ns["type"])
        path = ns.get("path")
        if path is None:
            continue
        if not path.startswith("/"):
            yield f"linux.namespaces[{i}].path", f"{_show(path)} must be an absolute path"
        elif ctx.bundle is not None and not os.path.exists(path):
            yield f"linux.namespaces[{i}].path", f"{_show(path)} does not exist"


def rule_uts(config, ctx):
    # sethostname(2)/setdomainname(2) outside a UTS namespace would rename the host.
    for field in ("hostname", "domainname"):
        if config.get(field) and not ctx.has("uts"):
            yield field, "needs a uts namespace (none in linux.namespaces)"


def rule_user_namespace(config, ctx):
    # user_namespaces(7): mappings are written for a new user namespace only, and
    # a new one without them has no uid 0 (nothing could be set up).  Mappings
    # next to a joined namespace are allowed: they describe it (runc 1.2 compares).
    user = ctx.namespaces.get("user")
    for field in ("uidMappings", "gidMappings"):
        mappings = ctx.linux.get(field)
        if mappings and user is None:
            yield f"linux.{field}", "needs a user namespace (none in linux.namespaces)"
        elif not mappings and user is not None and not user.get("path"):
            yield f"linux.{field}", "is required for a new user namespace"
        for j, mapping in enumerate(mappings or ()):
            if mapping["size"] == 0:
                yield f"linux.{field}[{j}].size", "must be > 0"


def rule_time_namespace(config, ctx):
    # time_namespaces(7): offsets can only be written before the first process joins.
    offsets = ctx.linux.get("timeOffsets")
    if not offsets:
        return
    if not ctx.has("time"):
        yield "linux.timeOffsets", "needs a time namespace (none in linux.namespaces)"
    elif ctx.path_of("time"):
        yield "linux.timeOffsets", "cannot be applied to a time namespace joined by path"


# sysctls namespaced by IPC (ipc_namespaces(7)) besides fs.mqueue.*.
_IPC_SYSCTLS = frozenset(("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                          "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"))


def _sysctl_dotted(name):
    # sysctl.d(5): "/" may separate the components instead of "."; then a "."
    # is part of a component (an interface name such as eno2.100).
    first = min((i for i in (name.find("."), name.find("/")) if i >= 0), default=-1)
    if first < 0 or name[first] == ".":
        return name
    return name.translate(str.maketrans("./", "/."))


def _is_host_netns(path):
    try:
        ours, theirs = os.stat("/proc/self/ns/net"), os.stat(path)
    except OSError:
        return False
    return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)


def rule_sysctl(config, ctx):
    # /proc/sys is only partly namespaced: a sysctl outside the container's own
    # namespace would change the host (runc refuses the same set).
    for raw in ctx.linux.get("sysctl") or {}:
        name, where = _sysctl_dotted(raw), "linux.sysctl" + _generated._key(raw)
        if name in _IPC_SYSCTLS or name.startswith("fs.mqueue."):
            if not ctx.has("ipc"):
                yield where, f"{name} needs an ipc namespace (none in linux.namespaces)"
        elif name.startswith("net."):
            path = ctx.path_of("network")
            if not ctx.has("network"):
                yield where, f"{name} needs a network namespace (none in linux.namespaces)"
            elif path and ctx.bundle is not None and _is_host_netns(path):
                yield where, f"{name} is not allowed in the host's network namespace"
        elif name.startswith("user."):
            # ucounts limits: in the initial user namespace they bind the whole host.
            if not ctx.has("user"):
                yield where, f"{name} needs a user namespace (none in linux.namespaces)"
        elif name == "kernel.domainname" and ctx.has("uts"):
            continue
        elif name == "kernel.hostname" and ctx.has("uts"):
            yield where, f"{name} conflicts with the hostname field: set that instead"
        else:
            yield where, f"{name} is not in a namespace the container can have its own of"


def rule_masked_readonly_paths(config, ctx):
    # config-linux.md: absolute paths in the container; without a mount
    # namespace masking them would mask the host's.
    for field in ("maskedPaths", "readonlyPaths"):
        paths = ctx.linux.get(field) or ()
        for i, path in enumerate(paths):
            if not path.startswith("/"):
                yield f"linux.{field}[{i}]", f"{_show(path)} must be an absolute path"
        if paths and not ctx.has("mount"):
            yield f"linux.{field}", "needs a mount namespace (none in linux.namespaces)"


def rule_devices(config, ctx):
    # config-linux.md: major and minor are REQUIRED unless the type is p (FIFO).
    for i, device in enumerate(ctx.linux.get("devices") or ()):
        if not device["path"].startswith("/"):
            yield f"linux.devices[{i}].path", f"{_show(device['path'])} must be an absolute path"
        if device["type"] != "p":
            for field in ("major", "minor"):
                if field not in device:
                    yield f"linux.devices[{i}].{field}", f"is required for device type {device['type']}"


def rule_device_cgroup(config, ctx):
    # The devices controller's rule syntax: type a, b or c; access a subset of rwm.
    rules = (ctx.linux.get("resources") or {}).get("devices") or ()
    for i, rule in enumerate(rules):
        if rule.get("type", "a") not in ("a", "b", "c"):
            yield f"linux.resources.devices[{i}].type", f"{_show(rule['type'])} is not one of a, b, c"
        access = rule.get("access")
        if access is not None and (not access or set(access) - set("rwm")):
            yield f"linux.resources.devices[{i}].access", f"{_show(access)} must be letters of rwm"


def rule_intel_rdt(config, ctx):
    # closID names a directory under /sys/fs/resctrl: no escaping it.
    clos = (ctx.linux.get("intelRdt") or {}).get("closID")
    if clos is not None and (clos in ("", ".", "..") or "/" in clos):
        yield "linux.intelRdt.closID", f"{_show(clos)} is not a valid directory name"
    # runtime.md: a property the runtime cannot apply MUST be an error; pyrunc
    # has no resctrl support, so any intelRdt is refused before side effects.
    if ctx.bundle is not None and ctx.linux.get("intelRdt") is not None:
        yield "linux.intelRdt", "intel RDT is not supported by pyrunc on this host"


def _valid_ifname(name):
    # dev_valid_name() in net/core/dev.c: 1..15 bytes, not . or .., no / : or whitespace.
    return 0 < len(name.encode()) < 16 and name not in (".", "..") and not any(
        c in "/:" or c.isspace() for c in name)


def rule_net_devices(config, ctx):
    devices = ctx.linux.get("netDevices") or {}
    if devices and not ctx.has("network"):
        yield "linux.netDevices", "needs a network namespace (none in linux.namespaces)"
    for name, device in devices.items():
        if not _valid_ifname(name):
            yield "linux.netDevices" + _generated._key(name), f"{_show(name)} is not a valid interface name"
        new = device.get("name")
        if new is not None and not _valid_ifname(new):
            yield f"linux.netDevices{_generated._key(name)}.name", f"{_show(new)} is not a valid interface name"


def rule_memory_policy(config, ctx):
    # set_mempolicy(2): MPOL_DEFAULT and MPOL_LOCAL take no nodes, the others need some.
    policy = ctx.linux.get("memoryPolicy")
    if policy is None:
        return
    nodes = policy.get("nodes", "")
    if policy["mode"] in ("MPOL_DEFAULT", "MPOL_LOCAL"):
        if nodes:
            yield "linux.memoryPolicy.nodes", f"must be empty for {policy['mode']}"
    elif not nodes:
        yield "linux.memoryPolicy.nodes", f"is required for {policy['mode']}"


def rule_annotations(config, ctx):
    # config.md: annotation keys MUST NOT be empty.
    if "" in (config.get("annotations") or {}):
        yield "annotations", "keys must not be empty"


RULES = (
    rule_oci_version,
    rule_root,
    rule_root_exists,
    rule_process_args,
    rule_process_cwd,
    rule_process_user,
    rule_rlimits,
    rule_oom_score_adj,
    rule_io_priority,
    rule_scheduler,
    rule_hooks,
    rule_mounts,
    rule_namespaces,
    rule_uts,
    rule_user_namespace,
    rule_time_namespace,
    rule_sysctl,
    rule_masked_readonly_paths,
    rule_devices,
    rule_device_cgroup,
    rule_intel_rdt,
    rule_net_devices,
    rule_memory_policy,
    rule_annotations,
)


def _seccomp_errors(config):
    """linux.seccomp's own rules (syscall names, actions and errno) live with the seccomp compiler."""
    seccomp = (config.get("linux") or {}).get("seccomp")
    if seccomp is None:
        return []
    try:
        from pyrunc.seccomp.rules import check_seccomp
    except ImportError as e:
        if e.name not in ("pyrunc.seccomp.rules", "pyrunc.seccomp"):
            raise
        return []
    return check_seccomp(seccomp, "linux.seccomp")
