"""Compile Docker's default seccomp profile: pyrunc's compiler against libseccomp.

libseccomp is driven through ctypes the way runc drives it (tests/seccomp/
libseccomp_ref.py: one seccomp_rule_add per name and arch set, then
seccomp_export_bpf), so both sides produce the same filter for x86_64 +
x86 + x32.  Reports the median of RUNS in-process compiles for each, their
ratio, and pyrunc's cold first compile (fresh interpreter, imports and
table loading included).  Usage: python3 bench/seccomp.py [RUNS]
"""

import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import conftest  # noqa: E402,F401  (registers runtime/ as pyrunc)
from seccomp import helpers, libseccomp_ref  # noqa: E402

from pyrunc.seccomp.compile import compile_filter  # noqa: E402

_COLD = r"""
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location(
    "pyrunc", ROOT + "/runtime/__init__.py", submodule_search_locations=[ROOT + "/runtime"])
pyrunc = importlib.util.module_from_spec(spec); sys.modules["pyrunc"] = pyrunc; spec.loader.exec_module(pyrunc)
oci = json.loads(sys.stdin.read())
t0 = time.perf_counter()
from pyrunc.seccomp.compile import compile_filter
compile_filter(oci)
print((time.perf_counter() - t0) * 1e3)
"""


def median_ms(fn, runs):
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e3


def cold_ms(oci, runs):
    import json
    code = "ROOT = %r\n" % ROOT + _COLD
    out = []
    for _ in range(runs):
        res = subprocess.run([sys.executable, "-I", "-c", code], input=json.dumps(oci),
                             check=True, capture_output=True, text=True)
        out.append(float(res.stdout))
    return statistics.median(out)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    oci = helpers.profile_to_oci(helpers.load_profile("docker-default.json"))
    ours = compile_filter(oci, "x86_64")
    theirs = libseccomp_ref.compile_bpf(oci)
    ours_ms = median_ms(lambda: compile_filter(oci, "x86_64"), runs)
    theirs_ms = median_ms(lambda: libseccomp_ref.compile_bpf(oci), max(runs // 4, 5))
    print(f"docker default profile, x86_64+x86+x32, {len(oci['syscalls'])} rules")
    print(f"pyrunc     {ours_ms:8.3f} ms  ({len(ours)} instructions)")
    print(f"libseccomp {theirs_ms:8.3f} ms  ({len(theirs) // 8} instructions, incl. ctypes calls)")
    print(f"ratio      {theirs_ms / ours_ms:8.1f}x faster")
    print(f"pyrunc cold (import + first compile) {cold_ms(oci, 10):.2f} ms")


if __name__ == "__main__":
    main()
