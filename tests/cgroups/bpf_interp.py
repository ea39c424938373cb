"""A small eBPF interpreter for the instruction subset a device filter may use.

Independent of the generator: it decodes raw struct bpf_insn bytes and executes them
against a struct bpf_cgroup_dev_ctx, refusing anything the kernel's verifier would
(backward jumps, jumps out of range, falling off the end, unknown opcodes).
"""

import struct
import sys

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1

_ALU = {0x00: lambda a, b: a + b, 0x10: lambda a, b: a - b, 0x40: lambda a, b: a | b,
        0x50: lambda a, b: a & b, 0x60: lambda a, b: a << b, 0x70: lambda a, b: a >> b,
        0xB0: lambda a, b: b}
_JMP = {0x10: lambda a, b: a == b, 0x50: lambda a, b: a != b, 0x20: lambda a, b: a > b,
        0x30: lambda a, b: a >= b, 0x40: lambda a, b: a & b != 0}


def decode(prog):
    assert len(prog) % 8 == 0, "program length is not a multiple of 8"
    out = []
    for i in range(0, len(prog), 8):
        code, regs, off, imm = struct.unpack_from("=BBhi", prog, i)
        dst, src = (regs & 0xF, regs >> 4) if sys.byteorder == "little" else (regs >> 4, regs & 0xF)
        out.append((code, dst, src, off, imm))
    return out


def run(prog, dev_type, major, minor, access):
    """Execute PROG for one request; returns r0 (1 allows)."""
    ctx = struct.pack("=III", (access << 16) | dev_type, major, minor)
    insns = decode(prog)
    reg = [0] * 11
    reg[1] = "ctx"
    pc = 0
    steps = 0
    while True:
        assert 0 <= pc < len(insns), f"pc {pc} out of range"
        steps += 1
        assert steps <= 4096
        code, dst, src, off, imm = insns[pc]
        cls = code & 0x07
        if code == 0x95:
            return reg[0]
        if cls == 0x01:  # LDX
            assert code == 0x61 and reg[src] == "ctx", f"bad load at {pc}"
            assert 0 <= off <= len(ctx) - 4 and off % 4 == 0
            reg[dst] = struct.unpack_from("=I", ctx, off)[0]
        elif cls in (0x04, 0x07):  # ALU32, ALU64
            op, use_reg = code & 0xF0, code & 0x08
            assert op in _ALU, f"unknown alu op {code:#x}"
            b = reg[src] if use_reg else (imm & (M32 if cls == 0x04 else M64))
            if cls == 0x04:
                reg[dst] = _ALU[op](reg[dst] & M32 if op != 0xB0 else 0, b & M32) & M32
            else:
                reg[dst] = _ALU[op](reg[dst] if op != 0xB0 else 0, b) & M64
        elif cls == 0x05:  # JMP
            op, use_reg = code & 0xF0, code & 0x08
            if op == 0x00:
                taken = True
            else:
                assert op in _JMP, f"unknown jump {code:#x}"
                b = reg[src] if use_reg else imm & M64
                taken = _JMP[op](reg[dst], b)
            assert off >= 0, "backward jump"
            if taken:
                pc += off
        else:
            raise AssertionError(f"unsupported opcode {code:#x} at {pc}")
        pc += 1
