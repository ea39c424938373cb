"""Time ``docker run --rm hello-world`` through a runtime, on a private containerd + dockerd.

    /opt/pyrunc/bin/python tests/engines/bench_hello.py [RUNTIME] [--runs N]

RUNTIME defaults to $PYRUNC_ENGINE_RUNTIME, else <repo>/bin/pyrunc. One warm-up run, then N timed
runs (default 10); prints each time and the median. Everything lives in a tmp dir and a cgroup of
its own, both removed at the end, as in the test suite.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import engine_host as host  # noqa: E402
from engine_daemons import Containerd, Dockerd  # noqa: E402
from engine_images import GREETING, build_images  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bench(runtime, runs):
    tmp = tempfile.mkdtemp(prefix="pyrunc-eng-", dir="/tmp")
    cgroup = f"/pyrunc-engines-{uuid.uuid4().hex[:8]}"
    containerd = Containerd(tmp, runtime, f"{cgroup}/ctr")
    docker = Dockerd(tmp, runtime, f"{cgroup}/docker", containerd)
    try:
        images = build_images(os.path.join(tmp, "images"))
        containerd.start()
        docker.start()
        docker.cli("load", "--input", images["hello"].docker_archive)
        docker.cli("run", "--rm", "hello-world")
        times = []
        for _ in range(runs):
            started = time.monotonic()
            out = docker.cli("run", "--rm", "hello-world").stdout
            times.append(time.monotonic() - started)
            assert GREETING in out, out
        return times
    finally:
        for engine in (docker, containerd):
            engine.reset()
            engine.stop()
            engine.stop_helpers()
        host.remove_tree(tmp)
        host.remove_cgroups(cgroup)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runtime", nargs="?", default=os.environ.get(
        "PYRUNC_ENGINE_RUNTIME", os.path.join(REPO, "bin", "pyrunc")))
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    times = bench(os.path.abspath(args.runtime), args.runs)
    print(f"docker run --rm hello-world via {args.runtime}: "
          f"{' '.join(f'{t:.3f}' for t in times)} s; median {statistics.median(times):.3f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
