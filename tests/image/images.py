"""Build small test images from the host's /bin/busybox (busybox-static).

Nothing binary is committed: every image is made at test time.  Used by the
image tool's tests and by other suites (engines, conformance) that need a
runnable image.  The busybox image runs ``/bin/hello``, which prints GREETING.

    layer = busybox_layer()
    busybox_oci_layout(dir)                 # oci:DIR:latest
    busybox_oci_archive(file)               # oci-archive:FILE:latest
    busybox_docker_archive(file)            # docker-archive:FILE:busybox:latest
"""

import gzip
import hashlib
import io
import json
import os
import platform
import subprocess
import tarfile

BUSYBOX = "/bin/busybox"
GREETING = "Hello from pyrunc!"
MTIME = 1700000000
APPLETS = ["sh", "echo", "cat", "ls", "true", "false", "sleep", "id", "env", "pwd", "stat", "mkdir",
           "rm", "touch", "grep", "ps", "kill", "hostname", "mount", "readlink", "printf", "test",
           "head", "wc", "uname", "chmod", "ln", "mknod", "whoami"]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_MT = {"": "application/vnd.oci.image.layer.v1.tar",
            "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
            "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
           "s390x": "s390x", "riscv64": "riscv64", "i686": "386"}


def host_arch():
    return _GOARCH.get(platform.machine(), platform.machine())


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- layers ---------------------------------------------------------------------------

def tar_layer(entries):
    """Uncompressed tar bytes from entry dicts:
    {"name", "type": file|dir|symlink|link|fifo|char|block, "data": bytes,
     "mode", "uid", "gid", "target", "major", "minor", "xattrs": {k: str}, "mtime"}.
    A whiteout is a file named ``.wh.NAME`` (or ``.wh..wh..opq``)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            kind = e.get("type", "file")
            ti = tarfile.TarInfo(e["name"])
            ti.mtime = e.get("mtime", MTIME)
            ti.uid, ti.gid = e.get("uid", 0), e.get("gid", 0)
            ti.uname = ti.gname = ""
            data = None
            if kind == "file":
                ti.type = tarfile.REGTYPE
                data = e.get("data", b"")
                ti.size = len(data)
                ti.mode = e.get("mode", 0o644)
            elif kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, e.get("mode", 0o755)
            elif kind == "symlink":
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, e["target"], 0o777
            elif kind == "link":
                ti.type, ti.linkname, ti.mode = tarfile.LNKTYPE, e["target"], e.get("mode", 0o644)
            elif kind == "fifo":
                ti.type, ti.mode = tarfile.FIFOTYPE, e.get("mode", 0o644)
            elif kind in ("char", "block"):
                ti.type = tarfile.CHRTYPE if kind == "char" else tarfile.BLKTYPE
                ti.devmajor, ti.devminor = e.get("major", 1), e.get("minor", 3)
                ti.mode = e.get("mode", 0o666)
            else:
                raise ValueError(kind)
            if e.get("xattrs"):
                ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in e["xattrs"].items()}
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def busybox_layer(greeting=GREETING):
    """A runnable busybox rootfs: /bin/busybox, applet symlinks, /bin/hello,
    /etc/passwd and /etc/group (root, daemon and nobody)."""
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    entries = [{"name": d, "type": "dir"} for d in ("bin", "etc", "tmp", "root", "home", "proc", "sys", "dev")]
    entries[2]["mode"] = 0o1777
    entries.append({"name": "bin/busybox", "data": busybox, "mode": 0o755})
    entries += [{"name": f"bin/{a}", "type": "symlink", "target": "busybox"} for a in APPLETS]
    entries.append({"name": "bin/hello", "mode": 0o755,
                    "data": f"#!/bin/sh\necho '{greeting}'\n".encode()})
    entries.append({"name": "etc/passwd", "data": b"root:x:0:0:root:/root:/bin/sh\n"
                    b"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                    b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"})
    entries.append({"name": "etc/group", "data": b"root:x:0:\ndaemon:x:1:\nusers:x:100:daemon\n"
                    b"nogroup:x:65534:\n"})
    return tar_layer(entries)


def compress(data, compression):
    if compression == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if compression == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout
    return data


# -- configs --------------------------------------------------------------------------

def image_config(diff_ids, cmd=("/bin/hello",), entrypoint=None, env=None, user="", workdir="",
                 labels=None, volumes=None, arch=None, os_name="linux", **extra):
    config = {"Env": env if env is not None else
              ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
              "Cmd": list(cmd) if cmd else None}
    if entrypoint:
        config["Entrypoint"] = list(entrypoint)
    if user:
        config["User"] = user
    if workdir:
        config["WorkingDir"] = workdir
    if labels:
        config["Labels"] = labels
    if volumes:
        config["Volumes"] = {v: {} for v in volumes}
    doc = {"created": "2023-11-14T22:13:20Z", "architecture": arch or host_arch(), "os": os_name,
           "config": config, "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
           "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "tests/image/images.py"}]}
    doc.update(extra)
    return doc


# -- OCI layout -----------------------------------------------------------------------

def _put_blob(layout, data):
    digest = sha256(data)
    path = os.path.join(layout, "blobs", "sha256", digest.split(":")[1])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": digest, "size": len(data)}


def add_image(layout, layers, config=None, compression="gzip", **config_kw):
    """Write layers, config and manifest blobs; return the manifest descriptor
    (not yet in index.json).  layers: uncompressed tar bytes."""
    os.makedirs(layout, exist_ok=True)
    diff_ids = [sha256(l) for l in layers]
    config = config if config is not None else image_config(diff_ids, **config_kw)
    cfg = dict(_put_blob(layout, json.dumps(config).encode()), mediaType=OCI_CONFIG)
    descs = [dict(_put_blob(layout, compress(l, compression)), mediaType=LAYER_MT[compression])
             for l in layers]
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": descs}
    desc = dict(_put_blob(layout, json.dumps(manifest).encode()), mediaType=OCI_MANIFEST)
    desc["platform"] = {"os": config.get("os"), "architecture": config.get("architecture")}
    return desc


def write_index(layout, descriptors):
    """index.json and oci-layout for a list of manifest/index descriptors."""
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}, f)


def with_ref(desc, ref):
    return dict(desc, annotations={"org.opencontainers.image.ref.name": ref})


def write_oci_layout(layout, layers, ref="latest", compression="gzip", config=None, **config_kw):
    """A one-image OCI layout; returns the manifest descriptor."""
    desc = add_image(layout, layers, config=config, compression=compression, **config_kw)
    write_index(layout, [with_ref(desc, ref) if ref else desc])
    return desc


def tar_directory(directory, archive):
    """Pack a directory's contents (names relative to it) into an uncompressed tar."""
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tf:
        for name in sorted(os.listdir(directory)):
            tf.add(os.path.join(directory, name), arcname=name)
    return archive


def write_oci_archive(archive, layers, ref="latest", compression="gzip", workdir=None, **kw):
    """The same image as write_oci_layout, packed as an oci-archive tar."""
    import tempfile
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        desc = write_oci_layout(os.path.join(tmp, "layout"), layers, ref, compression, **kw)
        tar_directory(os.path.join(tmp, "layout"), archive)
    return desc


def write_docker_archive(archive, layers, tag="busybox:latest", config=None, **config_kw):
    """``docker save`` format: manifest.json, <hex>.json config, <id>/layer.tar."""
    diff_ids = [sha256(l) for l in layers]
    config = config if config is not None else image_config(diff_ids, **config_kw)
    cfg_data = json.dumps(config).encode()
    cfg_name = sha256(cfg_data).split(":")[1] + ".json"
    files = {cfg_name: cfg_data}
    names = []
    for l in layers:
        name = hashlib.sha256(l).hexdigest() + "/layer.tar"
        files[name] = l
        names.append(name)
    files["manifest.json"] = json.dumps([{"Config": cfg_name, "RepoTags": [tag] if tag else None,
                                          "Layers": names}]).encode()
    with tarfile.open(archive, "w") as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), MTIME, 0o644
            tf.addfile(ti, io.BytesIO(data))
    return archive


# -- the busybox image in each format ------------------------------------------------

def busybox_oci_layout(layout, ref="latest", compression="gzip", **config_kw):
    """oci:LAYOUT:REF of the busybox image; returns the layout path."""
    write_oci_layout(layout, [busybox_layer()], ref=ref, compression=compression, **config_kw)
    return layout


def busybox_oci_archive(archive, ref="latest", compression="gzip", **config_kw):
    """oci-archive:ARCHIVE:REF of the busybox image; returns the archive path."""
    write_oci_archive(archive, [busybox_layer()], ref=ref, compression=compression,
                      workdir=os.path.dirname(os.path.abspath(archive)), **config_kw)
    return archive


def busybox_docker_archive(archive, tag="busybox:latest", **config_kw):
    """docker-archive:ARCHIVE (docker save format) of the busybox image."""
    return write_docker_archive(archive, [busybox_layer()], tag=tag, **config_kw)


# -- a multi-layer image exercising the layer rules ------------------------------------

def multilayer_layers(files_per_dir=40):
    """Three layers over busybox: many files, whiteouts (plain, of a
    directory, opaque, and of something the same layer makes), hardlinks,
    symlinks replaced by files, type changes, devices, a fifo, odd modes,
    owners and an xattr.  Returns a list of uncompressed tar layers."""
    l1 = [{"name": "usr", "type": "dir"}, {"name": "usr/share", "type": "dir"}]
    for d in range(8):
        l1.append({"name": f"usr/share/d{d}", "type": "dir", "mode": 0o755})
        for i in range(files_per_dir):
            l1.append({"name": f"usr/share/d{d}/f{i}", "data": (f"{d}-{i}\n" * (i + 1)).encode(),
                       "mode": 0o644 if i % 3 else 0o600, "uid": i % 5, "gid": i % 7})
    l1 += [
        {"name": "opt", "type": "dir"}, {"name": "opt/old", "type": "dir"},
        {"name": "opt/old/a", "data": b"a\n"}, {"name": "opt/old/sub", "type": "dir"},
        {"name": "opt/old/sub/b", "data": b"b\n"},
        {"name": "data", "type": "dir", "mode": 0o750, "uid": 1, "gid": 1},
        {"name": "data/keep", "data": b"keep\n"}, {"name": "data/remove", "data": b"gone\n"},
        {"name": "data/dir-remove", "type": "dir"}, {"name": "data/dir-remove/x", "data": b"x\n"},
        {"name": "data/becomes-file", "type": "dir"}, {"name": "data/becomes-file/y", "data": b"y\n"},
        {"name": "data/becomes-dir", "data": b"z\n"},
        {"name": "etc/alt", "type": "symlink", "target": "/etc/passwd"},
        {"name": "usr/bin", "type": "dir"},
        {"name": "usr/bin/setuid", "data": b"#!/bin/sh\n", "mode": 0o4755, "uid": 0, "gid": 0},
        {"name": "usr/bin/setgid", "data": b"#!/bin/sh\n", "mode": 0o2711, "uid": 1000, "gid": 50},
        {"name": "usr/bin/owned", "data": b"o\n", "mode": 0o640, "uid": 1000, "gid": 1000},
        {"name": "usr/bin/xattr", "data": b"x\n", "xattrs": {"user.pyrunc": "value"}},
        {"name": "dev/null", "type": "char", "major": 1, "minor": 3, "mode": 0o666},
        {"name": "dev/loop9", "type": "block", "major": 7, "minor": 9, "mode": 0o660, "gid": 6},
        {"name": "run", "type": "dir"}, {"name": "run/fifo", "type": "fifo", "mode": 0o620},
        {"name": "private", "type": "dir", "mode": 0o700, "uid": 1, "gid": 1},
        {"name": "private/secret", "data": b"s\n", "mode": 0o400, "uid": 1, "gid": 1},
        {"name": "implicit/parent/file", "data": b"no parent entries\n"},
    ]
    l2 = [
        {"name": "data/.wh.remove", "data": b""},
        {"name": "data/.wh.dir-remove", "data": b""},
        {"name": "opt/old/.wh..wh..opq", "data": b""},
        {"name": "opt/old/new", "data": b"new\n"},
        {"name": "data/becomes-file", "data": b"now a file\n"},
        {"name": "data/becomes-dir", "type": "dir", "mode": 0o711},
        {"name": "data/becomes-dir/inside", "data": b"i\n"},
        {"name": "etc/alt", "data": b"a file replacing a symlink\n"},
        {"name": "usr/bin/hl1", "type": "link", "target": "bin/busybox"},
        {"name": "usr/bin/hl2", "type": "link", "target": "/usr/bin/owned"},
        {"name": "usr/share/d0/f0", "data": b"changed in layer 2\n", "mode": 0o664},
        {"name": "usr/share/d1/.wh.f1", "data": b""},
        {"name": "usr/share/.wh.d2", "data": b""},
        {"name": "usr/share/d3/.wh..wh..opq", "data": b""},
        {"name": "private", "type": "dir", "mode": 0o555, "uid": 2, "gid": 2},
    ]
    l3 = [
        {"name": "layer3", "type": "dir"},
        {"name": "layer3/made-here", "data": b"m\n"},
        {"name": "layer3/.wh.made-here", "data": b""},   # same layer: must not hide it
        {"name": "usr/share/d2", "type": "dir"},           # back after its whiteout
        {"name": "usr/share/d2/again", "data": b"again\n"},
        {"name": "usr/bin/.wh.hl1", "data": b""},
        {"name": "usr/bin/hl3", "type": "link", "target": "usr/bin/hl2"},
        {"name": "private/added", "data": b"added under a 0555 dir\n"},
    ]
    return [busybox_layer()] + [tar_layer(l) for l in (l1, l2, l3)]
