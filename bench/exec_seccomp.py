"""Wall time of (a) `run` of /bin/true under Docker's default seccomp profile
and (b) `exec ID true` into a running container: pyrunc against runc (and
crun when it runs on this host).

Paired and alternating: each round runs every runtime once, in a rotating
order, on the same bundle, so that load on a shared machine falls on all of
them alike.  Reports each runtime's median and the median of the per-round
ratios pyrunc/other.  Usage: python3 bench/exec_seccomp.py [ROUNDS]  (root)
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import conftest  # noqa: E402,F401  (registers runtime/ as pyrunc)
from seccomp import helpers  # noqa: E402

from pyrunc.oci.defaults import default_spec  # noqa: E402

CGROUP_PARENT = "/pyrunc-bench"


def make_bundle(base, rootfs, name, args):
    cfg = default_spec()
    cfg["ociVersion"] = "1.0.2"  # crun 1.8 refuses 1.2.0 and newer
    cfg["root"] = {"path": rootfs, "readonly": True}
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = args
    cfg["linux"]["cgroupsPath"] = f"{CGROUP_PARENT}/{name}"
    cfg["linux"]["seccomp"] = helpers.profile_to_oci(helpers.load_profile("docker-default.json"))
    d = os.path.join(base, name)
    os.mkdir(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    return d


def runtimes(base):
    out = {"pyrunc": [os.path.join(ROOT, "bin", "pyrunc")], "runc": ["runc"]}
    if shutil.which("crun"):
        out["crun"] = ["crun"]
    return {name: argv + ["--root", os.path.join(base, "state-" + name)]
            for name, argv in out.items()}


def timed(argv):
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()}")
    return dt


def report(title, samples, base="pyrunc"):
    print(f"\n{title}")
    for name, s in samples.items():
        print(f"  {name:7s} median {statistics.median(s) * 1e3:8.1f} ms  (n={len(s)})")
    for name, s in samples.items():
        if name != base:
            ratios = [a / b for a, b in zip(samples[base], s)]
            print(f"  {base}/{name} median of per-round ratios: {statistics.median(ratios):.2f}")


def bench_run(rts, bundles, rounds):
    samples = {n: [] for n in rts}
    names = list(rts)
    for i in range(rounds):
        k = i % len(names)
        for n in names[k:] + names[:k]:
            samples[n].append(timed(rts[n] + ["run", "--bundle", bundles[n], f"b{i}-{n}"]))
    return samples


def bench_exec(rts, bundles, rounds):
    ids = {}
    try:
        for n, argv in rts.items():
            ids[n] = f"exec-{n}"
            subprocess.run(argv + ["run", "-d", "--bundle", bundles[n], ids[n]], check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        samples = {n: [] for n in rts}
        names = list(rts)
        for i in range(rounds):
            k = i % len(names)
            for n in names[k:] + names[:k]:
                samples[n].append(timed(rts[n] + ["exec", ids[n], "true"]))
        return samples
    finally:
        for n, cid in ids.items():
            subprocess.run(rts[n] + ["delete", "--force", cid], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


def usable(name, argv, bundle):
    try:
        timed(argv + ["run", "--bundle", bundle, f"probe-{name}"])
        return True
    except RuntimeError as e:
        print(f"# {name} skipped: {e}")
        return False


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    base = tempfile.mkdtemp(prefix="pyrunc-bench-")
    os.chmod(base, 0o755)
    try:
        subprocess.run([os.path.join(ROOT, "bundles", "make-rootfs"), base], check=True)
        rootfs = os.path.join(base, "rootfs")
        rts = runtimes(base)
        run_b = {n: make_bundle(base, rootfs, f"run-{n}", ["/bin/true"]) for n in rts}
        rts = {n: a for n, a in rts.items() if usable(n, a, run_b[n])}
        exec_b = {n: make_bundle(base, rootfs, f"exec-{n}", ["sleep", "100000"]) for n in rts}
        print(f"# {os.uname().release}, {os.cpu_count()} cpus; load average "
              f"{os.getloadavg()[0]:.2f} (shared machine: absolute times are noisy, "
              f"ratios within a round are the figure to read)")
        report(f"(a) run /bin/true, Docker default seccomp profile, {rounds} rounds",
               bench_run(rts, run_b, rounds))
        exec_rts = {n: a for n, a in rts.items() if n in ("pyrunc", "runc")}
        report(f"(b) exec ID true into a running container, {rounds} rounds",
               bench_exec(exec_rts, exec_b, rounds))
    finally:
        shutil.rmtree(base, ignore_errors=True)
        for ctrl in os.listdir("/sys/fs/cgroup"):
            d = os.path.join("/sys/fs/cgroup", ctrl, CGROUP_PARENT.lstrip("/"))
            if os.path.isdir(d):
                for sub in os.listdir(d):
                    if os.path.isdir(os.path.join(d, sub)):
                        try:
                            os.rmdir(os.path.join(d, sub))
                        except OSError:
                            pass
                try:
                    os.rmdir(d)
                except OSError:
                    pass


if __name__ == "__main__":
    main()
