"""Build the engine tests' images locally, as tarballs the engines can load without a registry.

Two images:

- ``hello``: one static binary, compiled from C with ``gcc -static`` at test time, that prints a
  greeting and exits 0 (the part of hello-world the scenarios rely on).
- ``busybox``: /bin/busybox from busybox-static with a symlink per applet, an /etc/passwd and
  /etc/group naming root, nobody and an unprivileged ``tester`` (uid 1000), a world-writable /tmp,
  and /var/tmp/from-image (what a "tmpcopyup" tmpfs on /var/tmp must still show).

Each image is a single uncompressed layer. It is written in two formats:

- docker-archive (what ``docker save`` writes): manifest.json, repositories, ``<id>/layer.tar``,
  ``<id>/json``, ``<id>/VERSION`` and the config as ``<sha256>.json``. ``docker load`` (20.10),
  ``ctr images import`` and ``podman load`` accept it.
- oci-archive (an OCI image layout in a tar): oci-layout, index.json, blobs/sha256/*. The manifest's
  descriptor carries ``io.containerd.image.name`` (the name ``ctr images import`` gives the image) and
  ``org.opencontainers.image.ref.name`` (the name ``podman load`` gives it).

Everything is built with ``tarfile`` into a directory the caller owns; nothing binary is committed.
"""

import hashlib
import io
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass

GREETING = "Hello from pyrunc's engine tests!"

HELLO_C = r"""
#include <unistd.h>
static const char msg[] = "\n%s\n"
    "This message shows that your installation appears to be working correctly.\n";
int main(void) {
    /* one write(2) of the whole text: no stdio buffering to lose if the container is killed */
    return write(1, msg, sizeof(msg) - 1) == (ssize_t)(sizeof(msg) - 1) ? 0 : 1;
}
"""

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "tester:x:1000:1000:tester:/home/tester:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP = "root:x:0:\ntester:x:1000:\nnobody:x:65534:\n"


@dataclass(frozen=True)
class Image:
    """One built image: its reference and the two tarballs that hold it."""
    name: str            # repository, e.g. "pyrunc-test/busybox"
    tag: str
    docker_archive: str  # path of the docker-save tarball
    oci_archive: str     # path of the OCI layout tarball

    @property
    def ref(self):
        return f"{self.name}:{self.tag}"


class _Layer:
    """An uncompressed layer tar built in memory, entries owned by root with a fixed mtime."""

    def __init__(self):
        self._buf = io.BytesIO()
        self._tar = tarfile.open(fileobj=self._buf, mode="w", format=tarfile.PAX_FORMAT)

    def _info(self, path, kind, mode):
        info = tarfile.TarInfo(path)
        info.type, info.mode, info.mtime = kind, mode, 1700000000
        return info

    def dir(self, path, mode=0o755):
        self._tar.addfile(self._info(path, tarfile.DIRTYPE, mode))

    def file(self, path, data, mode=0o644):
        info = self._info(path, tarfile.REGTYPE, mode)
        info.size = len(data)
        self._tar.addfile(info, io.BytesIO(data))

    def symlink(self, path, target):
        info = self._info(path, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self._tar.addfile(info)

    def bytes(self):
        self._tar.close()
        return self._buf.getvalue()


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _config(layer_digest, cmd, entrypoint=None):
    """The image config (OCI image-spec config.md; docker's image JSON is a superset)."""
    config = {"Env": [PATH_ENV], "Cmd": cmd, "WorkingDir": "/"}
    if entrypoint:
        config["Entrypoint"] = entrypoint
    return {
        "architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "tests/engines/images.py"}],
    }


def _add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar, name):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1700000000
    tar.addfile(info)


def write_docker_archive(path, name, tag, layer, config):
    """Write the ``docker save`` format (docker's image/spec/v1.2 layout)."""
    layer_digest = _sha256(layer)
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_digest = _sha256(config_bytes)
    # the legacy v1 layer id only has to be unique and stable; the layer digest is both
    layer_id = layer_digest
    manifest = [{"Config": f"{config_digest}.json", "RepoTags": [f"{name}:{tag}"],
                 "Layers": [f"{layer_id}/layer.tar"]}]
    with tarfile.open(path, "w") as tar:
        _add_dir(tar, layer_id)
        _add_bytes(tar, f"{layer_id}/VERSION", b"1.0")
        _add_bytes(tar, f"{layer_id}/json", json.dumps({"id": layer_id}).encode())
        _add_bytes(tar, f"{layer_id}/layer.tar", layer)
        _add_bytes(tar, f"{config_digest}.json", config_bytes)
        _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
        _add_bytes(tar, "repositories", json.dumps({name: {tag: layer_id}}).encode())


def write_oci_archive(path, name, tag, layer, config):
    """Write an OCI image layout (image-spec image-layout.md) as a tar."""
    config_bytes = json.dumps(config, sort_keys=True).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": f"sha256:{_sha256(config_bytes)}", "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": f"sha256:{_sha256(layer)}", "size": len(layer)}],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": f"sha256:{_sha256(manifest_bytes)}", "size": len(manifest_bytes),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": f"{qualified(name)}:{tag}",
                            "org.opencontainers.image.ref.name": f"{name}:{tag}"},
        }],
    }
    with tarfile.open(path, "w") as tar:
        _add_bytes(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        _add_dir(tar, "blobs")
        _add_dir(tar, "blobs/sha256")
        for blob in (layer, config_bytes, manifest_bytes):
            _add_bytes(tar, f"blobs/sha256/{_sha256(blob)}", blob)
        _add_bytes(tar, "index.json", json.dumps(index).encode())


def qualified(name):
    """The fully qualified name docker and containerd give a short reference (docker.io/library/x)."""
    if "/" not in name:
        name = f"library/{name}"
    return name if "." in name.split("/")[0] else f"docker.io/{name}"


def _base_dirs(layer):
    for d in ("bin", "dev", "etc", "proc", "sys", "root", "home", "usr", "usr/bin", "var"):
        layer.dir(d)
    layer.dir("tmp", 0o1777)


def compile_hello(workdir):
    """Compile the greeting program statically; returns the binary's bytes."""
    src = os.path.join(workdir, "hello.c")
    out = os.path.join(workdir, "hello")
    with open(src, "w") as f:
        f.write(HELLO_C.replace("%s", GREETING))
    subprocess.run(["gcc", "-static", "-Os", "-s", "-o", out, src], check=True,
                   capture_output=True, text=True)
    with open(out, "rb") as f:
        return f.read()


def hello_layer(binary):
    layer = _Layer()
    _base_dirs(layer)
    layer.file("hello", binary, 0o755)
    return layer.bytes()


def busybox_layer(busybox="/bin/busybox"):
    layer = _Layer()
    _base_dirs(layer)
    with open(busybox, "rb") as f:
        layer.file("bin/busybox", f.read(), 0o755)
    applets = subprocess.run([busybox, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    for applet in sorted(set(applets) - {"busybox"}):
        layer.symlink(f"bin/{applet}", "busybox")
    layer.file("etc/passwd", PASSWD.encode())
    layer.file("etc/group", GROUP.encode())
    layer.dir("home/tester")
    # content under a directory podman covers with a tmpfs on --read-only: its "tmpcopyup" mount
    # option asks the runtime to copy this into the new tmpfs
    layer.dir("var/tmp", 0o1777)
    layer.file("var/tmp/from-image", b"copied up\n")
    return layer.bytes()


def build_images(workdir):
    """Build both images into ``workdir``; returns {"hello": Image, "busybox": Image}."""
    os.makedirs(workdir, exist_ok=True)
    specs = {
        "hello": ("hello-world", hello_layer(compile_hello(workdir)), ["/hello"]),
        "busybox": ("pyrunc-test/busybox", busybox_layer(), ["sh"]),
    }
    images = {}
    for key, (name, layer, cmd) in specs.items():
        config = _config(_sha256(layer), cmd)
        docker_path = os.path.join(workdir, f"{key}.docker.tar")
        oci_path = os.path.join(workdir, f"{key}.oci.tar")
        write_docker_archive(docker_path, name, "latest", layer, config)
        write_oci_archive(oci_path, name, "latest", layer, config)
        images[key] = Image(name, "latest", docker_path, oci_path)
    return images
