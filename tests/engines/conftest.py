"""Fixtures of the engine suite: the runtime under test, the images, one private instance per engine.

The runtime is ``$PYRUNC_ENGINE_RUNTIME`` (an absolute path), by default the in-tree ``bin/pyrunc``.
``PYRUNC_ENGINE_RUNTIME=/usr/sbin/runc`` runs the same scenarios against runc.
``PYRUNC_ENGINE_KEEP=1`` keeps the session's tmp dir (daemon logs, state) after unmounting it.

Every engine keeps its state under one session tmp dir and puts containers under one absolute cgroup
of the session's own (``/pyrunc-engines-<id>/<engine>``): the test process itself sits in a memory
cgroup that belongs to the machine's supervisor, where nothing may be created.

The function fixtures ``ctr``, ``docker`` and ``podman`` hand a scenario its engine and, when it
ends, check that it left nothing behind: no container the engine knows of, no state under the
runtime's --root, no new cgroup below the engine's parent, no new mount under the tmp dir, no new
live process in our cgroups or naming our tmp dir. A leak fails the scenario and is then cleaned
so that the next scenario starts from a clean engine.
"""

import os
import re
import subprocess
import tempfile
import time
import uuid

import pytest

import engine_host as host
from engine_daemons import Containerd, Dockerd, Podman
from engine_images import build_images
from engine_leaks import Snapshot, leaks

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BINARIES = {
    "base": ["/usr/bin/gcc", "/usr/lib/x86_64-linux-gnu/libc.a", "/bin/busybox", "/usr/bin/umount"],
    "containerd": ["/usr/bin/containerd", "/usr/bin/ctr", "/usr/bin/containerd-shim-runc-v2"],
    "docker": ["/usr/sbin/dockerd", "/usr/bin/docker", "/usr/bin/docker-init"],
    "podman": ["/usr/bin/podman", "/usr/bin/conmon"],
}


@pytest.fixture(scope="session")
def runtime():
    path = os.environ.get("PYRUNC_ENGINE_RUNTIME", os.path.join(REPO, "bin", "pyrunc"))
    if not os.path.isabs(path):
        pytest.fail(f"PYRUNC_ENGINE_RUNTIME must be an absolute path, not {path!r}")
    if not os.access(path, os.X_OK):
        pytest.fail(f"runtime {path} is not executable")
    return path


# directories the engines create outside their configured roots whatever they are told:
# containerd's shim sockets, dockerd's plugin discovery dir, podman's network state
HOST_DIRS = ["/run/containerd/s", "/run/containerd/fifo", "/run/containerd", "/run/docker/plugins",
             "/run/docker", "/run/containers/networks", "/run/containers"]


@pytest.fixture(scope="session")
def engine_tmp():
    if os.geteuid() != 0:
        pytest.skip("engine tests need root")
    # short: unix socket paths (containerd, conmon attach) must stay under 108 bytes
    tmp = tempfile.mkdtemp(prefix="pyrunc-eng-", dir="/tmp")
    absent = [d for d in HOST_DIRS if not os.path.exists(d)]
    yield tmp
    for d in absent:              # children first; only what this session created, only if empty
        try:
            os.rmdir(d)
        except OSError:
            pass
    if os.environ.get("PYRUNC_ENGINE_KEEP"):  # keep the daemons' logs and state to debug
        host.unmount_under(tmp)
    else:
        host.remove_tree(tmp)


@pytest.fixture(scope="session")
def cgroup_root(engine_tmp):
    root = f"/pyrunc-engines-{uuid.uuid4().hex[:8]}"
    yield root
    # the engines are down by now: whatever still runs in our cgroups was a container of ours
    for pid in host.cgroup_pids(root):
        host.stop_pid(pid, timeout=5)
    host.remove_cgroups(root)


def _packages(group):
    try:
        host.ensure_packages(BINARIES["base"] + BINARIES[group])
    except RuntimeError as e:
        pytest.fail(f"cannot install the {group} packages: {e}")


@pytest.fixture(scope="session")
def images(engine_tmp):
    _packages("base")
    return build_images(os.path.join(engine_tmp, "images"))


def _session_engine(engine):
    try:
        engine.start()
    except Exception:
        _shut_down(engine)
        raise
    return engine


def _shut_down(engine):
    try:
        engine.reset()
    finally:
        engine.stop()
        engine.stop_helpers()


@pytest.fixture(scope="session")
def containerd_engine(engine_tmp, cgroup_root, runtime, images):
    _packages("containerd")
    engine = _session_engine(Containerd(engine_tmp, runtime, f"{cgroup_root}/ctr"))
    engine.cli("images", "import", images["busybox"].oci_archive)
    engine.cli("images", "import", images["hello"].docker_archive)
    _canary(engine, engine_tmp)
    yield engine
    _shut_down(engine)


@pytest.fixture(scope="session")
def docker_engine(engine_tmp, cgroup_root, runtime, images, containerd_engine):
    _packages("docker")
    engine = _session_engine(Dockerd(engine_tmp, runtime, f"{cgroup_root}/docker",
                                     containerd_engine))
    for image in images.values():
        engine.cli("load", "--input", image.docker_archive)
    _canary(engine, engine_tmp)
    yield engine
    _shut_down(engine)


@pytest.fixture(scope="session")
def podman_engine(engine_tmp, cgroup_root, runtime, images):
    _packages("podman")
    engine = _session_engine(Podman(engine_tmp, runtime, f"{cgroup_root}/podman"))
    engine.cli("load", "--input", images["busybox"].oci_archive)
    engine.cli("load", "--input", images["hello"].docker_archive)
    _canary(engine, engine_tmp)
    yield engine
    _shut_down(engine)


def _settle(engine, before, tmp, wait=10.0):
    """Leaks since ``before``, after waiting for shims and conmons to exit; force-cleaned if any."""
    deadline = time.monotonic() + wait
    while (problems := leaks(engine, before, tmp, engine.cgroup_parent)) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    if problems:
        engine.reset()
        for pid in (host.processes_mentioning(tmp) | host.cgroup_pids(engine.cgroup_parent)) \
                - before.pids:
            host.stop_pid(pid, timeout=5)
        for point in reversed(host.mounts_under(tmp)):
            if point not in before.mounts:
                subprocess.run(["umount", "-l", point], capture_output=True)
        for d in sorted(host.cgroup_dirs(engine.cgroup_parent) - before.cgroups, key=len,
                        reverse=True):
            try:
                os.rmdir(d)
            except OSError:
                pass
    return problems


def _canary(engine, tmp):
    """Run hello-world once: when even that fails, every scenario fails fast with its reason."""
    before = Snapshot(engine, tmp, engine.cgroup_parent)
    try:
        engine.canary()
    except AssertionError as e:
        engine.broken = str(e)[-2000:]
    _settle(engine, before, tmp, wait=5.0)


def _checked(engine, tmp):
    """Yield ``engine`` to one scenario, then fail it if anything it made is still there."""
    if engine.broken:
        pytest.fail(f"{engine.name}: hello-world through the runtime failed, so this scenario "
                    f"was not run:\n{engine.broken}", pytrace=False)
    before = Snapshot(engine, tmp, engine.cgroup_parent)
    yield engine
    problems = _settle(engine, before, tmp)
    if problems:
        lines = "\n".join(f"  {k}: {v}" for k, v in problems.items())
        pytest.fail(f"{engine.name} scenario left behind:\n{lines}", pytrace=False)


@pytest.fixture
def ctr(containerd_engine, engine_tmp):
    yield from _checked(containerd_engine, engine_tmp)


@pytest.fixture
def docker(docker_engine, engine_tmp):
    yield from _checked(docker_engine, engine_tmp)


@pytest.fixture
def podman(podman_engine, engine_tmp):
    yield from _checked(podman_engine, engine_tmp)


@pytest.fixture
def name(request):
    """A container name unique to the scenario: engines keep names, so reuse would collide."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.removeprefix("test_").lower())
    return f"t-{base[:40].strip('-')}-{uuid.uuid4().hex[:6]}"
