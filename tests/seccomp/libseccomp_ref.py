"""A small ctypes binding of libseccomp 2.5, used only by the tests and the benchmark.

It plays runc's part: build a filter with libseccomp the way runc's
``libcontainer/seccomp`` does, export the BPF (seccomp_export_bpf to a
memfd) and return it, so that our compiler's output can be compared
action by action.  Nothing in the runtime imports it.
"""

import ctypes
import ctypes.util
import os

_lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)

ARCH_TOKENS = {
    "x86_64": 0xC000003E, "x86": 0x40000003, "x32": 0x4000003E,
    "aarch64": 0xC00000B7, "arm": 0x40000028,
}
SPEC_ARCH = {
    "SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X32": "x32",
    "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_ARM": "arm",
}
OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
       "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
ATTR_ACT_BADARCH = 2
ATTR_CTL_NNP = 4 - 1
ATTR_OPTIMIZE = 8

ENOSYS = 38
EPERM = 1


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def _proto(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


seccomp_init = _proto("seccomp_init", ctypes.c_void_p, ctypes.c_uint32)
seccomp_release = _proto("seccomp_release", None, ctypes.c_void_p)
seccomp_arch_add = _proto("seccomp_arch_add", ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32)
seccomp_arch_remove = _proto("seccomp_arch_remove", ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32)
seccomp_arch_native = _proto("seccomp_arch_native", ctypes.c_uint32)
seccomp_attr_set = _proto("seccomp_attr_set", ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32)
seccomp_attr_get = _proto("seccomp_attr_get", ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                          ctypes.POINTER(ctypes.c_uint32))
seccomp_rule_add_array = _proto("seccomp_rule_add_array", ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32,
                                ctypes.c_int, ctypes.c_uint, ctypes.POINTER(ArgCmp))
seccomp_export_bpf = _proto("seccomp_export_bpf", ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
seccomp_syscall_resolve_name_arch = _proto("seccomp_syscall_resolve_name_arch", ctypes.c_int,
                                           ctypes.c_uint32, ctypes.c_char_p)
seccomp_syscall_resolve_num_arch = _proto("seccomp_syscall_resolve_num_arch", ctypes.c_void_p,
                                          ctypes.c_uint32, ctypes.c_int)
_free = _proto("free", None, ctypes.c_void_p)

NR_SCMP_ERROR = -1
HOST = {v: k for k, v in ARCH_TOKENS.items() if k != "x32"}[seccomp_arch_native()]


def resolve_name(arch, name):
    """The arch's number for name: >= 0 real, < -1 a libseccomp pseudo number, None unknown."""
    nr = seccomp_syscall_resolve_name_arch(ARCH_TOKENS[arch], name.encode())
    return None if nr == NR_SCMP_ERROR else nr


def resolve_num(arch, nr):
    p = seccomp_syscall_resolve_num_arch(ARCH_TOKENS[arch], nr)
    if not p:
        return None
    name = ctypes.string_at(p).decode()
    _free(p)
    return name


def _action(name, errno_ret):
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return 0
    if name == "SCMP_ACT_KILL_PROCESS":
        return 0x80000000
    if name == "SCMP_ACT_TRAP":
        return 0x00030000
    if name == "SCMP_ACT_ERRNO":
        return 0x00050000 | ((EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    if name == "SCMP_ACT_TRACE":
        return 0x7FF00000 | ((EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    if name == "SCMP_ACT_LOG":
        return 0x7FFC0000
    if name == "SCMP_ACT_NOTIFY":
        return 0x7FC00000
    if name == "SCMP_ACT_ALLOW":
        return 0x7FFF0000
    raise ValueError(name)


def _check(rc, what):
    if rc < 0:
        raise OSError(-rc, f"{what}: {os.strerror(-rc)}")
    return rc


def build(seccomp, native="x86_64"):
    """Build the filter as runc 1.1+ does with libseccomp; return (ctx, native arches).

    ``native`` other than the host's arch removes the host arch and adds
    ``native`` instead, so that an aarch64 host can be played on x86_64.
    """
    default = _action(seccomp["defaultAction"], seccomp.get("defaultErrnoRet"))
    ctx = seccomp_init(default)
    if not ctx:
        raise OSError("seccomp_init failed")
    host = seccomp_arch_native()
    if ARCH_TOKENS[native] != host:
        _check(seccomp_arch_add(ctx, ARCH_TOKENS[native]), "seccomp_arch_add")
        _check(seccomp_arch_remove(ctx, host), "seccomp_arch_remove")
    for arch in seccomp.get("architectures") or []:
        rc = seccomp_arch_add(ctx, ARCH_TOKENS[SPEC_ARCH[arch]])
        if rc < 0 and rc != -17:  # EEXIST: the native arch is already there
            _check(rc, "seccomp_arch_add")
    _check(seccomp_attr_set(ctx, ATTR_CTL_NNP, 0), "seccomp_attr_set")
    if len(seccomp.get("syscalls") or []) > 32:
        seccomp_attr_set(ctx, ATTR_OPTIMIZE, 2)
    for call in seccomp.get("syscalls") or []:
        act = _action(call["action"], call.get("errnoRet"))
        if act == default:
            continue
        args = call.get("args") or []
        for name in call["names"]:
            if resolve_name(native, name) is None:
                continue
            # seccomp_rule_add() takes the number on the host's own arch
            # and translates it by name for every arch in the filter.
            nr = resolve_name(HOST, name)
            counts = [0] * 6
            for a in args:
                counts[a["index"]] += 1
            conds = [ArgCmp(a["index"], OPS[a["op"]], a.get("value", 0), a.get("valueTwo", 0))
                     for a in args]
            groups = [[c] for c in conds] if max(counts, default=0) > 1 else [conds]
            for group in groups:
                arr = (ArgCmp * max(len(group), 1))(*group)
                _check(seccomp_rule_add_array(ctx, act, nr, len(group), arr),
                       f"seccomp_rule_add {name}")
    return ctx


def export(ctx):
    fd = os.memfd_create("bpf")
    try:
        _check(seccomp_export_bpf(ctx, fd), "seccomp_export_bpf")
        os.lseek(fd, 0, 0)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def compile_bpf(seccomp, native="x86_64"):
    ctx = build(seccomp, native)
    try:
        return export(ctx)
    finally:
        seccomp_release(ctx)


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


_version = _proto("seccomp_version", ctypes.POINTER(_Version))


def version():
    v = _version().contents
    return f"{v.major}.{v.minor}.{v.micro}"
