"""Compiler behaviour that the differential tests do not pin down by themselves."""

import random

import pytest

from pyrunc.errors import ConfigError
from pyrunc.seccomp import bpf, rules
from pyrunc.seccomp.compile import compile_filter, native_arch, table

from . import helpers
from .test_differential import _compare

X86_64, X86, AARCH64 = helpers.AUDIT["x86_64"], helpers.AUDIT["x86"], helpers.AUDIT["aarch64"]
ALLOW, KILL = rules.RET_ALLOW, rules.RET_KILL_THREAD


def verdict(filt, nr, arch=X86_64, args=(0,) * 6):
    return helpers.run(helpers.decode(filt.program), helpers.seccomp_data(nr, arch, list(args)))


def prof(default="SCMP_ACT_ERRNO", arches=("SCMP_ARCH_X86_64",), **kw):
    d = {"defaultAction": default, "architectures": list(arches),
         "syscalls": [{"names": ["read", "write", "close"], "action": "SCMP_ACT_ALLOW"}]}
    d.update(kw)
    return d


def test_allow_and_default():
    f = compile_filter(prof(), "x86_64")
    assert verdict(f, 0) == ALLOW and verdict(f, 1) == ALLOW
    assert verdict(f, 2) == rules.RET_ERRNO | 1          # EPERM when defaultErrnoRet is absent
    assert verdict(f, 4) == rules.RET_ERRNO | 38         # above every listed syscall: ENOSYS
    assert len(f) == len(f.program) // 8 and f.flags == 0 and not f.listener


def test_unknown_names_are_skipped():
    with_unknown = prof()
    with_unknown["syscalls"][0]["names"].append("no_such_syscall")
    assert compile_filter(with_unknown, "x86_64").program == compile_filter(prof(), "x86_64").program


def test_rule_with_default_action_is_dropped_but_counts_for_enosys():
    p = prof(syscalls=[{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                       {"names": ["pidfd_open"], "action": "SCMP_ACT_ERRNO"}])
    f = compile_filter(p, "x86_64")
    pidfd_open = table("x86_64")["pidfd_open"]
    assert verdict(f, pidfd_open) == rules.RET_ERRNO | 1
    assert verdict(f, pidfd_open + 1) == rules.RET_ERRNO | 38


@pytest.mark.parametrize("default", ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"])
def test_no_enosys_stub_for_permissive_defaults(default):
    p = prof(default=default, syscalls=[{"names": ["read"], "action": "SCMP_ACT_KILL"}])
    f = compile_filter(p, "x86_64")
    assert verdict(f, 1000) == rules.action_value(default, None)


def test_foreign_and_unlisted_arches_are_killed():
    f = compile_filter(prof(arches=("SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64")), "x86_64")
    assert verdict(f, 0, AARCH64) == KILL      # not runnable on x86_64: left out, bad arch
    assert verdict(f, 3, X86) == KILL          # x86 not listed
    assert verdict(f, 0, 0x12345678) == KILL


def test_x32_numbers_on_x86_64():
    only64 = compile_filter(prof(), "x86_64")
    assert verdict(only64, 0x40000000) == KILL              # x32 read without SCMP_ARCH_X32
    assert verdict(only64, 0xFFFFFFFF) == rules.RET_ERRNO | 1  # -1: the default, never the kill
    with32 = compile_filter(prof(arches=("SCMP_ARCH_X86_64", "SCMP_ARCH_X32")), "x86_64")
    assert verdict(with32, 0x40000000) == ALLOW
    assert verdict(with32, 0x40000002) == rules.RET_ERRNO | 1


def test_x86_socketcall_multiplexer():
    p = prof(arches=("SCMP_ARCH_X86_64", "SCMP_ARCH_X86"),
             syscalls=[{"names": ["socket"], "action": "SCMP_ACT_ALLOW"}])
    f = compile_filter(p, "x86_64")
    assert verdict(f, table("x86")["socket"], X86) == ALLOW
    assert verdict(f, 102, X86, (1, 0, 0, 0, 0, 0)) == ALLOW        # socketcall(SYS_SOCKET, ...)
    assert verdict(f, 102, X86, (2, 0, 0, 0, 0, 0)) == rules.RET_ERRNO | 1


def test_repeated_index_ors_the_comparisons():
    p = prof(default="SCMP_ACT_ALLOW", syscalls=[{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 1},
                      {"index": 0, "op": "SCMP_CMP_EQ", "value": 2}]}])
    f = compile_filter(p, "x86_64")
    nr = table("x86_64")["personality"]
    assert [verdict(f, nr, args=(a, 0, 0, 0, 0, 0)) == ALLOW for a in (1, 2, 3)] == [False, False, True]


def test_unconditional_rule_wins_over_conditional():
    cond = {"names": ["read"], "action": "SCMP_ACT_TRAP", "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 0}]}
    for order in ([cond, {"names": ["read"], "action": "SCMP_ACT_LOG"}],
                  [{"names": ["read"], "action": "SCMP_ACT_LOG"}, cond]):
        f = compile_filter(prof(syscalls=order), "x86_64")
        assert verdict(f, 0) == rules.RET_LOG


def test_flags():
    notify = {"names": ["read"], "action": "SCMP_ACT_NOTIFY"}
    f = compile_filter(prof(flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]), "x86_64")
    assert f.flags == 0                                    # meaningless without a listener
    f = compile_filter(prof(syscalls=[notify], listenerPath="/a", flags=["SECCOMP_FILTER_FLAG_TSYNC"]),
                       "x86_64")
    assert f.listener and f.flags == rules.FLAG_NEW_LISTENER | rules.FLAG_TSYNC | rules.FLAG_TSYNC_ESRCH
    assert verdict(f, 0) == rules.RET_USER_NOTIF


def test_invalid_config_raises_config_error():
    with pytest.raises(ConfigError) as exc:
        compile_filter(prof(default="SCMP_ACT_NONE"), "x86_64")
    assert exc.value.path == "linux.seccomp.defaultAction"


def test_unsupported_native_arch():
    with pytest.raises(ConfigError, match="ppc64le"):
        compile_filter(prof(), "ppc64le")
    assert native_arch("amd64") == "x86_64" and native_arch("arm64") == "aarch64"
    assert native_arch() in ("x86_64", "aarch64")


def test_too_many_instructions():
    names = sorted(table("x86_64"))[:300]
    args = [{"index": i, "op": "SCMP_CMP_EQ", "value": i} for i in range(6)]
    p = prof(syscalls=[{"names": [n], "action": "SCMP_ACT_ALLOW", "args": args} for n in names])
    with pytest.raises(ConfigError, match="4096"):
        compile_filter(p, "x86_64")


def test_long_jumps_against_libseccomp():
    # Enough conditional rules that the search tree needs ja trampolines.
    names = sorted(table("x86_64"))[:90]
    p = prof(arches=("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
             syscalls=[{"names": [n], "action": "SCMP_ACT_ALLOW",
                        "args": [{"index": 1, "op": "SCMP_CMP_GT", "value": 5},
                                 {"index": 2, "op": "SCMP_CMP_NE", "value": 0x1_0000_0000}]} for n in names])
    insns = helpers.decode(compile_filter(p, "x86_64").program)
    assert any(code == bpf.JA and k > 255 for code, _, _, k in insns)
    _compare(p, "x86_64", random.Random(5), near=[5, 0x1_0000_0000])
