"""Helpers shared by the runtime benchmarks: bundles, paired runs, ratio statistics, cleanup.

Paired runs: every iteration runs each runtime once, in an order that rotates by one
per iteration, so a burst of load from another process on the machine lands on all
runtimes alike instead of on whichever one happened to run during it. The figure
that compares two runtimes is then the median of the per-iteration ratios, which a
slow iteration moves much less than it moves either median on its own.
"""

import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CGROUP_MOUNT = "/sys/fs/cgroup"


@dataclass
class Runtime:
    name: str
    path: str
    # crun 1.8.1 rejects configs whose ociVersion is 1.2.0 or newer.
    oci_version: str | None = None


def parse_runtime(text):
    """NAME=PATH -> Runtime; a runtime whose file is named crun gets ociVersion 1.0.2."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise ValueError(f"--runtime {text}: expected NAME=PATH")
    if not os.access(path, os.X_OK):
        raise ValueError(f"--runtime {text}: {path}: not executable")
    return Runtime(name, path, "1.0.2" if os.path.basename(path) == "crun" else None)


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().strip()


class Workspace:
    """A temporary directory holding a busybox rootfs, one bundle per runtime and a state root.

    Each run gets a unique container id and an absolute cgroupsPath under one
    cgroup parent of our own (/pyrunc-lifecycle-<hex>), never under the caller's
    cgroup, which may belong to the machine's supervisor.
    """

    def __init__(self, base_config):
        self.dir = tempfile.mkdtemp(prefix="pyrunc-lifecycle-")
        self.state_root = os.path.join(self.dir, "state")
        self.rootfs_bundle = os.path.join(self.dir, "image")
        subprocess.run([os.path.join(ROOT, "bundles", "make-rootfs"), self.rootfs_bundle], check=True)
        self.base_config = base_config
        self.base_config["root"] = {"path": os.path.join(self.rootfs_bundle, "rootfs"), "readonly": True}
        self.cgroup_parent = "/pyrunc-lifecycle-" + secrets.token_hex(4)
        self._serial = 0
        self.live = []  # (runtime, container id) that may still exist

    def bundle(self, runtime):
        path = os.path.join(self.dir, "bundle-" + runtime.name)
        os.makedirs(path, exist_ok=True)
        return path

    def prepare(self, runtime):
        """Write runtime's config.json with a fresh id and cgroup; return (bundle, id)."""
        self._serial += 1
        cid = f"bench-{runtime.name}-{self._serial}"
        config = json.loads(json.dumps(self.base_config))
        if runtime.oci_version:
            config["ociVersion"] = runtime.oci_version
        config["linux"]["cgroupsPath"] = f"{self.cgroup_parent}/{cid}"
        bundle = self.bundle(runtime)
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(config, f)
        return bundle, cid

    def cli(self, runtime, *args):
        return [runtime.path, "--root", self.state_root, *args]

    def cleanup(self):
        """Force-delete containers left by a failed run, then our cgroups and the directory."""
        for runtime, cid in self.live:
            subprocess.run(self.cli(runtime, "delete", "-f", cid), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.live.clear()
        # A killed init can take a moment to leave its cgroup: retry briefly.
        for _ in range(20):
            left = remove_cgroup_tree(self.cgroup_parent)
            if not left:
                break
            time.sleep(0.1)
        else:
            print(f"bench: could not remove: {'; '.join(left)}", file=sys.stderr)
        shutil.rmtree(self.dir, ignore_errors=True)


def remove_cgroup_tree(path):
    """rmdir an absolute cgroup path and its descendants in every hierarchy (v1 and unified)."""
    left = []
    for hierarchy in sorted(os.listdir(CGROUP_MOUNT)):
        top = os.path.join(CGROUP_MOUNT, hierarchy, path.lstrip("/"))
        if not os.path.isdir(top):
            continue
        # cgroup directories can only be removed empty of child cgroups: deepest first.
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError as e:
                left.append(f"{dirpath}: {e.strerror}")
    return left


def paired(runtimes, runs, one_run):
    """Call one_run(runtime) for every runtime, runs times, rotating the order each iteration.

    Returns {name: [result per iteration]}; results stay aligned by iteration.
    """
    results = {r.name: [] for r in runtimes}
    n = len(runtimes)
    for i in range(runs):
        for r in runtimes[i % n:] + runtimes[:i % n]:
            results[r.name].append(one_run(r))
    return results


def summarize(samples, baseline):
    """samples: {name: [float per iteration]} -> {name: {median, min, ratio}}.

    ratio is the median over iterations of sample / baseline's sample of that
    same iteration (None for a runtime with no baseline to compare against).
    """
    base = samples.get(baseline)
    out = {}
    for name, values in samples.items():
        ratio = None
        if base:
            ratio = statistics.median(v / b for v, b in zip(values, base) if b)
        out[name] = {"median": statistics.median(values), "min": min(values), "ratio": ratio}
    return out
