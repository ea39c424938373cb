"""check_seccomp: every rejected input names its JSON path."""

import pytest

from pyrunc.errors import ConfigError
from pyrunc.seccomp.rules import check_seccomp

from . import helpers

P = "linux.seccomp"


def base(**kw):
    d = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
         "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                      {"names": ["write"], "action": "SCMP_ACT_ALLOW"},
                      {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                       "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}
    d.update(kw)
    return d


def paths(seccomp):
    errors = check_seccomp(seccomp)
    assert all(isinstance(e, ConfigError) for e in errors)
    return [e.path for e in errors]


def test_valid_profiles_pass():
    assert check_seccomp(base()) == []
    for name in ("docker-default.json", "podman-default.json"):
        for caps in (helpers.DEFAULT_CAPS, helpers.ALL_CAPS):
            assert check_seccomp(helpers.profile_to_oci(helpers.load_profile(name), caps=caps)) == []


def test_every_spec_arch_accepted():
    arches = ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
              "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
              "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
              "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
              "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64"]
    assert check_seccomp(base(architectures=arches)) == []


def _mutate(fn):
    d = base()
    fn(d)
    return d


CASES = [
    ("not an object", [], [P]),
    ("unknown default", base(defaultAction="SCMP_ACT_NOPE"), [f"{P}.defaultAction"]),
    ("missing default", _mutate(lambda d: d.pop("defaultAction")), [f"{P}.defaultAction"]),
    ("notify default", base(defaultAction="SCMP_ACT_NOTIFY", listenerPath="/x"), [f"{P}.defaultAction"]),
    ("defaultErrnoRet on allow", base(defaultAction="SCMP_ACT_ALLOW", defaultErrnoRet=1),
     [f"{P}.defaultErrnoRet"]),
    ("defaultErrnoRet negative", base(defaultErrnoRet=-1), [f"{P}.defaultErrnoRet"]),
    ("defaultErrnoRet too big", base(defaultErrnoRet=70000), [f"{P}.defaultErrnoRet"]),
    ("unknown arch", base(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"]), [f"{P}.architectures[1]"]),
    ("arches not a list", base(architectures="SCMP_ARCH_X86_64"), [f"{P}.architectures"]),
    ("unknown flag", base(flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_NOPE"]), [f"{P}.flags[1]"]),
    ("flags not a list", base(flags="SECCOMP_FILTER_FLAG_LOG"), [f"{P}.flags"]),
    ("listenerPath type", base(listenerPath=3), [f"{P}.listenerPath"]),
    ("syscalls not a list", base(syscalls={}), [f"{P}.syscalls"]),
    ("syscall not an object", _mutate(lambda d: d["syscalls"].insert(1, "read")), [f"{P}.syscalls[1]"]),
    ("unknown action", _mutate(lambda d: d["syscalls"][1].update(action="SCMP_ACT_MAYBE")),
     [f"{P}.syscalls[1].action"]),
    ("empty names", _mutate(lambda d: d["syscalls"][0].update(names=[])), [f"{P}.syscalls[0].names"]),
    ("bad name", _mutate(lambda d: d["syscalls"][0].update(names=["read", ""])),
     [f"{P}.syscalls[0].names[1]"]),
    ("errnoRet on allow", _mutate(lambda d: d["syscalls"][1].update(errnoRet=1)),
     [f"{P}.syscalls[1].errnoRet"]),
    ("errnoRet on kill", _mutate(lambda d: d["syscalls"][1].update(action="SCMP_ACT_KILL", errnoRet=1)),
     [f"{P}.syscalls[1].errnoRet"]),
    ("errnoRet not int", _mutate(lambda d: d["syscalls"][1].update(action="SCMP_ACT_ERRNO", errnoRet="1")),
     [f"{P}.syscalls[1].errnoRet"]),
    ("args not a list", _mutate(lambda d: d["syscalls"][2].update(args={})), [f"{P}.syscalls[2].args"]),
    ("arg not an object", _mutate(lambda d: d["syscalls"][2]["args"].append(1)),
     [f"{P}.syscalls[2].args[1]"]),
    ("arg index 6", _mutate(lambda d: d["syscalls"][2]["args"][0].update(index=6)),
     [f"{P}.syscalls[2].args[0].index"]),
    ("arg index negative", _mutate(lambda d: d["syscalls"][2]["args"][0].update(index=-1)),
     [f"{P}.syscalls[2].args[0].index"]),
    ("unknown op", _mutate(lambda d: d["syscalls"][2]["args"][0].update(op="SCMP_CMP_LIKE")),
     [f"{P}.syscalls[2].args[0].op"]),
    ("value too big", _mutate(lambda d: d["syscalls"][2]["args"][0].update(value=1 << 64)),
     [f"{P}.syscalls[2].args[0].value"]),
    ("value missing", _mutate(lambda d: d["syscalls"][2]["args"][0].pop("value")),
     [f"{P}.syscalls[2].args[0].value"]),
    ("valueTwo negative", _mutate(lambda d: d["syscalls"][2]["args"][0].update(valueTwo=-1)),
     [f"{P}.syscalls[2].args[0].valueTwo"]),
    ("notify without listener", _mutate(lambda d: d["syscalls"][0].update(action="SCMP_ACT_NOTIFY")),
     [f"{P}.listenerPath"]),
    ("notify on write", _mutate(lambda d: (d["syscalls"][1].update(action="SCMP_ACT_NOTIFY"),
                                           d.update(listenerPath="/run/agent.sock"))),
     [f"{P}.syscalls[1].names"]),
    ("two problems", _mutate(lambda d: (d.update(defaultAction="SCMP_ACT_X"),
                                        d["syscalls"][2]["args"][0].update(op="X"))),
     [f"{P}.defaultAction", f"{P}.syscalls[2].args[0].op"]),
]


@pytest.mark.parametrize("name,seccomp,want", CASES, ids=[c[0] for c in CASES])
def test_rejected_with_path(name, seccomp, want):
    assert paths(seccomp) == want


def test_message_names_file_and_path():
    (err,) = check_seccomp(_mutate(lambda d: d["syscalls"][2]["args"][0].update(op="SCMP_CMP_LIKE")))
    assert str(err) == "config.json: linux.seccomp.syscalls[2].args[0].op: unknown operator 'SCMP_CMP_LIKE'"


def test_missing_action_is_required():
    (err,) = check_seccomp(_mutate(lambda d: d["syscalls"][0].pop("action")))
    assert (err.path, err.message) == ("linux.seccomp.syscalls[0].action", "required")


def test_custom_path_prefix():
    assert [e.path for e in check_seccomp({"defaultAction": 1}, path="x.seccomp")] == ["x.seccomp.defaultAction"]
