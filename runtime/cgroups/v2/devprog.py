"""The cgroup v2 device filter: a BPF_PROG_TYPE_CGROUP_DEVICE program built from rules.

Pure: rules in, instruction bytes out; bpf(2) loading lives in pyrunc.linux.bpf.

The kernel calls the program with a struct bpf_cgroup_dev_ctx (include/uapi/linux/bpf.h):
    u32 access_type   low 16 bits: BPF_DEVCG_DEV_BLOCK (1) or _CHAR (2);
                      high 16 bits: BPF_DEVCG_ACC_MKNOD (1) | _READ (2) | _WRITE (4)
    u32 major, u32 minor
and allows the access when it returns 1.

The reduced rule set (pyrunc.cgroups.devices) is a default verdict plus exceptions of
the opposite verdict; the program checks each exception in turn and falls through to
the default. Matching follows the v1 controller, so both drivers agree: on a
deny-by-default list an exception must grant every requested access bit; on an
allow-by-default list an exception denies when it covers any requested bit.

    r2 = ctx->access_type & 0xffff        device type
    r3 = ctx->access_type >> 16           requested access
    r4 = ctx->major, r5 = ctx->minor
    per exception:  type/access/major/minor tests jump to the next block on mismatch,
                    else r0 = verdict; exit
    r0 = default; exit
"""

import struct
import sys

from ..devices import WILDCARD

DEV_BLOCK, DEV_CHAR = 1, 2
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4
_TYPES = {"b": DEV_BLOCK, "c": DEV_CHAR}
_ACCESS = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}

# Opcodes (include/uapi/linux/bpf_common.h, bpf.h): class | op | source.
LDX_MEM_W = 0x61      # BPF_LDX | BPF_MEM | BPF_W
ALU32_AND_K = 0x54    # BPF_ALU | BPF_AND | BPF_K
ALU32_RSH_K = 0x74    # BPF_ALU | BPF_RSH | BPF_K
ALU32_MOV_X = 0xBC    # BPF_ALU | BPF_MOV | BPF_X
ALU64_MOV_K = 0xB7    # BPF_ALU64 | BPF_MOV | BPF_K
JNE_K = 0x55          # BPF_JMP | BPF_JNE | BPF_K
JNE_X = 0x5D          # BPF_JMP | BPF_JNE | BPF_X
JEQ_K = 0x15          # BPF_JMP | BPF_JEQ | BPF_K
EXIT = 0x95           # BPF_JMP | BPF_EXIT

R0, R1, R2, R3, R4, R5 = range(6)


def insn(code, dst=0, src=0, off=0, imm=0):
    """One struct bpf_insn; the register nibbles follow the host's bitfield order."""
    regs = (src << 4 | dst) if sys.byteorder == "little" else (dst << 4 | src)
    return struct.pack("=BBhi", code, regs, off, imm)


def access_mask(access):
    mask = 0
    for ch in access:
        mask |= _ACCESS[ch]
    return mask


def _block(rule, default_allow):
    """Instructions for one exception, jumping past its own end on any mismatch."""
    tests = [(JNE_K, R2, 0, _TYPES[rule.type])]
    mask = access_mask(rule.access)
    if default_allow:
        # Deny when any requested bit is covered: skip when (req & mask) == 0.
        tests.append(("and", mask))
    elif mask != 7:
        # Allow only when every requested bit is granted: skip when (req & mask) != req.
        tests.append(("subset", mask))
    if rule.major != WILDCARD:
        tests.append((JNE_K, R4, 0, rule.major))
    if rule.minor != WILDCARD:
        tests.append((JNE_K, R5, 0, rule.minor))
    body = []
    for t in tests:
        if t[0] == "and":
            body += [(ALU32_MOV_X, R1, R3, 0), (ALU32_AND_K, R1, 0, t[1]), (JEQ_K, R1, 0, 0, "next")]
        elif t[0] == "subset":
            body += [(ALU32_MOV_X, R1, R3, 0), (ALU32_AND_K, R1, 0, t[1]), (JNE_X, R1, R3, 0, "next")]
        else:
            body.append((t[0], t[1], t[2], t[3], "next"))
    body += [(ALU64_MOV_K, R0, 0, 0 if default_allow else 1), (EXIT, 0, 0, 0)]
    out = []
    for i, ins in enumerate(body):
        code, dst, src, imm = ins[:4]
        off = len(body) - i - 1 if len(ins) == 5 else 0
        out.append(insn(code, dst, src, off, imm))
    return out


def generate(state):
    """Instruction bytes for a DeviceState (default verdict plus exceptions)."""
    prog = [
        insn(LDX_MEM_W, R2, R1, 0),
        insn(ALU32_AND_K, R2, 0, 0, 0xFFFF),
        insn(LDX_MEM_W, R3, R1, 0),
        insn(ALU32_RSH_K, R3, 0, 0, 16),
        insn(LDX_MEM_W, R4, R1, 4),
        insn(LDX_MEM_W, R5, R1, 8),
    ]
    for rule in state.rules():
        prog += _block(rule, state.default_allow)
    prog += [insn(ALU64_MOV_K, R0, 0, 0, 1 if state.default_allow else 0), insn(EXIT)]
    return b"".join(prog)
