"""Test helpers: a classic-BPF interpreter for seccomp programs, and the
conversion of Docker/Podman profile templates into an OCI ``linux.seccomp``."""

import json
import os
import struct

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# --- classic BPF interpreter (only what seccomp allows) -------------------

_INSN = struct.Struct("=HBBI")


def decode(program):
    return [_INSN.unpack_from(program, i) for i in range(0, len(program), 8)]


def seccomp_data(nr, arch, args, ip=0):
    """struct seccomp_data as the kernel lays it out (little-endian host)."""
    return struct.pack("<iIQ6Q", nr - (1 << 32) if nr >= 1 << 31 else nr, arch, ip, *args)


def run(insns, data):
    """Run a decoded program over seccomp_data bytes; return the ret value."""
    a = x = 0
    mem = [0] * 16
    pc = 0
    n = len(insns)
    while pc < n:
        code, jt, jf, k = insns[pc]
        pc += 1
        cls = code & 0x07
        if cls == 0x00:                                  # BPF_LD
            mode = code & 0xE0
            if mode == 0x20:                             # ABS, word
                assert code & 0x18 == 0 and k % 4 == 0 and k + 4 <= len(data), (code, k)
                a = struct.unpack_from("=I", data, k)[0]
            elif mode == 0x00:                           # IMM
                a = k
            elif mode == 0x60:                           # MEM
                a = mem[k]
            elif mode == 0x80:                           # LEN
                a = len(data)
            else:
                raise AssertionError(f"bad ld {code:#x}")
        elif cls == 0x01:                                # BPF_LDX
            x = mem[k] if code & 0xE0 == 0x60 else k
        elif cls == 0x02:
            mem[k] = a
        elif cls == 0x03:
            mem[k] = x
        elif cls == 0x04:                                # BPF_ALU
            op = code & 0xF0
            src = x if code & 0x08 else k
            if op == 0x00:
                a = a + src
            elif op == 0x10:
                a = a - src
            elif op == 0x20:
                a = a * src
            elif op == 0x30:
                a = a // src
            elif op == 0x40:
                a = a | src
            elif op == 0x50:
                a = a & src
            elif op == 0x60:
                a = a << src
            elif op == 0x70:
                a = a >> src
            elif op == 0x80:
                a = -a
            elif op == 0xA0:
                a = a ^ src
            else:
                raise AssertionError(f"bad alu {code:#x}")
            a &= 0xFFFFFFFF
        elif cls == 0x05:                                # BPF_JMP
            op = code & 0xF0
            src = x if code & 0x08 else k
            if op == 0x00:
                pc += k
                continue
            if op == 0x10:
                cond = a == src
            elif op == 0x20:
                cond = a > src
            elif op == 0x30:
                cond = a >= src
            elif op == 0x40:
                cond = bool(a & src)
            else:
                raise AssertionError(f"bad jmp {code:#x}")
            pc += jt if cond else jf
        elif cls == 0x06:                                # BPF_RET
            return a if code & 0x18 == 0x10 else k
        elif cls == 0x07:                                # BPF_MISC
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x
    raise AssertionError("program fell off its end")


# --- profiles -------------------------------------------------------------

# Docker's default capability set (moby oci/caps/defaults.go).
DEFAULT_CAPS = {f"CAP_{c}" for c in (
    "CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP "
    "NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE").split()}
ALL_CAPS = DEFAULT_CAPS | {f"CAP_{c}" for c in (
    "SYS_ADMIN SYS_PTRACE SYS_MODULE SYS_RAWIO SYS_TIME SYS_BOOT SYS_PACCT SYS_NICE "
    "SYS_TTY_CONFIG SYSLOG DAC_READ_SEARCH BPF PERFMON").split()}
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64"}


def load_profile(name):
    with open(os.path.join(DATA, name)) as f:
        return json.load(f)


def profile_to_oci(profile, native="x86_64", caps=DEFAULT_CAPS, kernel=(6, 1)):
    """What Docker/Podman put in config.json for a container with caps on native."""
    spec_arch = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}[native]
    goarch = _GOARCH[native]
    arches = []
    for entry in profile.get("archMap") or ():
        if entry["architecture"] == spec_arch:
            arches = [spec_arch] + list(entry.get("subArchitectures") or ())
    out = {"defaultAction": profile["defaultAction"], "architectures": arches, "syscalls": []}
    if "defaultErrnoRet" in profile:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    for call in profile["syscalls"]:
        inc, exc = call.get("includes") or {}, call.get("excludes") or {}
        if inc.get("arches") and goarch not in inc["arches"]:
            continue
        if inc.get("caps") and not set(inc["caps"]) <= caps:
            continue
        if inc.get("minKernel") and tuple(map(int, inc["minKernel"].split("."))) > kernel:
            continue
        if exc.get("arches") and goarch in exc["arches"]:
            continue
        if exc.get("caps") and set(exc["caps"]) & caps:
            continue
        names = call.get("names") or [call["name"]]
        oci = {"names": names, "action": call["action"]}
        for key in ("errnoRet", "args"):
            if call.get(key) is not None:
                oci[key] = call[key]
        out["syscalls"].append(oci)
    return out


# --- the oracle: libseccomp's program behind runc's -ENOSYS stub ----------

AUDIT = {"x86_64": 0xC000003E, "x32": 0xC000003E, "x86": 0x40000003,
         "aarch64": 0xC00000B7, "arm": 0x40000028}
_STUB_FREE = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE")


class Reference:
    """Decide like runc 1.1+: its patchbpf stub first, then libseccomp's filter."""

    def __init__(self, oci, native="x86_64"):
        from . import libseccomp_ref as ref
        self.insns = decode(ref.compile_bpf(oci, native))
        self.largest = {}
        if oci["defaultAction"] in _STUB_FREE:
            return
        arches = {ref.SPEC_ARCH[a] for a in oci.get("architectures") or () if a in ref.SPEC_ARCH}
        arches.add(native)
        for arch in arches:
            nrs = [ref.resolve_name(arch, n) for call in oci.get("syscalls") or () for n in call["names"]]
            top = max([nr for nr in nrs if nr is not None and nr >= 0], default=0)
            if top:
                self.largest.setdefault(AUDIT[arch], {})[arch] = top

    def stub(self, nr, arch):
        modes = self.largest.get(arch)
        if not modes:
            return None
        if arch == AUDIT["x86_64"]:
            mode = "x32" if nr & 0x40000000 else "x86_64"
            if mode not in modes:
                return None
            top = modes[mode]
        else:
            (top,) = modes.values()
        return 0x50000 | 38 if nr > top else None

    def __call__(self, data):
        nr, arch = struct.unpack_from("=II", data)
        verdict = self.stub(nr, arch)
        return run(self.insns, data) if verdict is None else verdict
