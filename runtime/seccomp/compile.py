"""Compile ``linux.seccomp`` into a classic BPF program, in the parent, before fork.

The filter decides as libseccomp 2.5 does when runc drives it
(libcontainer/seccomp/seccomp_linux.go), so that a profile means the same
under pyrunc and runc:

* rules whose action equals the default are dropped; names libseccomp does
  not know are skipped; a rule whose arguments repeat an index becomes one
  rule per argument (ORed), otherwise its arguments are ANDed;
* per syscall, an unconditional rule wins over conditional ones, and the
  first unconditional rule wins over later ones (libseccomp db_rule_add);
* the architecture is checked first, a foreign one gets KILL_THREAD
  (libseccomp's default bad-arch action); on x86_64 an x32 number
  (0x40000000 set) is a foreign ABI unless SCMP_ARCH_X32 is listed, except
  nr -1, which tracers use to skip a syscall (seccomp(2));
* on x86 the socket and SysV IPC calls also match their socketcall(2) and
  ipc(2) multiplexer with the sub-call number in args[0];
* runc's -ENOSYS stub (libcontainer/seccomp/patchbpf): unless the default
  action is ALLOW, LOG or TRACE, a syscall numbered above every syscall the
  profile names gets ENOSYS, so that programs fall back from syscalls newer
  than the profile instead of seeing EPERM or being killed.

The program checks the arch, then finds the syscall by binary search over
ranges of numbers with the same outcome, then tests arguments.
"""

import importlib
import os

from pyrunc.errors import ConfigError
from pyrunc.seccomp import bpf, rules

AUDIT_ARCH = {  # linux/audit.h
    "x86_64": 0xC000003E, "x32": 0xC000003E, "x86": 0x40000003,
    "aarch64": 0xC00000B7, "arm": 0x40000028,
}
# x32 has 32-bit longs: libseccomp compares only the low halves there, as for x86 and arm.
WIDE = {"x86_64": True, "x32": False, "aarch64": True, "x86": False, "arm": False}
# ABIs the native kernel runs (CONFIG_IA32_EMULATION, CONFIG_X86_X32_ABI, CONFIG_COMPAT).
RUNNABLE = {"x86_64": ("x86_64", "x86", "x32"), "aarch64": ("aarch64", "arm")}
MACHINE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}

X32_BIT = 0x40000000
U32_MAX = 0xFFFFFFFF
ENOSYS = 38

# x86 multiplexers (linux/net.h SYS_*, linux/ipc.h): name -> (multiplexer nr, sub-call)
_SOCKETCALL = ("socket bind connect listen accept getsockname getpeername socketpair send recv "
               "sendto recvfrom shutdown setsockopt getsockopt sendmsg recvmsg accept4 recvmmsg "
               "sendmmsg").split()
_IPC = {"semop": 1, "semget": 2, "semctl": 3, "semtimedop": 4, "msgsnd": 11, "msgrcv": 12,
        "msgget": 13, "msgctl": 14, "shmat": 21, "shmdt": 22, "shmget": 23, "shmctl": 24}
X86_MUX = {name: (102, i + 1) for i, name in enumerate(_SOCKETCALL)}
X86_MUX.update({name: (117, sub) for name, sub in _IPC.items()})

_tables = {}


def table(arch):
    if arch not in _tables:
        _tables[arch] = importlib.import_module(f"pyrunc.seccomp.tables.{arch}").SYSCALLS
    return _tables[arch]


class Filter:
    """A compiled filter: what the container's init hands to linux.seccomp.load()."""

    __slots__ = ("program", "flags", "listener")

    def __init__(self, program, flags, listener):
        self.program = program      # struct sock_filter[], host byte order
        self.flags = flags          # SECCOMP_FILTER_FLAG_* for seccomp(2)
        self.listener = listener    # NEW_LISTENER: load() returns the notify fd

    def __len__(self):
        return len(self.program) // bpf.INSN_SIZE

    def __repr__(self):
        return f"Filter({len(self)} instructions, flags={self.flags:#x}, listener={self.listener})"


class _Abi:
    """The rules of one ABI: per syscall number, an unconditional action or
    conditional rules [(action, [test, ...])], ORed in order."""

    __slots__ = ("arch", "table", "wide", "always", "conditional", "largest")

    def __init__(self, arch):
        self.arch = arch
        self.table = table(arch)
        self.wide = WIDE[arch]
        self.always = {}
        self.conditional = {}
        self.largest = 0

    def add(self, nr, action, tests):
        # libseccomp db_rule_add: an unconditional rule replaces the
        # conditional ones; once there, it absorbs every later rule.
        if nr in self.always:
            return
        if tests:
            self.conditional.setdefault(nr, []).append((action, tests))
        else:
            self.always[nr] = action
            self.conditional.pop(nr, None)


def native_arch(machine=None):
    """pyrunc's name for the native arch (uname's machine by default)."""
    machine = machine or os.uname().machine
    arch = MACHINE.get(machine)
    if arch is None:
        raise ConfigError("linux.seccomp", f"pyrunc has no syscall table for this machine ({machine})")
    return arch


def _conditions(args):
    """runc's grouping: a repeated index makes every comparison its own rule."""
    conds = [(a["index"], a["op"], a["value"], a.get("valueTwo", 0)) for a in args or ()]
    indexes = [c[0] for c in conds]
    if len(set(indexes)) < len(indexes):
        return [[c] for c in conds]
    return [conds]


def _tests(conds, wide):
    tests = []
    for index, op, value, value_two in conds:
        # MASKED_EQ: value is the mask, valueTwo the datum (libseccomp's datum_a/datum_b)
        if op == "SCMP_CMP_MASKED_EQ":
            test = bpf.comparison(index, op, value_two, value, wide)
            if not test:
                continue        # a zero mask always matches
        else:
            test = bpf.comparison(index, op, value, 0, wide)
        tests.append(test)
    return tests


def _add_call(abi, names, action, groups):
    """Add one ``syscalls[]`` entry to an ABI; track runc's largest number.

    A name absent from the ABI's table is skipped, as runc skips names
    libseccomp cannot resolve.  libseccomp resolves x86's multiplexed calls
    to pseudo numbers, so runc's largest number never counts their direct
    numbers; neither does this.
    """
    nrs = abi.table
    mux = X86_MUX if abi.arch == "x86" else {}
    if action is None:            # same as the default: only the largest number counts
        for name in names:
            nr = nrs.get(name)
            if nr is not None and nr > abi.largest and name not in mux:
                abi.largest = nr
        return
    if groups == [[]]:
        # The common case (a long list of names, no arguments), inlined.
        always, conditional, largest = abi.always, abi.conditional, abi.largest
        for name in names:
            nr = nrs.get(name)
            if mux and name in mux:
                mux_nr, sub = mux[name]
                abi.add(mux_nr, action, _tests([(0, "SCMP_CMP_EQ", sub, 0)], False))
            elif nr is not None and nr > largest:
                largest = nr
            if nr is None:
                continue
            if nr not in always:
                always[nr] = action
                if conditional:
                    conditional.pop(nr, None)
        abi.largest = largest
        return
    tests = [_tests(conds, abi.wide) for conds in groups]
    for name in names:
        nr = nrs.get(name)
        if name in mux:
            mux_nr, sub = mux[name]
            for conds in groups:
                merged = [(0, "SCMP_CMP_EQ", sub, 0)] + [c for c in conds if c[0] != 0]
                abi.add(mux_nr, action, _tests(merged, abi.wide))
        elif nr is not None and nr > abi.largest:
            abi.largest = nr
        if nr is not None:
            for t in tests:
                abi.add(nr, action, t)


def _enosys_ranges(abis):
    """Number ranges that get ENOSYS before the filter proper, per runc's stub."""
    out = []
    for abi in abis:
        top = abi.largest
        if not top:
            continue
        if AUDIT_ARCH[abi.arch] != AUDIT_ARCH["x86_64"]:
            out.append((top + 1, U32_MAX))
        elif abi.arch == "x86_64":   # numbers without the x32 bit
            out += [(top + 1, X32_BIT - 1), (max(top + 1, 0x80000000), 0xBFFFFFFF)]
        else:                        # x32: numbers with the bit
            out += [(top + 1, 0x7FFFFFFF), (max(top + 1, 0xC0000000), U32_MAX)]
    return [(lo, hi) for lo, hi in out if lo <= hi]


def _abi_ranges(modes, badarch):
    """x86_64 and x32 share AUDIT_ARCH_X86_64 and differ by bit 30 of nr."""
    if AUDIT_ARCH[modes[0]] != AUDIT_ARCH["x86_64"] or len(modes) == 2:
        return []
    if modes == ["x86_64"]:
        return [(X32_BIT, U32_MAX - 1, badarch)]
    return [(0, X32_BIT - 1, badarch)]


def _background(fixed):
    """Cover 0..U32_MAX with the fixed ranges (first listed wins) and None
    (the filter proper) in between: [(lo, hi, value or None)], sorted."""
    cuts = sorted({0} | {lo for lo, _, _ in fixed} | {hi + 1 for _, hi, _ in fixed if hi < U32_MAX})
    out = []
    for i, lo in enumerate(cuts):
        hi = cuts[i + 1] - 1 if i + 1 < len(cuts) else U32_MAX
        value = next((v for flo, fhi, v in fixed if flo <= lo <= fhi), None)
        if out and out[-1][2] == value:
            out[-1] = (out[-1][0], hi, value)
        else:
            out.append((lo, hi, value))
    return out


def _arch_block(abis, default, badarch, stub):
    """Code for one AUDIT_ARCH value: nr dispatch, then argument tests."""
    always, conditional = {}, {}
    for abi in abis:
        always.update(abi.always)
        conditional.update(abi.conditional)
    enosys = rules.action_value("SCMP_ACT_ERRNO", ENOSYS)
    fixed = [(lo, hi, enosys) for lo, hi in (_enosys_ranges(abis) if stub else ())]
    fixed += _abi_ranges([abi.arch for abi in abis], badarch)
    nrs = sorted(always.keys() | conditional.keys())
    starts, leaves = [], []
    last = None

    def emit(start, outcome):
        nonlocal last
        if type(outcome) is int:
            if outcome == last:
                return            # same return as the range before: one range
            leaves.append(bpf.ret(outcome))
        else:
            leaves.append(_syscall_code(outcome, default))
        starts.append(start)
        last = outcome if type(outcome) is int else None

    j, count = 0, len(nrs)
    for lo, hi, value in _background(fixed):
        if value is not None:
            emit(lo, value)
            continue
        pos = lo
        while j < count and nrs[j] <= hi:
            nr = nrs[j]
            j += 1
            if nr < lo:
                continue          # inside a fixed range: the stub or ABI check wins
            if nr > pos:
                emit(pos, default)
            emit(nr, always[nr] if nr in always else conditional[nr])
            pos = nr + 1
        if pos <= hi:
            emit(pos, default)
    return [(bpf.LD_ABS, 0, 0, bpf.OFF_NR)] + bpf.search_tree(starts, leaves)


def _syscall_code(conditional, default):
    code = []
    for action, tests in conditional:
        code += bpf.rule_block(tests, action)
    return code + bpf.ret(default)


def compile_filter(seccomp, arch=None):
    """Compile a validated ``linux.seccomp`` object for the native kernel.

    ``arch`` names the native architecture (uname's machine by default);
    the filter covers it and the listed ABIs it can run.  Raises ConfigError
    for a section check_seccomp() rejects.
    """
    errors = rules.check_seccomp(seccomp)
    if errors:
        raise errors[0]
    native = native_arch(arch)
    listed = [rules.ARCHES[a] for a in seccomp.get("architectures") or ()]
    arches = [native] + [a for a in dict.fromkeys(listed) if a in RUNNABLE[native] and a != native]
    default = rules.action_value(seccomp["defaultAction"], seccomp.get("defaultErrnoRet"))
    badarch = rules.RET_KILL_THREAD

    abis = [_Abi(a) for a in arches]
    notify = False
    for call in seccomp.get("syscalls") or ():
        action = rules.action_value(call["action"], call.get("errnoRet"))
        notify |= call["action"] == "SCMP_ACT_NOTIFY"
        if action == default:
            action = None         # runc skips the rule; libseccomp would refuse it
        groups = _conditions(call.get("args"))
        for abi in abis:
            _add_call(abi, call["names"], action, groups)

    stub = seccomp["defaultAction"] not in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE")
    by_token = {}
    for abi in abis:
        by_token.setdefault(AUDIT_ARCH[abi.arch], []).append(abi)
    blocks = []
    for token, group in by_token.items():
        group.sort(key=lambda abi: abi.arch != "x86_64")
        blocks.append((token, _arch_block(group, default, badarch, stub)))

    # ld arch; per arch: jeq token -> ja block; fall through: bad arch
    code = [(bpf.LD_ABS, 0, 0, bpf.OFF_ARCH)]
    before = 0
    for i, (token, block) in enumerate(blocks):
        ahead = 2 * (len(blocks) - i - 1) + 1    # the dispatch still ahead, and the bad-arch ret
        code += [(bpf.JEQ, 0, 1, token), (bpf.JA, 0, 0, ahead + before)]
        before += len(block)
    code += bpf.ret(badarch)
    for _, block in blocks:
        code += block
    if len(code) > bpf.MAX_INSNS:
        raise ConfigError("linux.seccomp", f"filter needs {len(code)} instructions, "
                          f"more than the kernel's {bpf.MAX_INSNS}")

    flags = 0
    for flag in seccomp.get("flags") or ():
        flags |= rules.FLAGS[flag]
    if notify:
        flags |= rules.FLAG_NEW_LISTENER
        if flags & rules.FLAG_TSYNC:
            # TSYNC and NEW_LISTENER together need TSYNC_ESRCH (seccomp(2), Linux 5.7)
            flags |= rules.FLAG_TSYNC_ESRCH
    else:
        # WAIT_KILLABLE_RECV only qualifies a listener; without one the kernel says EINVAL.
        flags &= ~rules.FLAG_WAIT_KILLABLE_RECV
    return Filter(bpf.pack(code), flags, notify)
