"""Pure tests: device rule reduction, v1 rule text, and the v2 BPF program (interpreted)."""

import itertools
import struct

import pytest

from pyrunc.cgroups import CgroupError
from pyrunc.cgroups.devices import WILDCARD, Rule, parse_rules, reduce, rule_text
from pyrunc.cgroups.v2 import devprog

import bpf_interp

DENY_ALL = {"allow": False, "access": "rwm"}
ACCESS = {"m": 1, "r": 2, "w": 4}


def oracle(state, dev_type, major, minor, access):
    """The v1 devices controller's decision for a reduced state, written independently."""
    req = sum(ACCESS[c] for c in access)
    for rule in state.rules():
        if rule.type != dev_type:
            continue
        if rule.major not in (WILDCARD, major) or rule.minor not in (WILDCARD, minor):
            continue
        have = sum(ACCESS[c] for c in rule.access)
        if state.default_allow and req & have:
            return 0
        if not state.default_allow and req & ~have == 0:
            return 1
    return 1 if state.default_allow else 0


CONFIGS = [
    [],
    [DENY_ALL],
    [DENY_ALL, {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rw"}],
    [DENY_ALL, {"allow": True, "type": "b", "major": 8, "access": "r"}],
    [{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"},
     {"allow": False, "type": "b", "access": "rw"}],
    [DENY_ALL, {"allow": True, "type": "c", "major": 4, "minor": 1, "access": "rwm"},
     {"allow": False, "type": "c", "major": 4, "minor": 1, "access": "w"}],
]


def test_default_devices_are_always_allowed_even_after_deny_all():
    state = reduce([DENY_ALL, {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "rwm"}])
    assert state.default_allow is False
    lines = {rule_text(r) for r in state.rules()}
    for need in ("c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
                 "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c *:* m", "b *:* m"):
        assert need in lines


def test_reduction_follows_v1_semantics():
    state = reduce(CONFIGS[5])
    assert state.exceptions[("c", 4, 1)] == "rm"
    state = reduce([{"allow": True, "access": "rwm"}])
    assert state.default_allow is True and state.exceptions == {}  # defaults match the default
    state = reduce([DENY_ALL, {"allow": True, "type": "a", "access": "rwm"}])
    assert state.default_allow is True


def test_parse_rules_validates():
    assert parse_rules([{"allow": True, "type": "u", "major": 1, "minor": None, "access": "wr"}]) == \
        [Rule(True, "c", 1, WILDCARD, "rw")]
    for bad, field in (({"allow": "yes"}, "allow"), ({"allow": True, "type": "x"}, "type"),
                       ({"allow": True, "access": "rwx"}, "access"),
                       ({"allow": True, "type": "c", "major": -5}, "major")):
        with pytest.raises(CgroupError, match=rf"devices\[0\]\.{field}"):
            parse_rules([bad])


@pytest.mark.parametrize("config", range(len(CONFIGS)))
def test_program_matches_the_v1_decision_everywhere(config):
    state = reduce(CONFIGS[config])
    prog = devprog.generate(state)
    majors = {1, 4, 5, 8, 10, 136, 253}
    minors = {0, 1, 2, 3, 5, 9, 200}
    accesses = ["".join(c) for n in (1, 2, 3) for c in itertools.combinations("rwm", n)]
    checked = 0
    for t, ma, mi, acc in itertools.product("bc", majors, minors, accesses):
        want = oracle(state, t, ma, mi, acc)
        got = bpf_interp.run(prog, {"b": 1, "c": 2}[t], ma, mi, sum(ACCESS[c] for c in acc))
        assert got == want, (t, ma, mi, acc)
        checked += 1
    assert checked == 2 * 7 * 7 * 7


def test_program_examples():
    prog = devprog.generate(reduce([DENY_ALL]))
    run = lambda t, ma, mi, acc: bpf_interp.run(prog, t, ma, mi, acc)
    assert run(2, 1, 3, 2 | 4) == 1          # read+write /dev/null
    assert run(2, 1, 1, 2) == 0              # /dev/mem
    assert run(2, 136, 7, 2 | 4) == 1        # /dev/pts/7
    assert run(1, 8, 0, 2) == 0              # read /dev/sda
    assert run(1, 8, 0, 1) == 1              # mknod /dev/sda
    assert run(1, 8, 0, 1 | 2) == 0          # mknod+read needs both granted


def test_program_bytes_for_the_empty_deny_state():
    from pyrunc.cgroups.devices import DeviceState
    prog = devprog.generate(DeviceState())
    insns = bpf_interp.decode(prog)
    assert len(insns) == 8
    assert insns[0] == (0x61, 2, 1, 0, 0)          # r2 = *(u32 *)(r1 + 0)
    assert insns[1] == (0x54, 2, 0, 0, 0xFFFF)     # w2 &= 0xffff
    assert insns[3] == (0x74, 3, 0, 0, 16)         # w3 >>= 16
    assert insns[4] == (0x61, 4, 1, 4, 0) and insns[5] == (0x61, 5, 1, 8, 0)
    assert insns[6] == (0xB7, 0, 0, 0, 0) and insns[7] == (0x95, 0, 0, 0, 0)


def test_program_bytes_for_one_exception():
    from pyrunc.cgroups.devices import DeviceState
    state = DeviceState()
    state.apply(Rule(True, "c", 1, 3, "rw"))
    block = devprog.generate(state)[6 * 8:-2 * 8]
    expected = b"".join([
        struct.pack("<BBhi", 0x55, 0x02, 7, 2),    # if r2 != CHAR goto next (+7)
        struct.pack("<BBhi", 0xBC, 0x31, 0, 0),    # w1 = w3
        struct.pack("<BBhi", 0x54, 0x01, 0, 6),    # w1 &= rw
        struct.pack("<BBhi", 0x5D, 0x31, 4, 0),    # if r1 != r3 goto next
        struct.pack("<BBhi", 0x55, 0x04, 3, 1),    # if r4 != 1 goto next
        struct.pack("<BBhi", 0x55, 0x05, 2, 3),    # if r5 != 3 goto next
        struct.pack("<BBhi", 0xB7, 0x00, 0, 1),    # r0 = 1
        struct.pack("<BBhi", 0x95, 0x00, 0, 0),    # exit
    ])
    assert block == expected


def test_interpreter_refuses_bad_programs():
    bad_jump = devprog.insn(0x05, off=-1)
    with pytest.raises(AssertionError):
        bpf_interp.run(bad_jump + devprog.insn(0x95), 2, 1, 3, 2)
    with pytest.raises(AssertionError):
        bpf_interp.run(devprog.insn(0xB7, 0, 0, 0, 1), 2, 1, 3, 2)  # falls off the end
