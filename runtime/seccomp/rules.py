"""The vocabulary of ``linux.seccomp`` (runtime-spec 1.3) and its semantic check.

check_seccomp() runs before any side effect and reports every problem with
its JSON path; the compiler relies on it and never re-validates.
"""

from pyrunc.errors import ConfigError

# SECCOMP_RET_* values (linux/seccomp.h).  KILL is KILL_THREAD, as in
# libseccomp; runc maps SCMP_ACT_KILL the same way.
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_USER_NOTIF = 0x7FC00000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000

ACTIONS = {
    "SCMP_ACT_KILL": RET_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": RET_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": RET_KILL_PROCESS,
    "SCMP_ACT_TRAP": RET_TRAP,
    "SCMP_ACT_ERRNO": RET_ERRNO,
    "SCMP_ACT_TRACE": RET_TRACE,
    "SCMP_ACT_ALLOW": RET_ALLOW,
    "SCMP_ACT_LOG": RET_LOG,
    "SCMP_ACT_NOTIFY": RET_USER_NOTIF,
}
# The actions whose SECCOMP_RET_DATA carries an errno; the spec requires an
# error for errnoRet on any other action.
ERRNO_ACTIONS = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")
EPERM = 1

OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
       "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ")

# Every architecture the spec names -> the name pyrunc's tables use, or
# None where pyrunc has no table (accepted, but never compiled: a kernel
# that could run such binaries is not one pyrunc runs on).
ARCHES = {
    "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X32": "x32",
    "SCMP_ARCH_ARM": "arm", "SCMP_ARCH_AARCH64": "aarch64",
    "SCMP_ARCH_MIPS": None, "SCMP_ARCH_MIPS64": None, "SCMP_ARCH_MIPS64N32": None,
    "SCMP_ARCH_MIPSEL": None, "SCMP_ARCH_MIPSEL64": None, "SCMP_ARCH_MIPSEL64N32": None,
    "SCMP_ARCH_PPC": None, "SCMP_ARCH_PPC64": None, "SCMP_ARCH_PPC64LE": None,
    "SCMP_ARCH_S390": None, "SCMP_ARCH_S390X": None,
    "SCMP_ARCH_PARISC": None, "SCMP_ARCH_PARISC64": None,
    "SCMP_ARCH_RISCV64": None, "SCMP_ARCH_LOONGARCH64": None,
}

# SECCOMP_FILTER_FLAG_* (linux/seccomp.h)
FLAG_TSYNC = 1 << 0
FLAG_LOG = 1 << 1
FLAG_SPEC_ALLOW = 1 << 2
FLAG_NEW_LISTENER = 1 << 3
FLAG_TSYNC_ESRCH = 1 << 4
FLAG_WAIT_KILLABLE_RECV = 1 << 5
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": FLAG_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": FLAG_WAIT_KILLABLE_RECV,
}

MAX_ARG_INDEX = 5          # syscalls take at most six arguments
MAX_RET_DATA = 0xFFFF      # SECCOMP_RET_DATA is 16 bits wide
MAX_U64 = (1 << 64) - 1


def action_value(action, errno_ret):
    """The SECCOMP_RET_* word for an action; ERRNO and TRACE default to EPERM (as runc)."""
    value = ACTIONS[action]
    if action in ERRNO_ACTIONS:
        value |= EPERM if errno_ret is None else errno_ret
    return value


def _is_uint(v, top):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= top


def _check_action(obj, where, key, errno_key, errors):
    action = obj.get(key)
    if action is None:
        errors.append(ConfigError(f"{where}.{key}", "required"))
        return None
    if not isinstance(action, str) or action not in ACTIONS:
        errors.append(ConfigError(f"{where}.{key}", f"unknown action {action!r}"))
        return None
    errno_ret = obj.get(errno_key)
    if errno_ret is not None:
        if not _is_uint(errno_ret, MAX_RET_DATA):
            errors.append(ConfigError(f"{where}.{errno_key}", f"must be an integer 0..{MAX_RET_DATA}"))
        elif action not in ERRNO_ACTIONS:
            errors.append(ConfigError(f"{where}.{errno_key}",
                                      f"only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {action}"))
    return action


def _check_arg(arg, where, errors):
    if not isinstance(arg, dict):
        errors.append(ConfigError(where, "must be an object"))
        return
    if not _is_uint(arg.get("index"), MAX_ARG_INDEX):
        errors.append(ConfigError(f"{where}.index", f"must be an integer 0..{MAX_ARG_INDEX}"))
    if arg.get("op") not in OPS:
        errors.append(ConfigError(f"{where}.op", f"unknown operator {arg.get('op')!r}"))
    if not _is_uint(arg.get("value"), MAX_U64):
        errors.append(ConfigError(f"{where}.value", "must be an unsigned 64-bit integer"))
    if "valueTwo" in arg and not _is_uint(arg["valueTwo"], MAX_U64):
        errors.append(ConfigError(f"{where}.valueTwo", "must be an unsigned 64-bit integer"))


def _check_syscall(call, where, errors):
    if not isinstance(call, dict):
        errors.append(ConfigError(where, "must be an object"))
        return None
    names = call.get("names")
    if not isinstance(names, list) or not names:
        errors.append(ConfigError(f"{where}.names", "must be a non-empty list of syscall names"))
    else:
        for j, name in enumerate(names):
            if not isinstance(name, str) or not name:
                errors.append(ConfigError(f"{where}.names[{j}]", "must be a non-empty string"))
    action = _check_action(call, where, "action", "errnoRet", errors)
    args = call.get("args")
    if args is not None:
        if not isinstance(args, list):
            errors.append(ConfigError(f"{where}.args", "must be a list"))
        else:
            for j, arg in enumerate(args):
                _check_arg(arg, f"{where}.args[{j}]", errors)
    # runc refuses this: the init writes its sync message with write(2)
    # after loading the filter, so a NOTIFY on write deadlocks the start.
    if action == "SCMP_ACT_NOTIFY" and isinstance(names, list) and "write" in names:
        errors.append(ConfigError(f"{where}.names", "SCMP_ACT_NOTIFY cannot be used for the write syscall"))
    return action


def check_seccomp(seccomp, path="linux.seccomp"):
    """Return a list of ConfigError (empty when the section is usable)."""
    if not isinstance(seccomp, dict):
        return [ConfigError(path, "must be an object")]
    errors = []
    default = _check_action(seccomp, path, "defaultAction", "defaultErrnoRet", errors)
    if default == "SCMP_ACT_NOTIFY":
        # Same reason as for write: every syscall, write included, would wait for an agent.
        errors.append(ConfigError(f"{path}.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action"))
    arches = seccomp.get("architectures")
    if arches is not None:
        if not isinstance(arches, list):
            errors.append(ConfigError(f"{path}.architectures", "must be a list"))
        else:
            for i, arch in enumerate(arches):
                if arch not in ARCHES:
                    errors.append(ConfigError(f"{path}.architectures[{i}]", f"unknown architecture {arch!r}"))
    flags = seccomp.get("flags")
    if flags is not None:
        if not isinstance(flags, list):
            errors.append(ConfigError(f"{path}.flags", "must be a list"))
        else:
            for i, flag in enumerate(flags):
                if flag not in FLAGS:
                    errors.append(ConfigError(f"{path}.flags[{i}]", f"unknown flag {flag!r}"))
    for key in ("listenerPath", "listenerMetadata"):
        if key in seccomp and not isinstance(seccomp[key], str):
            errors.append(ConfigError(f"{path}.{key}", "must be a string"))
    notify = False
    calls = seccomp.get("syscalls")
    if calls is not None:
        if not isinstance(calls, list):
            errors.append(ConfigError(f"{path}.syscalls", "must be a list"))
        else:
            for i, call in enumerate(calls):
                notify |= _check_syscall(call, f"{path}.syscalls[{i}]", errors) == "SCMP_ACT_NOTIFY"
    if notify and not seccomp.get("listenerPath"):
        errors.append(ConfigError(f"{path}.listenerPath", "required when an action is SCMP_ACT_NOTIFY"))
    return errors
