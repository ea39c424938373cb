"""Our BPF against libseccomp's (behind runc's -ENOSYS stub), input by input.

Both programs run in the classic-BPF interpreter of helpers.py over the
same seccomp_data; every input must get the same SECCOMP_RET_* word.
"""

import random
import struct

import pytest

from pyrunc.seccomp import rules
from pyrunc.seccomp.compile import X86_MUX, compile_filter, table

from . import helpers

AUDIT = helpers.AUDIT
INTERESTING = [0, 1, 2, 8, 40, 0x20000, 0x7E020000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
               0x100000000, 0x1FFFFFFFF, 0xFFFFFFFF00000000, 0x8000000000000000, (1 << 64) - 1]


def _args(rng, near=()):
    pool = INTERESTING + [v + d for v in near for d in (-1, 0, 1) if 0 <= v + d < 1 << 64]
    return [rng.choice(pool) if rng.random() < 0.8 else rng.getrandbits(64) for _ in range(6)]


def _numbers(native, rng):
    """Syscall numbers worth asking about: every table entry, its neighbours, edges."""
    arches = ("x86_64", "x32", "x86") if native == "x86_64" else ("aarch64", "arm")
    nrs = set()
    for arch in arches:
        for nr in table(arch).values():
            nrs.update((nr - 1, nr, nr + 1))
    nrs.update((0x3FFFFFFF, 0x40000000, 0x7FFFFFFF, 0x80000000, 0xBFFFFFFF, 0xC0000000,
                0xFFFFFFFE, 0xFFFFFFFF))
    nrs.update(rng.getrandbits(32) for _ in range(50))
    return sorted(n for n in nrs if 0 <= n < 1 << 32)


def _compare(oci, native, rng, per_nr=1, near=()):
    ours = helpers.decode(compile_filter(oci, native).program)
    ref = helpers.Reference(oci, native)
    arches = [AUDIT["x86_64"], AUDIT["x86"]] if native == "x86_64" else [AUDIT["aarch64"], AUDIT["arm"]]
    arches.append(0x12345678)       # a foreign arch
    checked = 0
    for nr in _numbers(native, rng):
        for arch in arches:
            for _ in range(per_nr):
                data = helpers.seccomp_data(nr, arch, _args(rng, near))
                got, want = helpers.run(ours, data), ref(data)
                assert got == want, (f"nr={nr:#x} arch={arch:#x} args="
                                     f"{[hex(a) for a in struct.unpack_from('<6Q', data, 16)]}: "
                                     f"ours {got:#x}, libseccomp {want:#x}")
                checked += 1
    return checked


@pytest.mark.parametrize("native", ["x86_64", "aarch64"])
@pytest.mark.parametrize("caps", ["default", "all"])
@pytest.mark.parametrize("profile", ["docker-default.json", "podman-default.json"])
def test_engine_profiles(profile, caps, native):
    caps = helpers.DEFAULT_CAPS if caps == "default" else helpers.ALL_CAPS
    oci = helpers.profile_to_oci(helpers.load_profile(profile), native, caps)
    assert _compare(oci, native, random.Random(profile), per_nr=2, near=[0x7E020000]) > 3000


# --- random rule sets ------------------------------------------------------

_ACTIONS = [a for a in rules.ACTIONS if a != "SCMP_ACT_NOTIFY"]


def _random_profile(rng, native):
    arches = ["x86_64", "x32", "x86"] if native == "x86_64" else ["aarch64", "arm"]
    names = sorted(set().union(*(table(a) for a in arches)))
    mux_names = set(X86_MUX) | {"socketcall", "ipc"}
    default = rng.choice(_ACTIONS)
    oci = {"defaultAction": default, "syscalls": [],
           "architectures": [f"SCMP_ARCH_{a.upper()}" for a in arches if rng.random() < 0.6]}
    if default in rules.ERRNO_ACTIONS and rng.random() < 0.5:
        oci["defaultErrnoRet"] = rng.choice([1, 13, 38, 95])
    # Overlapping conditional rules with different actions are ambiguous in
    # libseccomp (it refuses some with EEXIST, orders others by its tree):
    # conditional rules of one set share an action, and on x86 the
    # multiplexed names are either conditional or unconditional, not both.
    cond_action = rng.choice(_ACTIONS)
    cond_errno = rng.choice([None, 13])
    cond_names = rng.sample(names, 12) + ["socket", "shmget", "personality", "nosuch_call"]
    uncond_pool = [n for n in names if n not in mux_names or n not in cond_names] + ["nosuch_call"]
    mux_used = set()
    for _ in range(rng.randint(1, 30)):
        entry = {}
        if rng.random() < 0.5:
            # libseccomp refuses (EEXIST) a second action for the same socketcall sub-call
            picked = rng.sample(uncond_pool, rng.randint(1, 8))
            entry["names"] = [n for n in picked if n not in mux_used] or ["read"]
            mux_used.update(n for n in picked if n in mux_names)
            entry["action"] = rng.choice(_ACTIONS)
        else:
            entry["names"] = [rng.choice(cond_names)]
            entry["action"] = cond_action
            entry["args"] = []
            for _ in range(rng.randint(1, 3)):
                op = rng.choice(rules.OPS)
                arg = {"index": rng.randint(0, 5) if rng.random() < 0.7 else rng.randint(0, 1),
                       "op": op, "value": rng.choice(INTERESTING)}
                if op == "SCMP_CMP_MASKED_EQ" or rng.random() < 0.2:
                    arg["valueTwo"] = rng.choice(INTERESTING)
                entry["args"].append(arg)
        if "args" in entry:
            if cond_errno is not None and cond_action in rules.ERRNO_ACTIONS:
                entry["errnoRet"] = cond_errno
        elif entry["action"] in rules.ERRNO_ACTIONS and rng.random() < 0.5:
            entry["errnoRet"] = rng.choice([1, 13, 38, 95])
        oci["syscalls"].append(entry)
    return oci


@pytest.mark.parametrize("seed", range(40))
def test_random_rule_sets(seed):
    rng = random.Random(seed)
    native = "x86_64" if seed % 4 else "aarch64"
    oci = _random_profile(rng, native)
    near = [a["value"] for c in oci["syscalls"] for a in c.get("args", ())]
    near += [a.get("valueTwo", 0) for c in oci["syscalls"] for a in c.get("args", ())]
    _compare(oci, native, rng, near=near)
