"""Time a cold start of validation: import pyrunc.oci.validate and validate the default spec.

Each sample is a fresh interpreter (python3 -I, so compiled .pyc files are
used as they are for an installed pyrunc), timing from just before the import
to just after validate() returns.  The interpreter's own start-up is not
counted.  Usage: python3 bench/validate.py [RUNS]
"""

import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_SAMPLE = r"""
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location(
    "pyrunc", ROOT + "/runtime/__init__.py", submodule_search_locations=[ROOT + "/runtime"])
pyrunc = importlib.util.module_from_spec(spec); sys.modules["pyrunc"] = pyrunc; spec.loader.exec_module(pyrunc)
from pyrunc.oci.defaults import default_spec
config = default_spec()
t0 = time.perf_counter()
from pyrunc.oci.validate import validate
t1 = time.perf_counter()
validate(config)
t2 = time.perf_counter()
assert "jsonschema" not in sys.modules and "fastjsonschema" not in sys.modules
print((t1 - t0) * 1e3, (t2 - t1) * 1e3)
"""


def sample():
    code = "ROOT = %r\n" % ROOT + _SAMPLE
    out = subprocess.run([sys.executable, "-I", "-c", code], check=True, capture_output=True, text=True)
    return [float(x) for x in out.stdout.split()]


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    sample()  # writes the .pyc files and, in a checkout, the generated module
    samples = [sample() for _ in range(runs)]
    imports = [s[0] for s in samples]
    checks = [s[1] for s in samples]
    totals = [a + b for a, b in samples]
    print(f"{runs} cold runs, {sys.executable} {sys.version.split()[0]}")
    for label, values in (("import", imports), ("validate", checks), ("total", totals)):
        print(f"{label:>9}: median {statistics.median(values):.3f} ms  min {min(values):.3f} ms"
              f"  max {max(values):.3f} ms")


if __name__ == "__main__":
    main()
