"""End-to-end fixtures: drive the `pyrunc` binary on real bundles.

Each test gets its own --root, container ids and an absolute cgroupsPath under
/pyrunc-test (the shell's own memory cgroup belongs to the machine's
supervisor and must never get children).  After each test every container is
force-deleted and the test fails if anything was left behind.
"""

import copy
import json
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

from pyrunc.oci.defaults import default_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYRUNC = os.environ.get("PYRUNC", os.path.join(ROOT, "bin", "pyrunc"))
# One parent per xdist worker, so that one worker's clean-up never races
# another's containers.
CGROUP_PARENT = "/pyrunc-test-" + os.environ.get("PYTEST_XDIST_WORKER", "main")
CGROUP_MOUNT = "/sys/fs/cgroup"


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory):
    """One busybox rootfs for the session, used read-only by every bundle."""
    if not os.path.exists("/bin/busybox"):
        pytest.skip("requires busybox-static (/bin/busybox)")
    # Outside pytest's 0700 tmp tree: a user namespace's root must reach it.
    base = tempfile.mkdtemp(prefix="pyrunc-rootfs-")
    os.chmod(base, 0o755)
    subprocess.run([os.path.join(ROOT, "bundles", "make-rootfs"), base], check=True)
    yield os.path.join(base, "rootfs")
    shutil.rmtree(base)


def base_config(rootfs, cgroup):
    cfg = default_spec()
    cfg["root"] = {"path": rootfs, "readonly": True}
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["true"]
    cfg["linux"]["cgroupsPath"] = cgroup
    # A writable /tmp for tests that need one, on top of the read-only rootfs.
    cfg["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                          "options": ["nosuid", "nodev", "mode=1777"]})
    return cfg


def _cgroup_dirs(rel):
    out = []
    for ctrl in sorted(os.listdir(CGROUP_MOUNT)):
        p = os.path.join(CGROUP_MOUNT, ctrl, rel.lstrip("/"))
        if os.path.isdir(p):
            out.append(p)
    return out


class Runtime:
    """A pyrunc with a private --root, and bundles made on demand."""

    def __init__(self, tmp_path, rootfs, name):
        self.tmp = tmp_path
        self.root = str(tmp_path / "state")
        self.rootfs = rootfs
        self.tag = f"{name[:40]}-{uuid.uuid4().hex[:6]}"
        self.ids = []
        self.cgroups = []

    def cmd(self, *args, root=True):
        argv = [PYRUNC] + (["--root", self.root] if root else []) + [str(a) for a in args]
        return argv

    def __call__(self, *args, input=None, timeout=60, check=False, env=None, **kw):
        # Files, not pipes: a detached container inherits pyrunc's stdio and
        # would hold a pipe open (runc's contract is the same).
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            p = subprocess.run(self.cmd(*args), input=input, stdout=out, stderr=err, text=True,
                               timeout=timeout, env=env, **kw)
            out.seek(0)
            err.seek(0)
            p.stdout, p.stderr = out.read(), err.read()
        if check and p.returncode != 0:
            raise AssertionError(f"pyrunc {' '.join(map(str, args))} -> {p.returncode}: {p.stderr}")
        return p

    def new_id(self, stem="c"):
        cid = f"{stem}-{uuid.uuid4().hex[:8]}"
        self.ids.append(cid)
        return cid

    def config(self, args=None, **overrides):
        cg = f"{CGROUP_PARENT}/{self.tag}-{len(self.cgroups)}"
        self.cgroups.append(cg)
        cfg = base_config(self.rootfs, cg)
        if args is not None:
            cfg["process"]["args"] = list(args)
        for k, v in overrides.items():
            cfg[k] = v
        return cfg

    def bundle(self, cfg=None, args=None, name=None):
        cfg = copy.deepcopy(cfg) if cfg is not None else self.config(args)
        d = self.tmp / (name or f"bundle-{uuid.uuid4().hex[:6]}")
        d.mkdir()
        (d / "config.json").write_text(json.dumps(cfg, indent=1))
        return str(d)

    def run(self, cfg=None, args=None, *extra, timeout=60):
        """pyrunc run in the foreground; returns the CompletedProcess."""
        b = self.bundle(cfg, args)
        cid = self.new_id()
        return self("run", "--bundle", b, *extra, cid, timeout=timeout)

    def state(self, cid):
        p = self("state", cid, check=True)
        return json.loads(p.stdout)

    def cleanup(self):
        leftovers = []
        for cid in self.ids:
            self("delete", "--force", cid)
        if os.path.isdir(self.root):
            left = os.listdir(self.root)
            if left:
                leftovers.append(f"state dirs: {left}")
        for cg in self.cgroups:
            dirs = _cgroup_dirs(cg)
            if dirs:
                leftovers.append(f"cgroups: {dirs}")
                for d in dirs:
                    try:
                        os.rmdir(d)
                    except OSError:
                        pass
        return leftovers


@pytest.fixture
def rt(tmp_path, rootfs, request):
    r = Runtime(tmp_path, rootfs, request.node.name.replace("[", "-").replace("]", ""))
    yield r
    leftovers = r.cleanup()
    assert not leftovers, f"left behind: {leftovers}"


@pytest.fixture(scope="session", autouse=True)
def _cgroup_parent():
    yield
    for d in _cgroup_dirs(CGROUP_PARENT):
        try:
            os.rmdir(d)
        except OSError:
            pass


def requires_root():
    return pytest.mark.skipif(os.geteuid() != 0, reason="requires root")


