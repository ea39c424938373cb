#!/usr/bin/python3
"""Benchmark pyrunc-unpack against umoci unpack and GNU tar -xzf.

Builds once, cached under --cache (default /var/cache/pyrunc-bench): a Debian
minbase rootfs (debootstrap from the Debian mirror, apt's .deb cache
removed as an image build would), one gzip layer of it, and an OCI layout
holding that layer.  Then times, side by side and in rotation:

    pyrunc-unpack -q oci:LAYOUT:bench BUNDLE
    umoci unpack --image LAYOUT:bench BUNDLE
    tar -xzf LAYER.tar.gz -C DIR

Targets: pyrunc-unpack <= 0.5 x umoci and <= 1.3 x tar (median wall time).
Run as root (debootstrap, and the unpacks restore ownership and devices).

    bench/unpack.py [--runs N] [--cache DIR] [--work DIR] [--mirror URL] [--suite NAME] [--json]
"""

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNPACK = os.path.join(ROOT, "bin", "pyrunc-unpack")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest(), os.path.getsize(path)


def build_rootfs(cache, suite, mirror):
    rootfs = os.path.join(cache, "debian-rootfs")
    if os.path.isdir(rootfs):
        return rootfs
    tmp = rootfs + ".tmp"
    if not os.path.isdir(tmp):
        print(f"debootstrap --variant=minbase {suite} (once, cached in {cache}) ...", file=sys.stderr)
        subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,perl", suite, tmp, mirror],
                       check=True, stdout=subprocess.DEVNULL)
    archives = os.path.join(tmp, "var", "cache", "apt", "archives")
    for name in os.listdir(archives):
        if name.endswith(".deb"):
            os.unlink(os.path.join(archives, name))
    os.rename(tmp, rootfs)
    return rootfs


def build_layout(cache, rootfs):
    layout = os.path.join(cache, "layout")
    layer_gz = os.path.join(cache, "layer.tar.gz")
    if os.path.exists(os.path.join(layout, "index.json")):
        return layout, layer_gz
    print("building the gzip layer and the OCI layout ...", file=sys.stderr)
    layer_tar = os.path.join(cache, "layer.tar")
    subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", rootfs, "-cf", layer_tar, "."], check=True)
    diff_id, _ = sha256_file(layer_tar)
    subprocess.run(["gzip", "-6", "-n", "-f", layer_tar], check=True)
    digest, size = sha256_file(layer_gz)
    blobs = os.path.join(layout, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    shutil.copyfile(layer_gz, os.path.join(blobs, digest.split(":")[1]))

    def put(doc):
        data = json.dumps(doc).encode()
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d.split(":")[1]), "wb") as f:
            f.write(data)
        return d, len(data)

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    cfg_digest, cfg_size = put({"architecture": arch, "os": "linux",
                                "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["bash"]},
                                "rootfs": {"type": "layers", "diff_ids": [diff_id]}})
    man_digest, man_size = put({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest,
                   "size": cfg_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest,
                    "size": size}]})
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": man_digest,
            "size": man_size, "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, f)
    return layout, layer_gz


def timed(cmd, target):
    """(wall seconds, CPU seconds: user + sys of the command and its children).
    CPU time is the steadier figure on a shared machine."""
    os.sync()       # start each run with no writeback pending from the last
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # Outputs are kept until the end: deleting 10,000 files just before the
    # next run makes that run pay for the filesystem's deferred work.
    return elapsed, cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--cache", default="/var/cache/pyrunc-bench")
    p.add_argument("--mirror", default="http://deb.debian.org/debian")
    p.add_argument("--suite", default="bookworm")
    p.add_argument("--work", help="where the unpacks are written (default CACHE/work); a tmpfs "
                   "such as /dev/shm/pyrunc-bench takes the disk's writeback out of the figures")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    os.makedirs(args.cache, exist_ok=True)
    layout, layer_gz = build_layout(args.cache, build_rootfs(args.cache, args.suite, args.mirror))
    work = args.work or os.path.join(args.cache, "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    def tar_run(target):
        os.mkdir(target)
        return timed(["tar", "-xzf", layer_gz, "-C", target], target)

    tools = {
        "pyrunc-unpack": lambda t: timed([UNPACK, "-q", f"oci:{layout}:bench", t], t),
        "umoci": lambda t: timed(["umoci", "unpack", "--image", f"{layout}:bench", t], t),
        "tar -xzf": tar_run,
    }
    times = {name: [] for name in tools}
    for i in range(args.runs):
        for n, (name, run) in enumerate(tools.items()):
            times[name].append(run(os.path.join(work, f"{n}-{i}")))
    shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in times.items()}
    files = sum(len(d) + len(f) for _, d, f in os.walk(os.path.join(args.cache, "debian-rootfs")))
    result = {
        "layer_gzip_bytes": os.path.getsize(layer_gz), "files": files, "runs": args.runs,
        "median_wall_s": med, "min_wall_s": {k: min(w for w, _ in v) for k, v in times.items()},
        "median_cpu_s": cpu,
        "ratio_vs_umoci": med["pyrunc-unpack"] / med["umoci"],
        "ratio_vs_tar": med["pyrunc-unpack"] / med["tar -xzf"],
        "cpu_ratio_vs_umoci": cpu["pyrunc-unpack"] / cpu["umoci"],
        "cpu_ratio_vs_tar": cpu["pyrunc-unpack"] / cpu["tar -xzf"],
        "load_average": os.getloadavg()[0],
    }
    result["meets_targets"] = result["ratio_vs_umoci"] <= 0.5 and result["ratio_vs_tar"] <= 1.3
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"image: {result['layer_gzip_bytes'] / 1e6:.1f} MB gzip, {files} paths, "
              f"{args.runs} runs each, load average {result['load_average']:.1f}")
        for k in tools:
            print(f"  {k:14s} wall median {med[k]:6.2f} s  min {result['min_wall_s'][k]:6.2f} s"
                  f"   cpu median {cpu[k]:6.2f} s")
        print(f"  pyrunc-unpack / umoci = {result['ratio_vs_umoci']:.2f} wall, "
              f"{result['cpu_ratio_vs_umoci']:.2f} cpu (target <= 0.5)")
        print(f"  pyrunc-unpack / tar   = {result['ratio_vs_tar']:.2f} wall, "
              f"{result['cpu_ratio_vs_tar']:.2f} cpu (target <= 1.3)")
    return 0 if result["meets_targets"] else 1


if __name__ == "__main__":
    sys.exit(main())
