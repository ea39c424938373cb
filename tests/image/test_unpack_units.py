"""Pure unit tests of the image tool: parsing, tar headers, auth, users."""

import ast
import base64
import io
import json
import os
import tarfile

import pytest

from unpack_helpers import ROOT, images  # noqa: F401  (puts tests/image on sys.path)

from pyrunc.image import apply, layerstream, manifest, registry, source, spec, tarstream
from pyrunc.image.errors import ImageError
from pyrunc.image.rootfs import clean


# -- SOURCE and --platform -----------------------------------------------------------

@pytest.mark.parametrize("text,expect", [
    ("docker://busybox", ("docker.io", "library/busybox", "latest", "")),
    ("docker://docker.io/busybox:1.36", ("docker.io", "library/busybox", "1.36", "")),
    ("docker://index.docker.io/user/app", ("docker.io", "user/app", "latest", "")),
    ("docker://quay.io/org/app:v1", ("quay.io", "org/app", "v1", "")),
    ("docker://localhost:5000/a/b/c:t", ("localhost:5000", "a/b/c", "t", "")),
    ("docker://127.0.0.1:5000/x@sha256:" + "a" * 64, ("127.0.0.1:5000", "x", "", "sha256:" + "a" * 64)),
    ("docker://user/app", ("docker.io", "user/app", "latest", "")),
])
def test_docker_references(text, expect):
    s = source.parse_source(text)
    assert (s.host, s.repo, s.tag, s.digest) == expect


@pytest.mark.parametrize("text", ["docker://", "docker://UPPER/case", "docker://a:bad tag",
                                  "docker://x@notadigest"])
def test_bad_docker_references(text):
    with pytest.raises(ImageError, match="docker://"):
        source.parse_source(text)


def test_local_references(tmp_path):
    d = tmp_path / "lay:out"
    d.mkdir()
    assert source.parse_source(f"oci:{d}") == source.Source("oci", path=str(d))
    assert source.parse_source(f"oci:{d}:v1") == source.Source("oci", path=str(d), ref="v1")
    assert source.parse_source(f"oci-archive:{tmp_path}/x.tar:r") == \
        source.Source("oci-archive", path=f"{tmp_path}/x.tar", ref="r")
    assert source.parse_source(f"docker-archive:{tmp_path}/x.tar:name").ref == "name:latest"
    with pytest.raises(ImageError, match="missing path"):
        source.parse_source("oci:")


def test_bare_path_detection(tmp_path):
    layout = images.busybox_oci_layout(str(tmp_path / "layout"))
    assert source.parse_source(layout).transport == "oci"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageError, match="no index.json"):
        source.parse_source(str(tmp_path / "empty"))
    (tmp_path / "junk").write_bytes(b"not a tar" * 100)
    with pytest.raises(ImageError, match="not an image archive"):
        source.parse_source(str(tmp_path / "junk"))
    with tarfile.open(tmp_path / "other.tar", "w") as tf:
        tf.add(layout + "/oci-layout", arcname="something")
    with pytest.raises(ImageError, match="no index.json or manifest.json"):
        source.parse_source(str(tmp_path / "other.tar"))


def test_platforms():
    assert source.parse_platform("linux/arm64/v8") == source.Platform("linux", "arm64", "v8")
    assert source.parse_platform("linux/x86_64") == source.Platform("linux", "amd64")
    for bad in ("linux", "linux/", "a/b/c/d"):
        with pytest.raises(ImageError, match="--platform"):
            source.parse_platform(bad)
    p = source.host_platform()
    assert p.os == "linux" and p.architecture == images.host_arch()


def test_platform_matching():
    want = source.Platform("linux", "arm", "v7")
    assert manifest.platform_matches({"os": "linux", "architecture": "arm", "variant": "v7"}, want)
    assert not manifest.platform_matches({"os": "linux", "architecture": "arm", "variant": "v6"}, want)
    assert manifest.platform_matches({"os": "linux", "architecture": "arm64"},
                                     source.Platform("linux", "arm64", "v8"))
    entries = [manifest.Descriptor(manifest.OCI_MANIFEST, "sha256:" + "1" * 64, 1,
                                   {"os": "linux", "architecture": "amd64"}),
               manifest.Descriptor("application/vnd.in-toto+json", "sha256:" + "2" * 64, 1,
                                   {"os": "unknown", "architecture": "unknown"})]
    assert manifest.select_platform(entries, source.Platform("linux", "amd64"), "x") is entries[0]
    with pytest.raises(ImageError, match="no manifest for platform linux/s390x .has linux/amd64"):
        manifest.select_platform(entries, source.Platform("linux", "s390x"), "x")


def test_digest_validation():
    manifest.check_digest("sha256:" + "0" * 64, "x")
    for bad in ("sha256:abc", "md5:" + "0" * 32, "sha256:" + "0" * 63 + "/", None, "sha256:../x"):
        with pytest.raises(ImageError, match="invalid digest"):
            manifest.check_digest(bad, "x")


def test_schema1_refused():
    with pytest.raises(ImageError, match="schema 1"):
        manifest.parse_manifest({"schemaVersion": 1, "fsLayers": []}, "d", "manifest")


# -- tar reader --------------------------------------------------------------------------

class _Bytes:
    """A minimal LayerStream stand-in over bytes."""

    def __init__(self, data, blob_digest=""):
        self.s = layerstream.LayerStream(io.BytesIO(data), "", blob_digest, None, "", "test")

    def entries(self):
        out = []
        for e in tarstream.entries(self.s, "test"):
            data = self.s.read(e.size) if e.size else b""
            out.append((e, data))
        self.s.finish()
        return out


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_tar_formats_and_long_names(fmt):
    buf = io.BytesIO()
    long_name = "d/" + "n" * 150 if fmt != tarfile.USTAR_FORMAT else "p" * 90 + "/" + "q" * 60
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        ti = tarfile.TarInfo(long_name)
        ti.size, ti.mode, ti.uid, ti.gid, ti.mtime = 3, 0o4755, 1234, 5678, 1600000000
        tf.addfile(ti, io.BytesIO(b"abc"))
        ln = tarfile.TarInfo("sym")
        ln.type = tarfile.SYMTYPE
        ln.linkname = "t" * 120 if fmt != tarfile.USTAR_FORMAT else "t" * 90
        tf.addfile(ln)
        dev = tarfile.TarInfo("dev")
        dev.type, dev.devmajor, dev.devminor = tarfile.CHRTYPE, 10, 200
        tf.addfile(dev)
    (e1, d1), (e2, _), (e3, _) = _Bytes(buf.getvalue()).entries()
    assert (e1.name, e1.mode, e1.uid, e1.gid, e1.mtime_ns, d1) == \
        (long_name, 0o4755, 1234, 5678, 1600000000 * 10**9, b"abc")
    assert e2.type == tarstream.SYMLINK and e2.linkname == ln.linkname
    assert (e3.type, e3.devmajor, e3.devminor) == (tarstream.CHR, 10, 200)


def test_tar_base256_and_pax_fields():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        ti = tarfile.TarInfo("big-uid")
        ti.uid = 3_000_000_000          # > 8 octal digits: GNU base-256
        tf.addfile(ti)
    buf2 = io.BytesIO()
    with tarfile.open(fileobj=buf2, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo("x")
        ti.pax_headers = {"mtime": "1600000000.5", "SCHILY.xattr.user.k": "v\u00e9",
                          "LIBARCHIVE.xattr.user.b64": base64.b64encode(b"\x00\x01").decode()}
        tf.addfile(ti)
    assert _Bytes(buf.getvalue()).entries()[0][0].uid == 3_000_000_000
    e = _Bytes(buf2.getvalue()).entries()[0][0]
    assert e.mtime_ns == 1600000000_500000000
    assert e.xattrs == {"user.k": "v\u00e9".encode(), "user.b64": b"\x00\x01"}


def test_tar_damage():
    good = images.tar_layer([{"name": "f", "data": b"z" * 2000}])
    with pytest.raises(ImageError, match="truncated"):
        _Bytes(good[:1024]).entries()
    bad = bytearray(good)
    bad[100] = ord("9")                 # a mode digit: checksum no longer matches
    with pytest.raises(ImageError, match="checksum"):
        _Bytes(bytes(bad)).entries()
    odd = bytearray(images.tar_layer([{"name": "f", "data": b""}]))
    odd[156:157] = b"S"                 # sparse: refused, by name
    chk = sum(odd[:148]) + 256 + sum(odd[156:512])
    odd[148:156] = b"%06o\0 " % chk
    with pytest.raises(ImageError, match="unsupported tar entry type 'S'"):
        _Bytes(bytes(odd)).entries()


def test_stream_digest_checks():
    data = images.tar_layer([{"name": "f", "data": b"q"}])
    with pytest.raises(ImageError, match="digest mismatch"):
        _Bytes(data, blob_digest="sha256:" + "0" * 64).entries()
    s = layerstream.LayerStream(io.BytesIO(data), "", "", None, "sha256:" + "1" * 64, "L")
    with pytest.raises(ImageError, match="L: diff_id mismatch"):
        list(tarstream.entries(s, "L"))
        s.finish()


def test_clean_names():
    assert clean("../../etc/passwd") == "etc/passwd"
    assert clean("/abs/./x/../y") == "abs/y"
    assert clean("./") == "" and clean("") == "" and clean("..") == ""


# -- rootless ownership ------------------------------------------------------------------

def test_rootless_payload_matches_umoci_encoding():
    # message Resource { uint32 uid = 1; uint32 gid = 2; }, 0 -> 0xFFFFFFFF (no-op)
    assert apply.rootless_payload(0, 0) is None
    assert apply.rootless_payload(1000, 0) == b"\x08\xe8\x07\x10\xff\xff\xff\xff\x0f"
    assert apply.rootless_payload(0, 6) == b"\x08\xff\xff\xff\xff\x0f\x10\x06"


# -- registry auth -----------------------------------------------------------------------

def test_parse_challenge():
    scheme, p = registry.parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull"')
    assert scheme == "bearer" and p["realm"] == "https://auth.docker.io/token"
    assert p["scope"] == "repository:library/busybox:pull" and p["service"] == "registry.docker.io"
    assert registry.parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_credentials_lookup(tmp_path):
    a = tmp_path / "auth.json"
    enc = lambda s: base64.b64encode(s.encode()).decode()   # noqa: E731
    a.write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": enc("hub:1")},
        "quay.io": {"auth": enc("quay:2")},
        "quay.io/org": {"auth": enc("org:3")},
        "http://127.0.0.1:5000": {"auth": enc("local:4")}}}))
    files = [str(tmp_path / "missing.json"), str(a)]
    assert registry.find_credentials("docker.io", "library/busybox", files) == ("hub", "1")
    assert registry.find_credentials("quay.io", "org/app", files) == ("org", "3")
    assert registry.find_credentials("quay.io", "other/app", files) == ("quay", "2")
    assert registry.find_credentials("127.0.0.1:5000", "x", files) == ("local", "4")
    assert registry.find_credentials("ghcr.io", "x", files) is None
    b = tmp_path / "bad.json"
    b.write_text(json.dumps({"auths": {"ghcr.io": {"auth": "!!!"}}}))
    with pytest.raises(ImageError, match="invalid base64"):
        registry.find_credentials("ghcr.io", "x", [str(b)])


def test_auth_file_order(monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_AUTH_FILE", "/a.json")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/7")
    monkeypatch.setenv("DOCKER_CONFIG", "/d")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert registry.auth_files() == ["/a.json", "/run/user/7/containers/auth.json",
                                     f"{tmp_path}/.config/containers/auth.json", "/d/config.json"]


# -- users -------------------------------------------------------------------------------

PASSWD = [l.split(":") for l in ["root:x:0:0:root:/root:/bin/sh", "app:x:1000:1001::/home/app:/bin/sh",
                                 "svc:x:2000:2000::/srv:/bin/false"]]
GROUP = [l.split(":") for l in ["root:x:0:", "appgrp:x:1001:", "extra:x:3000:app,svc", "more:x:3001:app"]]


@pytest.mark.parametrize("user,expect", [
    ("", (0, 0, [], "/root")),
    ("app", (1000, 1001, [3000, 3001], "/home/app")),
    ("1000", (1000, 1001, [3000, 3001], "/home/app")),
    ("app:extra", (1000, 3000, [], "/home/app")),
    ("app:4242", (1000, 4242, [], "/home/app")),
    ("4242", (4242, 0, [], "")),
    ("4242:4243", (4242, 4243, [], "")),
    ("svc:root", (2000, 0, [], "/srv")),
])
def test_resolve_user(user, expect):
    assert spec.resolve_user(user, PASSWD, GROUP) == expect


@pytest.mark.parametrize("user,msg", [("nobody", "no user 'nobody'"), ("app:nogrp", "no group 'nogrp'")])
def test_resolve_user_errors(user, msg):
    with pytest.raises(ImageError, match=f"config.User: .*{msg}"):
        spec.resolve_user(user, PASSWD, GROUP)


# -- the image package imports only what it may --------------------------------------------

def test_image_imports_only_oci_errors_linux_and_stdlib():
    allowed = ("pyrunc.image", "pyrunc.oci", "pyrunc.errors", "pyrunc.linux")
    pkg = os.path.join(ROOT, "runtime", "image")
    for name in os.listdir(pkg):
        if not name.endswith(".py"):
            continue
        tree = ast.parse(open(os.path.join(pkg, name)).read())
        for node in ast.walk(tree):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            for m in mods:
                assert not m.startswith("pyrunc") or m.startswith(allowed), f"{name} imports {m}"
                assert m.split(".")[0] != "ctypes", f"{name} imports ctypes"


# -- zstd: the module and the program ------------------------------------------------------

@pytest.mark.parametrize("backend", ["module", "binary"])
def test_zstd_backends(monkeypatch, backend):
    if backend == "module":
        pytest.importorskip("zstandard")
    elif not __import__("shutil").which("zstd"):
        pytest.skip("requires zstd")
    monkeypatch.setattr(layerstream, "zstd_backend", lambda: backend)
    tar = images.tar_layer([{"name": "f", "data": os.urandom(3 << 20)}])
    # Two concatenated frames, as a multi-frame writer may produce.
    blob = images.compress(tar[:1 << 20], "zstd") + images.compress(tar[1 << 20:], "zstd")
    s = layerstream.LayerStream(io.BytesIO(blob), "zstd", images.sha256(blob), len(blob),
                                images.sha256(tar), "L")
    (e,) = list(tarstream.entries(s, "L"))
    s.finish()
    assert e.name == "f"
    bad = blob[:len(blob) // 2]
    s = layerstream.LayerStream(io.BytesIO(bad), "zstd", images.sha256(bad), len(bad), images.sha256(tar), "L")
    with pytest.raises(ImageError, match="L: zstd"):
        list(tarstream.entries(s, "L"))
        s.finish()


# -- the fd walk (used without openat2) resolves as RESOLVE_IN_ROOT does ---------------------

def test_walk_matches_openat2(tmp_path):
    from pyrunc.image.rootfs import Rootfs
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "c").mkdir()
    (root / "file").write_text("x")
    os.symlink("/a", root / "abs")                  # absolute: means root/a
    os.symlink("../../../../c", root / "a" / "up")  # climbs: stops at root
    os.symlink(str(tmp_path), root / "host")        # a host path: resolves inside
    os.symlink("b/../../c", root / "a" / "rel")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    (tmp_path / "outside").mkdir()
    r = Rootfs(str(root))
    try:
        for rel in ["a", "a/b", "abs/b", "a/up", "a/rel", "abs/../c", "../../a/b", "a/b/../../c"]:
            fd1 = r.open_dir(rel)
            fd2 = r._walk(rel, False)
            try:
                assert os.fstat(fd1).st_ino == os.fstat(fd2).st_ino, rel
            finally:
                os.close(fd1)
                os.close(fd2)
        for rel, err in [("file", NotADirectoryError), ("missing", FileNotFoundError),
                         ("host/outside", FileNotFoundError), ("loop1", OSError)]:
            with pytest.raises(err):
                os.close(r._walk(rel, False))
        # create: through a symlink to a host path, the directories appear inside.
        fd = r._walk("host/outside/new", True)
        os.close(fd)
        assert (root / str(tmp_path).lstrip("/") / "outside" / "new").is_dir()
        assert not (tmp_path / "outside" / "new").exists()
        # create: a file in the way is replaced by a directory.
        os.close(r._walk("file/sub", True))
        assert (root / "file" / "sub").is_dir()
        # open_file follows a final symlink inside the root, without openat2 too.
        (root / "c" / "passwd").write_text("root:x:0:0::/:/bin/sh\n")
        os.symlink("/c/passwd", root / "a" / "pw")
        for have in (True, False):
            r._have_openat2 = have
            fd = r.open_file("abs/pw", os.O_RDONLY)
            assert os.read(fd, 4) == b"root"
            os.close(fd)
    finally:
        r.close()
