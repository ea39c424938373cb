#!/usr/bin/python3
"""Time create + start + delete --force of a container with a resources block, for
pyrunc, runc and crun, in paired runs.

One bundle (busybox rootfs, `sleep 30`) and one config for every runtime: memory, pids
and cpu limits and an absolute cgroupsPath (never under the caller's cgroup, which may
belong to the machine's supervisor). Each pair runs every runtime once, in an order
that rotates from pair to pair so no runtime always goes first. Each runtime has a
fresh --root under /tmp; everything is removed at the end. Reports the median time
per runtime and the median of the per-pair ratios. Run as root from the repository root:

    bench/lifecycle_resources.py [--runs N] [--json]

crun 1.8 refuses a hybrid cgroup layout unless hugetlb is a v1 hierarchy, and configs
whose ociVersion is 1.2.0 or newer: the script mounts hugetlb when it must (and
unmounts it after) and writes ociVersion 1.0.2.
"""

import argparse
import copy
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIMES = {"pyrunc": os.path.join(ROOT, "bin", "pyrunc"), "runc": "/usr/sbin/runc",
            "crun": shutil.which("crun") or "/usr/bin/crun"}
RESOURCES = {
    "memory": {"limit": 256 << 20, "swap": 256 << 20},
    "pids": {"limit": 512},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000},
    "devices": [{"allow": False, "access": "rwm"}],
}
CGROUP_MOUNT = "/sys/fs/cgroup"


def load_default_spec():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "pyrunc", os.path.join(ROOT, "runtime", "__init__.py"),
        submodule_search_locations=[os.path.join(ROOT, "runtime")])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["pyrunc"] = mod
    spec.loader.exec_module(mod)
    from pyrunc.oci.defaults import default_spec
    return default_spec()


def make_bundle(base, cgroups_path):
    subprocess.run([os.path.join(ROOT, "bundles", "make-rootfs"), base], check=True,
                   stdout=subprocess.DEVNULL)
    cfg = copy.deepcopy(load_default_spec())
    cfg["ociVersion"] = "1.0.2"
    cfg["root"] = {"path": os.path.join(base, "rootfs"), "readonly": True}
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sleep", "30"]
    cfg["linux"]["cgroupsPath"] = cgroups_path
    cfg["linux"]["resources"] = RESOURCES
    with open(os.path.join(base, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    return base


def hybrid_hugetlb():
    """Mount hugetlb as a v1 hierarchy when a hybrid host lacks it (crun needs it);
    returns the mountpoint to unmount afterwards, or None."""
    if os.path.exists(os.path.join(CGROUP_MOUNT, "cgroup.controllers")):
        return None  # unified: nothing to do
    mp = os.path.join(CGROUP_MOUNT, "hugetlb")
    if os.path.ismount(mp):
        return None
    os.makedirs(mp, exist_ok=True)
    subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", mp], check=True)
    return mp


def one(name, exe, root, bundle, errfile):
    """Seconds for create + start + delete --force. Output goes to files, not pipes: a
    container inherits the runtime's stdio and would hold a pipe open."""
    cid = f"bench-{name}-{secrets.token_hex(3)}"
    base = [exe, "--root", root]
    quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": errfile}
    t0 = time.perf_counter()
    try:
        for argv in (["create", "--bundle", bundle, cid], ["start", cid],
                     ["delete", "--force", cid]):
            errfile.seek(0)
            errfile.truncate()
            if subprocess.run(base + argv, **quiet).returncode != 0:
                errfile.seek(0)
                raise SystemExit(f"{name} {argv[0]} failed: {errfile.read().decode().strip()}")
    except BaseException:
        subprocess.run(base + ["delete", "--force", cid], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        raise
    return time.perf_counter() - t0


def remove_cgroups(path):
    for ctrl in sorted(os.listdir(CGROUP_MOUNT)):
        top = os.path.join(CGROUP_MOUNT, ctrl, path.strip("/").split("/")[0])
        if os.path.isdir(top):
            for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    opts = ap.parse_args()
    names = [n for n, exe in RUNTIMES.items() if os.access(exe, os.X_OK)]
    cg = f"/pyrunc-bench-{secrets.token_hex(4)}/c"
    tmp = tempfile.mkdtemp(prefix="pyrunc-bench-")
    roots = {n: tempfile.mkdtemp(prefix=f"bench-{n}-root-") for n in names}
    # SIGTERM (timeout(1), a CI runner) unwinds like ^C, through the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    mounted = hybrid_hugetlb()
    times = {n: [] for n in names}
    errfile = tempfile.TemporaryFile()
    try:
        bundle = make_bundle(tmp, cg)
        for n in names:  # one warm-up each: page cache, first-run costs
            one(n, RUNTIMES[n], roots[n], bundle, errfile)
        for i in range(opts.runs):
            order = names[i % len(names):] + names[:i % len(names)]
            for n in order:
                times[n].append(one(n, RUNTIMES[n], roots[n], bundle, errfile))
    finally:
        errfile.close()
        remove_cgroups(cg)
        for d in [tmp, *roots.values()]:
            shutil.rmtree(d, ignore_errors=True)
        if mounted:
            subprocess.run(["umount", mounted])
    report = {"runs": opts.runs, "median_ms": {n: statistics.median(times[n]) * 1e3 for n in names},
              "min_ms": {n: min(times[n]) * 1e3 for n in names}, "pyrunc_over": {}}
    for other in names:
        if other != "pyrunc" and "pyrunc" in names:
            ratios = [a / b for a, b in zip(times["pyrunc"], times[other])]
            report["pyrunc_over"][other] = statistics.median(ratios)
    if opts.json:
        print(json.dumps(report, indent=1))
        return
    print(f"create+start+delete --force, memory+pids+cpu limits, {opts.runs} paired runs")
    for n in names:
        med, low = report["median_ms"][n], report["min_ms"][n]
        print(f"  {n:<7} median {med:7.1f} ms   min {low:7.1f} ms")
    for other, r in report["pyrunc_over"].items():
        print(f"  pyrunc / {other}: median of per-pair ratios {r:.2f}")


if __name__ == "__main__":
    main()
