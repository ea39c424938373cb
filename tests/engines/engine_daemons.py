"""The three engines, each run privately: every socket, root and state directory under one tmp dir.

``Containerd``, ``Dockerd`` and ``Podman`` share one shape:

- ``start()`` / ``stop()``: bring the engine up with its own config, and down by pid (shims and
  conmons that outlive their daemon are found by the tmp dir in their command line).
- ``cli(*args)``: run the engine's client against this private instance.
- ``containers()``: ids the engine still knows of; ``runtime_roots()``: the ``--root`` directories
  the engine hands the runtime, whose entries are per-container state.
- ``reset()``: force-remove every container (used after a failed scenario so the next starts clean).

The runtime under test is registered under the name ``pyrunc`` wherever a name is needed (dockerd
reserves ``runc``); podman names a runtime given by path after its file name.
"""

import glob
import hashlib
import json
import os
import subprocess
import time

import pytest

from engine_images import GREETING, qualified
from engine_host import processes_mentioning, stop_pid, unmount_under, unmounted_hierarchies


HELLO_REF = f"{qualified('hello-world')}:latest"
SHIM_SOCKETS = "/run/containerd/s"


class EngineError(AssertionError):
    """A client call failed where the scenario needed it to succeed."""


def _run(argv, check, timeout, env=None, input=None):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        # a runtime that hangs must fail the scenario, not the whole session
        raise EngineError(f"{' '.join(argv)}: no answer within {timeout}s\n"
                          f"stdout: {e.stdout}\nstderr: {e.stderr}") from None
    if check and done.returncode != 0:
        raise EngineError(f"{' '.join(argv)}: exit {done.returncode}\nstdout: {done.stdout}\n"
                          f"stderr: {done.stderr}")
    return done


def _wait_for(what, ready, timeout, log):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    with open(log) as f:
        tail = f.read()[-3000:]
    raise RuntimeError(f"{what} not ready after {timeout}s; log tail:\n{tail}")


def overlay_works(workdir):
    """True when an overlay mount succeeds on ``workdir``'s filesystem (overlay2 needs it)."""
    base = os.path.join(workdir, ".overlay-probe")
    dirs = {k: os.path.join(base, k) for k in ("lower", "upper", "work", "merged")}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    opts = f"lowerdir={dirs['lower']},upperdir={dirs['upper']},workdir={dirs['work']}"
    ok = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, dirs["merged"]],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", dirs["merged"]], check=True)
    subprocess.run(["rm", "-rf", base], check=True)
    return ok


class _Daemon:
    name = ""
    broken = None   # why the canary (hello-world through the runtime) failed, if it did

    def __init__(self, tmp, runtime, cgroup_parent):
        self.dir = os.path.join(tmp, self.name)
        self.runtime = runtime
        self.cgroup_parent = cgroup_parent   # absolute cgroup under which every container lands
        self.log = os.path.join(self.dir, f"{self.name}.log")
        self.proc = None
        os.makedirs(self.dir, exist_ok=True)

    def _spawn(self, argv, env=None):
        with open(self.log, "ab") as log:
            # own session: a ^C in the test terminal does not reach the daemon before teardown does
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def quietly(self, *args, timeout=15):
        """A clean-up call: its failure (or hang) must not hide the scenario's own result."""
        try:
            return self.cli(*args, check=False, timeout=timeout)
        except EngineError:
            return None

    def stop(self):
        if self.proc is not None:
            stop_pid(self.proc.pid)
            self.proc.wait()
            self.proc = None

    def stop_helpers(self):
        """Stop what outlived the daemon (shims, conmons) and detach the mounts it left."""
        for pid in processes_mentioning(self.dir):
            stop_pid(pid, timeout=5)
        unmount_under(self.dir)

    def runtime_state(self, root, container_id):
        """``state`` of a container as the runtime under test reports it, via the engine's own root."""
        done = _run([self.runtime, "--root", root, "state", container_id], check=True, timeout=30)
        return json.loads(done.stdout)

    def runtime_entries(self):
        """Per-container state the runtime keeps under the roots the engine gave it."""
        entries = set()
        for root in self.runtime_roots():
            if os.path.isdir(root):
                entries.update(os.path.join(root, e) for e in os.listdir(root))
        return entries


class Containerd(_Daemon):
    """containerd 1.6 with shim io.containerd.runc.v2; ``ctr`` passes the runtime and its root."""

    name = "containerd"
    namespace = "pyrunc-test"
    # plugins that probe the host (btrfs, zfs, devmapper, aufs) or serve CRI/tracing: not needed here
    disabled = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
                "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
                "io.containerd.internal.v1.tracing"]

    def __init__(self, tmp, runtime, cgroup_parent):
        super().__init__(tmp, runtime, cgroup_parent)
        self.socket = os.path.join(self.dir, "containerd.sock")
        self.runtime_root = os.path.join(self.dir, "runtime-root")
        self.config = os.path.join(self.dir, "config.toml")

    def write_config(self):
        d = self.dir
        disabled = ", ".join(f'"{p}"' for p in self.disabled)
        with open(self.config, "w") as f:
            f.write(f'''version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = [{disabled}]

[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
''')

    def start(self):
        self.write_config()
        self._spawn(["containerd", "--config", self.config])
        _wait_for("containerd", lambda: os.path.exists(self.socket)
                  and self.cli("version", check=False).returncode == 0, 30, self.log)

    def cli(self, *args, check=True, timeout=30, input=None):
        return _run(self.argv(*args), check, timeout, input=input)

    def canary(self):
        done = self.cli("run", "--rm", *self.run_opts("canary"), HELLO_REF, "canary")
        assert GREETING in done.stdout, done.stdout

    def log_offset(self):
        return os.path.getsize(self.log)

    def require_shim_cgroups(self):
        """Skip a scenario that needs the shim to read the task's cgroup where it cannot."""
        missing = unmounted_hierarchies()
        if missing:
            pytest.skip(f"host: cgroup hierarchy {', '.join(missing)} is in /proc/self/cgroup but "
                        f"not mounted here; containerd's shim then loads no task cgroup")

    def shim_lost_cgroup(self, offset):
        """True when a shim failed to load a task's cgroup after ``offset`` in the log.

        The runc v2 shim (1.6) finds each v1 hierarchy by scanning /proc/self/mountinfo once; while
        other mounts come and go, that read can miss a line and the shim gives up on the task's
        cgroup ("cannot find cgroup mount destination"): no metrics, no OOM events for that task.
        That is the shim's race, not the runtime's doing, so a scenario may retry once it is seen.
        """
        with open(self.log, errors="replace") as f:
            f.seek(offset)
            return "cannot find cgroup mount destination" in f.read()

    def argv(self, *args):
        return ["ctr", "--address", self.socket, "--namespace", self.namespace, *args]

    def stop_helpers(self):
        """Stop leftover shims, then remove the sockets they would have removed themselves.

        A shim listens on /run/containerd/s/<sha256 of "ADDRESS/NAMESPACE/ID"> (containerd 1.6);
        one that has to be killed leaves its socket behind.
        """
        sockets = []
        for pid in processes_mentioning(self.socket):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().decode(errors="replace").split("\0")
            except OSError:
                continue
            flags = dict(zip(argv, argv[1:]))
            if "-id" in flags and "-namespace" in flags:
                key = f"{self.socket}/{flags['-namespace']}/{flags['-id']}"
                sockets.append(os.path.join(SHIM_SOCKETS, hashlib.sha256(key.encode()).hexdigest()))
        super().stop_helpers()
        for path in sockets:
            if os.path.exists(path):
                os.unlink(path)

    def fifo_opts(self):
        """ctr keeps a task's stdio fifos in /run/containerd/fifo by default, and leaves those of
        detached execs there: keep them in the tmp dir."""
        return ["--fifo-dir", os.path.join(self.dir, "fifo")]

    def run_opts(self, container_id):
        """ctr run options putting the container on the runtime under test, in our cgroup tree."""
        return ["--runc-binary", self.runtime, "--runc-root", self.runtime_root,
                "--cgroup", f"{self.cgroup_parent}/{container_id}", *self.fifo_opts()]

    def runtime_roots(self):
        # the shim appends the namespace to the root it is given
        return [os.path.join(self.runtime_root, self.namespace)]

    def containers(self):
        out = self.cli("containers", "list", "--quiet").stdout.split()
        return sorted(out + [f"task:{t}" for t in self.cli("tasks", "list", "--quiet").stdout.split()])

    def tasks(self):
        """{id: (pid, status)} from ``ctr task ls``."""
        lines = self.cli("tasks", "list").stdout.splitlines()[1:]
        return {f[0]: (int(f[1]), f[2]) for f in (line.split() for line in lines)}

    def wait_status(self, container_id, status, timeout=15):
        """Poll ``ctr task ls`` until the task reaches ``status`` (RUNNING, PAUSED, STOPPED)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.tasks().get(container_id, (0, None))[1] == status:
                return
            time.sleep(0.05)
        raise EngineError(f"task {container_id} not {status} after {timeout}s: {self.tasks()}")

    def run_detached(self, container_id, image, *command, opts=()):
        self.cli("run", "--detach", *self.run_opts(container_id), *opts, image, container_id,
                 *command)
        self.wait_status(container_id, "RUNNING")
        return self.tasks()[container_id][0]

    def remove(self, container_id):
        """Kill, delete the task and the container, as a scenario's last step."""
        if container_id in self.tasks():
            if self.tasks()[container_id][1] != "STOPPED":
                self.cli("tasks", "kill", "--all", "--signal", "SIGKILL", container_id)
                self.wait_status(container_id, "STOPPED")
            self.cli("tasks", "delete", container_id)
        self.cli("containers", "delete", container_id)

    def reset(self):
        listed = self.quietly("tasks", "list", "--quiet")
        for task in listed.stdout.split() if listed else ():
            self.quietly("tasks", "kill", "--all", "--signal", "SIGKILL", task)
            self.quietly("tasks", "delete", "--force", task)
        listed = self.quietly("containers", "list", "--quiet")
        for c in listed.stdout.split() if listed else ():
            self.quietly("containers", "delete", c)


class Dockerd(_Daemon):
    """dockerd 20.10 on its own socket, using the test's containerd, with the runtime as default."""

    name = "docker"
    client = "/usr/bin/docker"   # the daemon's own client; /usr/local/bin/docker may be another version

    def __init__(self, tmp, runtime, cgroup_parent, containerd):
        super().__init__(tmp, runtime, cgroup_parent)
        self.containerd = containerd             # the Containerd whose shims run our containers
        self.containerd_socket = containerd.socket
        self.socket = os.path.join(self.dir, "docker.sock")
        self.exec_root = os.path.join(self.dir, "exec")
        self.data_root = os.path.join(self.dir, "root")
        self.pidfile = os.path.join(self.dir, "docker.pid")
        self.config = os.path.join(self.dir, "daemon.json")
        self.storage_driver = None
        self.env = dict(os.environ, DOCKER_CONFIG=os.path.join(self.dir, "client"),
                        DOCKER_BUILDKIT="0")  # the classic builder runs RUN steps as containers

    def start(self):
        with open(self.config, "w") as f:
            json.dump({"runtimes": {"pyrunc": {"path": self.runtime}},
                       "default-runtime": "pyrunc",
                       # else dockerd 20.10 writes its trust key to /etc/docker/key.json
                       "deprecated-key-path": os.path.join(self.dir, "key.json")}, f, indent=2)
        os.makedirs(self.data_root, exist_ok=True)
        self.storage_driver = "overlay2" if overlay_works(self.data_root) else "vfs"
        self._spawn([
            "dockerd", "--config-file", self.config,
            "--data-root", self.data_root, "--exec-root", self.exec_root,
            "--pidfile", self.pidfile, "--host", f"unix://{self.socket}",
            "--containerd", self.containerd_socket,
            "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--bridge=none",
            "--userland-proxy=false",
            "--storage-driver", self.storage_driver,
            "--exec-opt", "native.cgroupdriver=cgroupfs",
            "--cgroup-parent", self.cgroup_parent,
        ])
        _wait_for("dockerd", lambda: os.path.exists(self.socket)
                  and self.cli("version", check=False).returncode == 0, 60, self.log)

    def argv(self, *args):
        return [self.client, "--host", f"unix://{self.socket}", *args]

    def cli(self, *args, check=True, timeout=60, input=None):
        return _run(self.argv(*args), check, timeout, env=self.env, input=input)

    def canary(self):
        done = self.cli("run", "--rm", "hello-world")
        assert GREETING in done.stdout, done.stdout

    def inspect(self, name):
        return json.loads(self.cli("inspect", "--format", "{{json .}}", name).stdout)

    def runtime_roots(self):
        # dockerd hands each runtime <exec-root>/runtime-<name>; the shim appends the namespace
        return sorted(glob.glob(os.path.join(self.exec_root, "runtime-*", "moby")))

    def runtime_root(self):
        roots = self.runtime_roots()
        assert len(roots) == 1, f"expected one runtime root under {self.exec_root}: {roots}"
        return roots[0]

    def containers(self):
        return sorted(self.cli("ps", "--all", "--quiet", "--no-trunc").stdout.split())

    def reset(self):
        listed = self.quietly("ps", "--all", "--quiet", "--no-trunc")
        if listed and listed.stdout.split():
            self.quietly("rm", "--force", *listed.stdout.split(), timeout=60)


class Podman(_Daemon):
    """podman 4 + conmon, daemonless: every call names the runtime, roots and cgroup manager."""

    name = "podman"

    def __init__(self, tmp, runtime, cgroup_parent):
        super().__init__(tmp, runtime, cgroup_parent)
        self.root = os.path.join(self.dir, "root")
        self.runroot = os.path.join(self.dir, "runroot")
        self.tmpdir = os.path.join(self.dir, "tmp")
        self.runtime_root = os.path.join(self.dir, "runtime-root")
        self.wrapper = os.path.join(self.dir, "bin", "pyrunc")
        self.storage_driver = None
        self.env = dict(os.environ,
                        CONTAINERS_CONF=os.path.join(self.dir, "containers.conf"),
                        CONTAINERS_STORAGE_CONF=os.path.join(self.dir, "storage.conf"),
                        CONTAINERS_REGISTRIES_CONF=os.path.join(self.dir, "registries.conf"))

    def write_wrapper(self):
        """A launcher named ``pyrunc`` that pins the runtime's --root inside the tmp dir.

        Podman passes a root runtime no --root, so it would use its default (/run/runc for runc),
        shared with everything else on the host; ``--runtime-flag root=`` reaches podman's own
        calls but not the ``podman container cleanup`` that conmon runs when a container exits.
        The name also makes podman look the runtime up in runtime_supports_json as ``pyrunc``.
        """
        os.makedirs(os.path.dirname(self.wrapper), exist_ok=True)
        with open(self.wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec "{self.runtime}" --root "{self.runtime_root}" "$@"\n')
        os.chmod(self.wrapper, 0o755)

    def start(self):
        os.makedirs(self.root, exist_ok=True)
        self.write_wrapper()
        self.storage_driver = "overlay" if overlay_works(self.root) else "vfs"
        d = self.dir
        with open(self.env["CONTAINERS_CONF"], "w") as f:
            f.write(f'''[containers]
netns = "none"
log_driver = "k8s-file"
# podman's defaults raise nofile/nproc to 1048576, above a hard limit the runtime may not raise
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[network]
network_config_dir = "{d}/net"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{d}/events.log"
# podman passes --log-format=json --log FILE, and reads errors from FILE, only to these runtimes
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "pyrunc"]

[engine.runtimes]
pyrunc = ["{self.wrapper}"]
''')
        with open(self.env["CONTAINERS_STORAGE_CONF"], "w") as f:
            f.write(f'[storage]\ndriver = "{self.storage_driver}"\n'
                    f'graphroot = "{self.root}"\nrunroot = "{self.runroot}"\n')
        with open(self.env["CONTAINERS_REGISTRIES_CONF"], "w") as f:
            f.write("unqualified-search-registries = []\n")

    def argv(self, *args):
        return ["podman", "--root", self.root, "--runroot", self.runroot, "--tmpdir", self.tmpdir,
                "--cgroup-manager", "cgroupfs", "--storage-driver", self.storage_driver,
                "--events-backend", "file", "--runtime", self.wrapper, *args]

    def cli(self, *args, check=True, timeout=60, input=None):
        return _run(self.argv(*args), check, timeout, env=self.env, input=input)

    def canary(self):
        done = self.cli("run", "--rm", *self.run_opts(), "localhost/hello-world:latest")
        assert GREETING in done.stdout, done.stdout

    def run_opts(self):
        return ["--network", "none", "--cgroup-parent", self.cgroup_parent]

    def inspect(self, name):
        return json.loads(self.cli("inspect", "--format", "{{json .}}", name).stdout)

    def runtime_roots(self):
        return [self.runtime_root]

    def containers(self):
        return sorted(self.cli("ps", "--all", "--quiet", "--no-trunc").stdout.split())

    def reset(self):
        if self.storage_driver is not None:   # configured by start()
            self.quietly("rm", "--all", "--force", "--time", "0", timeout=60)

