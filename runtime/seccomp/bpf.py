"""Classic BPF for seccomp: opcodes, argument comparisons, and a tree assembler.

Code is built bottom-up from relative jumps only: every block is a list of
``(code, jt, jf, k)`` tuples whose jumps stay inside the block or fall off
its end, so blocks can be concatenated without a fix-up pass.  Conditional
jumps reach at most 255 instructions (jt/jf are u8, see
Documentation/networking/filter.rst); farther targets go through a ``ja``,
whose offset is 32 bits.
"""

import struct

LD_ABS = 0x20       # BPF_LD | BPF_W | BPF_ABS
AND_K = 0x54        # BPF_ALU | BPF_AND | BPF_K
JA = 0x05           # BPF_JMP | BPF_JA
JEQ = 0x15          # BPF_JMP | BPF_JEQ | BPF_K
JGT = 0x25
JGE = 0x35
JSET = 0x45
RET_K = 0x06        # BPF_RET | BPF_K

MAX_INSNS = 4096    # BPF_MAXINSNS: the kernel refuses longer programs
MAX_JUMP = 255

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
OFF_NR = 0
OFF_ARCH = 4
OFF_ARGS = 16

_INSN = struct.Struct("=HBBI")
INSN_SIZE = _INSN.size


def ret(value):
    return [(RET_K, 0, 0, value)]


def pack(code):
    """struct sock_filter[] in host byte order, as seccomp(2) takes it."""
    flat = [x for insn in code for x in insn]
    return struct.pack("=" + "HBBI" * len(code), *flat)


# --- argument comparisons ------------------------------------------------
# A comparison is emitted with symbolic targets: PASS falls through to the
# next comparison (or the rule's ret), FAIL leaves the rule.  _place()
# turns them into offsets once the rule's length is known.
PASS = "P"
FAIL = "F"


def _arg_off(index, high):
    # Little-endian layout: the low word of args[i] comes first.  All the
    # architectures pyrunc compiles for are little-endian.
    return OFF_ARGS + 8 * index + (4 if high else 0)


def _cmp32(op, off, datum, mask):
    """Compare one 32-bit word: the whole test for 32-bit ABIs, the low half otherwise."""
    ld = (LD_ABS, 0, 0, off)
    if op == "SCMP_CMP_MASKED_EQ":
        return [ld, (AND_K, 0, 0, mask), (JEQ, PASS, FAIL, datum & mask)]
    return [ld, {
        "SCMP_CMP_EQ": (JEQ, PASS, FAIL, datum),
        "SCMP_CMP_NE": (JEQ, FAIL, PASS, datum),
        "SCMP_CMP_GT": (JGT, PASS, FAIL, datum),
        "SCMP_CMP_GE": (JGE, PASS, FAIL, datum),
        "SCMP_CMP_LT": (JGE, FAIL, PASS, datum),
        "SCMP_CMP_LE": (JGT, FAIL, PASS, datum),
    }[op]]


def comparison(index, op, datum, mask, wide):
    """Instructions testing args[index] <op> datum, or [] when the test always holds.

    64-bit values are compared as two 32-bit halves, high half first; a
    datum such as 0xFFFFFFFF stays 0x00000000_FFFFFFFF, never sign-extended.
    """
    lo_off = _arg_off(index, False)
    d_lo, m_lo = datum & 0xFFFFFFFF, mask & 0xFFFFFFFF
    if not wide:
        if op == "SCMP_CMP_MASKED_EQ" and not m_lo:
            return []
        return _cmp32(op, lo_off, d_lo, m_lo)
    hi_off = _arg_off(index, True)
    d_hi, m_hi = datum >> 32, mask >> 32
    if op == "SCMP_CMP_MASKED_EQ":
        code = []
        if m_hi:
            code += [(LD_ABS, 0, 0, hi_off), (AND_K, 0, 0, m_hi), (JEQ, 0, FAIL, d_hi & m_hi)]
        if m_lo:
            code += _cmp32(op, lo_off, d_lo, m_lo)
        return code
    ld_hi = (LD_ABS, 0, 0, hi_off)
    if op == "SCMP_CMP_EQ":
        return [ld_hi, (JEQ, 0, FAIL, d_hi)] + _cmp32(op, lo_off, d_lo, 0)
    if op == "SCMP_CMP_NE":
        return [ld_hi, (JEQ, 0, PASS, d_hi)] + _cmp32(op, lo_off, d_lo, 0)
    if op in ("SCMP_CMP_GT", "SCMP_CMP_GE"):
        # high > datum high: pass; high == datum high: decide on the low half
        return [ld_hi, (JGT, PASS, 0, d_hi), (JEQ, 0, FAIL, d_hi)] + _cmp32(op, lo_off, d_lo, 0)
    # LT, LE: high > datum high: fail; high < datum high: pass
    return [ld_hi, (JGT, FAIL, 0, d_hi), (JEQ, 0, PASS, d_hi)] + _cmp32(op, lo_off, d_lo, 0)


def rule_block(tests, action):
    """All tests must pass to return action; any failure falls off the block's end.

    A rule has at most six tests of at most seven instructions, so every
    jump out of it fits in jt/jf.
    """
    code = [insn for test in tests for insn in _place(test)] + ret(action)
    end = len(code)
    out = []
    for pos, (c, jt, jf, k) in enumerate(code):
        if jt == FAIL:
            jt = end - pos - 1
        if jf == FAIL:
            jf = end - pos - 1
        out.append((c, jt, jf, k))
    return out


def _place(test):
    """Resolve PASS (the end of this test) to offsets; FAIL is left for rule_block."""
    end = len(test)
    placed = []
    for pos, (c, jt, jf, k) in enumerate(test):
        if jt == PASS:
            jt = end - pos - 1
        if jf == PASS:
            jf = end - pos - 1
        placed.append((c, jt, jf, k))
    return placed


# --- number dispatch -----------------------------------------------------

def search_tree(starts, leaves, lo=0, hi=None):
    """Binary search over half-open number ranges on the accumulator.

    ``starts[i]`` is the first number of range i (starts[0] == 0), ``leaves[i]``
    the code for it.  Every leaf ends in a ret, so no leaf falls through.
    """
    if hi is None:
        hi = len(starts) - 1
    if lo == hi:
        return leaves[lo]
    mid = (lo + hi + 1) // 2
    left = search_tree(starts, leaves, lo, mid - 1)
    right = search_tree(starts, leaves, mid, hi)
    if len(left) <= MAX_JUMP:
        return [(JGE, len(left), 0, starts[mid])] + left + right
    return [(JGE, 0, 1, starts[mid]), (JA, 0, 0, len(left))] + left + right
