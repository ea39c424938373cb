"""The harness itself: the leak check must see leaks, the images must be well formed, the
package and terminal helpers must report their failures."""

import hashlib
import io
import json
import subprocess
import tarfile

import pytest

import engine_host as host
from engine_images import GREETING, build_images, qualified
from engine_leaks import Snapshot, leaks

BUSYBOX = f"{qualified('pyrunc-test/busybox')}:latest"

pytestmark = pytest.mark.engines


def test_leak_check_sees_a_left_container(containerd_engine, engine_tmp, name):
    engine = containerd_engine
    if engine.broken:
        pytest.fail(f"containerd canary failed: {engine.broken}", pytrace=False)
    before = Snapshot(engine, engine_tmp, engine.cgroup_parent)
    pid = engine.run_detached(name, BUSYBOX, "sleep", "1000")
    try:
        problems = leaks(engine, before, engine_tmp, engine.cgroup_parent)
        assert set(problems) == {"containers the engine still lists", "runtime state", "cgroups",
                                 "mounts", "processes"}, problems
        assert any(p.startswith(f"{pid}: ") for p in problems["processes"])
        assert any(d.endswith(f"{engine.cgroup_parent}/{name}") for d in problems["cgroups"])
    finally:
        engine.remove(name)
    # what remains is only the shim on its way out
    assert not {k: v for k, v in leaks(engine, before, engine_tmp, engine.cgroup_parent).items()
                if k != "processes"}
    assert not host.live(pid)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_images(str(tmp_path_factory.mktemp("images")))


def _members(path):
    with tarfile.open(path) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else None)
                for m in tar.getmembers()}


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def test_docker_archive_is_consistent(built):
    files = _members(built["busybox"].docker_archive)
    [manifest] = json.loads(files["manifest.json"])
    assert manifest["RepoTags"] == ["pyrunc-test/busybox:latest"]
    config = files[manifest["Config"]]
    assert manifest["Config"] == f"{_sha(config)}.json"
    layer = files[manifest["Layers"][0]]
    assert json.loads(config)["rootfs"]["diff_ids"] == [f"sha256:{_sha(layer)}"]
    assert json.loads(files["repositories"]) == {
        "pyrunc-test/busybox": {"latest": manifest["Layers"][0].split("/")[0]}}


def test_oci_archive_blobs_match_digests(built):
    files = _members(built["hello"].oci_archive)
    blobs = {name.rpartition("/")[2]: data for name, data in files.items()
             if name.startswith("blobs/sha256/") and data is not None}
    assert all(_sha(data) == digest for digest, data in blobs.items())
    [desc] = json.loads(files["index.json"])["manifests"]
    assert desc["annotations"]["io.containerd.image.name"] == "docker.io/library/hello-world:latest"
    manifest = json.loads(blobs[desc["digest"].split(":")[1]])
    for ref in [manifest["config"], *manifest["layers"]]:
        assert len(blobs[ref["digest"].split(":")[1]]) == ref["size"]


def _has_interpreter(elf):
    """True when an ELF64 file has a PT_INTERP program header (it needs a dynamic loader)."""
    phoff = int.from_bytes(elf[0x20:0x28], "little")
    phentsize = int.from_bytes(elf[0x36:0x38], "little")
    phnum = int.from_bytes(elf[0x38:0x3a], "little")
    return any(int.from_bytes(elf[phoff + i * phentsize:][:4], "little") == 3   # PT_INTERP
               for i in range(phnum))


def test_hello_binary_is_static_and_greets(built, tmp_path):
    files = _members(built["hello"].docker_archive)
    [manifest] = json.loads(files["manifest.json"])
    with tarfile.open(fileobj=io.BytesIO(files[manifest["Layers"][0]])) as layer:
        binary = layer.extractfile("hello").read()
    path = tmp_path / "hello"
    path.write_bytes(binary)
    path.chmod(0o755)
    assert not _has_interpreter(binary)     # static: runs in a rootfs with no libc
    assert GREETING in subprocess.run([str(path)], capture_output=True, text=True).stdout


def test_busybox_layer_has_the_applets_and_users(built):
    files = _members(built["busybox"].oci_archive)
    index = json.loads(files["index.json"])
    blobs = {n.rpartition("/")[2]: d for n, d in files.items() if n.startswith("blobs/sha256/")}
    manifest = json.loads(blobs[index["manifests"][0]["digest"].split(":")[1]])
    layer = blobs[manifest["layers"][0]["digest"].split(":")[1]]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        names = {m.name: m for m in tar.getmembers()}
        passwd = tar.extractfile("etc/passwd").read().decode()
    for applet in ("sh", "dd", "unshare", "seq", "tty", "sleep", "id"):
        assert names[f"bin/{applet}"].issym()
    assert names["tmp"].mode == 0o1777
    assert "tester:x:1000:1000:" in passwd and "nobody:x:65534:65534:" in passwd


def test_missing_packages_maps_binaries_to_packages(monkeypatch):
    monkeypatch.setattr(host.os.path, "exists", lambda p: p != "/usr/bin/conmon")
    assert host.missing_packages(["/usr/bin/podman", "/usr/bin/conmon"]) == ["conmon"]
    monkeypatch.setattr(host.os.path, "exists", lambda p: True)
    assert host.ensure_packages(["/usr/bin/conmon"]) == []


def test_ensure_packages_reports_apt_failure(monkeypatch):
    monkeypatch.setattr(host.os.path, "exists", lambda p: False)
    monkeypatch.setattr(host.os, "geteuid", lambda: 0)
    calls = []

    def failing_apt(argv, **kw):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 100, "", "E: Unable to locate package conmon")
    monkeypatch.setattr(host.subprocess, "run", failing_apt)
    with pytest.raises(RuntimeError, match="apt-get update -q: exit 100: E: Unable to locate"):
        host.ensure_packages(["/usr/bin/conmon"])
    assert calls == [["apt-get", "update", "-q"]]


def test_apt_runs_with_service_starts_forbidden(monkeypatch, tmp_path):
    policy = tmp_path / "policy-rc.d"
    monkeypatch.setattr(host, "POLICY_RC_D", str(policy))
    monkeypatch.setattr(host.os.path, "exists", lambda p: p == str(policy) and policy.exists())
    monkeypatch.setattr(host.os, "geteuid", lambda: 0)
    seen = []
    real_run = subprocess.run

    def apt(argv, **kw):
        seen.append(real_run([str(policy)]).returncode)
        return subprocess.CompletedProcess(argv, 0, "", "")
    monkeypatch.setattr(host.subprocess, "run", apt)
    with pytest.raises(RuntimeError, match="still missing"):   # the fake apt installs nothing
        host.ensure_packages(["/usr/bin/conmon"])
    assert seen == [101, 101]          # invoke-rc.d would refuse every start during apt
    assert not policy.exists()         # and the host's policy is as before


def test_ensure_packages_needs_root(monkeypatch):
    monkeypatch.setattr(host.os.path, "exists", lambda p: False)
    monkeypatch.setattr(host.os, "geteuid", lambda: 1000)
    with pytest.raises(RuntimeError, match="missing packages conmon and not root"):
        host.ensure_packages(["/usr/bin/conmon"])


def test_run_in_pty_gives_a_terminal_and_input():
    rc, out = host.run_in_pty(["sh", "-c", 'tty; read line; echo "got $line"; exit 4'],
                              send=b"typed\n")
    assert rc == 4
    assert "/dev/pts/" in out and "got typed" in out


def test_run_in_pty_times_out():
    with pytest.raises(TimeoutError, match="sleep: no exit within 0.5s"):
        host.run_in_pty(["sleep", "30"], timeout=0.5)
