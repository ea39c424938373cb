#!/usr/bin/python3
"""Time the cgroup driver's container lifecycle on this host.

Per run, under a fresh absolute path /pyrunc-bench-<random>/c (in every hierarchy):
    create; add(pid of a sleeping child); apply(memory, pids, cpu); destroy
The child is started before the clock starts and killed and reaped (not timed)
before destroy. Reports the median and min per phase and for the whole sequence.
Run as root from the repository root:

    bench/cgroups.py [--runs N] [--json]
"""

import argparse
import importlib.util
import json
import os
import secrets
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RESOURCES = {
    "memory": {"limit": 256 << 20, "swap": 256 << 20, "reservation": 128 << 20},
    "pids": {"limit": 512},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000},
}


def load_pyrunc():
    spec = importlib.util.spec_from_file_location(
        "pyrunc", os.path.join(ROOT, "runtime", "__init__.py"),
        submodule_search_locations=[os.path.join(ROOT, "runtime")])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["pyrunc"] = mod
    spec.loader.exec_module(mod)


def one_run(open_manager):
    name = "/pyrunc-bench-" + secrets.token_hex(4)
    child = subprocess.Popen(["sleep", "60"])
    try:
        t0 = time.perf_counter()
        mgr = open_manager(name + "/c", "bench")
        mgr.create()
        t1 = time.perf_counter()
        mgr.add(child.pid)
        t2 = time.perf_counter()
        mgr.apply(RESOURCES)
        t3 = time.perf_counter()
    finally:
        child.kill()
        child.wait()
    t4 = time.perf_counter()
    mgr.destroy()
    t5 = time.perf_counter()
    return {"create": t1 - t0, "add": t2 - t1, "apply": t3 - t2, "destroy": t5 - t4,
            "total": (t3 - t0) + (t5 - t4)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    load_pyrunc()
    from pyrunc.cgroups import detect_mode, open_manager
    one_run(open_manager)  # warm the imports and the kernel's caches
    runs = [one_run(open_manager) for _ in range(args.runs)]
    summary = {k: {"median_ms": statistics.median(r[k] for r in runs) * 1e3,
                   "min_ms": min(r[k] for r in runs) * 1e3} for k in runs[0]}
    if args.json:
        print(json.dumps({"mode": detect_mode(), "runs": args.runs, "phases": summary}))
        return
    print(f"{args.runs} runs, cgroup layout {detect_mode()}, {sys.executable} {sys.version.split()[0]}")
    for k, v in summary.items():
        print(f"{k:>8}: median {v['median_ms']:.3f} ms  min {v['min_ms']:.3f} ms")


if __name__ == "__main__":
    main()
