"""Run ``python3 -m conformance`` and read its table back."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUMMARY = re.compile(r"^(?P<name>\S+): (?P<passed>\d+) passed, (?P<failed>\d+) failed, (?P<skipped>\d+) skipped$")


def run_suite(*args, timeout=900):
    """(exit status, stdout lines) of the suite run from the repository root."""
    p = subprocess.run([sys.executable, "-m", "conformance", *args], cwd=ROOT, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout.splitlines(), p.stderr


def table(lines):
    """({case: {runtime: status}}, {runtime: (passed, failed, skipped)}) from the output."""
    header = next(i for i, ln in enumerate(lines) if ln.startswith("TEST "))
    names = lines[header].split()[1:]
    rows = {}
    for ln in lines[header + 1:]:
        if not ln.strip():
            break
        parts = ln.split()
        rows[parts[0]] = dict(zip(names, parts[1:]))
    sums = {}
    for ln in lines:
        m = SUMMARY.match(ln)
        if m:
            sums[m["name"]] = (int(m["passed"]), int(m["failed"]), int(m["skipped"]))
    return rows, sums
