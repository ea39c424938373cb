"""Broken and mismatched input: one error line naming the blob or field,
exit status 1, and no bundle left behind."""

import json
import os
import shutil

import pytest

from unpack_helpers import error_line, images, unpack

OTHER_ARCH = "riscv64" if images.host_arch() != "riscv64" else "s390x"


def _blob(layout, digest):
    return os.path.join(layout, "blobs", "sha256", digest.split(":")[1])


def _manifest(layout):
    with open(os.path.join(layout, "index.json")) as f:
        digest = json.load(f)["manifests"][0]["digest"]
    with open(_blob(layout, digest)) as f:
        return digest, json.load(f)


def _rewrite_manifest(layout, manifest):
    """Store a changed manifest and point index.json at it."""
    data = json.dumps(manifest).encode()
    digest = images.sha256(data)
    with open(_blob(layout, digest), "wb") as f:
        f.write(data)
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    index["manifests"][0].update(digest=digest, size=len(data))
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)


def _rewrite_layer(layout, i, data, media_type=None, diff_id=None):
    """Replace layer i's blob (descriptor updated); with diff_id, the config's too."""
    _, m = _manifest(layout)
    digest = images.sha256(data)
    with open(_blob(layout, digest), "wb") as f:
        f.write(data)
    m["layers"][i].update(digest=digest, size=len(data))
    if media_type:
        m["layers"][i]["mediaType"] = media_type
    if diff_id:
        with open(_blob(layout, m["config"]["digest"])) as f:
            cfg = json.load(f)
        cfg["rootfs"]["diff_ids"][i] = diff_id
        cfg_data = json.dumps(cfg).encode()
        with open(_blob(layout, images.sha256(cfg_data)), "wb") as f:
            f.write(cfg_data)
        m["config"].update(digest=images.sha256(cfg_data), size=len(cfg_data))
    _rewrite_manifest(layout, m)


@pytest.fixture
def layout(tmp_path):
    path = str(tmp_path / "layout")
    images.write_oci_layout(path, [images.busybox_layer(), images.tar_layer(
        [{"name": "extra", "data": b"x" * 100000}])])
    return path


def _fails(tmp_path, source, *words, extra=()):
    bundle = tmp_path / "bundle"
    proc = unpack(*extra, source, str(bundle), check=1)
    line = error_line(proc)
    for w in words:
        assert w in line, line
    assert not bundle.exists()
    return line


def test_corrupt_blob_digest_mismatch(tmp_path, layout):
    _, m = _manifest(layout)
    digest = m["layers"][1]["digest"]
    path = _blob(layout, digest)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    _fails(tmp_path, f"oci:{layout}", digest[:19], "digest mismatch")


def test_diff_id_mismatch(tmp_path, layout):
    _, m = _manifest(layout)
    cfg_path = _blob(layout, m["config"]["digest"])
    cfg = json.load(open(cfg_path))
    cfg["rootfs"]["diff_ids"][1] = "sha256:" + "0" * 64
    data = json.dumps(cfg).encode()
    open(_blob(layout, images.sha256(data)), "wb").write(data)
    m["config"].update(digest=images.sha256(data), size=len(data))
    _rewrite_manifest(layout, m)
    _fails(tmp_path, f"oci:{layout}", "diff_id mismatch", "layer 2/2")


def test_truncated_gzip_layer(tmp_path, layout):
    tar = images.tar_layer([{"name": "f", "data": os.urandom(200000)}])
    good = images.compress(tar, "gzip")
    _rewrite_layer(layout, 1, good[:len(good) // 2], diff_id=images.sha256(tar))
    _fails(tmp_path, f"oci:{layout}", "gzip", "truncated")


def test_truncated_tar_layer(tmp_path, layout):
    tar = images.tar_layer([{"name": "f", "data": b"y" * 50000}])
    _rewrite_layer(layout, 1, tar[:20000], "application/vnd.oci.image.layer.v1.tar",
                   diff_id=images.sha256(tar[:20000]))
    _fails(tmp_path, f"oci:{layout}", "truncated tar archive", "layer 2/2")


def test_bad_tar_header_checksum(tmp_path, layout):
    tar = bytearray(images.tar_layer([{"name": "f", "data": b"y"}]))
    tar[0:1] = b"g"       # the first header's name: its checksum no longer matches
    _rewrite_layer(layout, 1, bytes(tar), "application/vnd.oci.image.layer.v1.tar",
                   diff_id=images.sha256(bytes(tar)))
    _fails(tmp_path, f"oci:{layout}", "checksum")


def test_truncated_oci_archive(tmp_path):
    archive = str(tmp_path / "a.tar")
    images.write_oci_archive(archive, [images.busybox_layer()], workdir=str(tmp_path))
    size = os.path.getsize(archive)
    with open(archive, "r+b") as f:
        f.truncate(size // 2)
    _fails(tmp_path, f"oci-archive:{archive}", "oci-archive")


def test_missing_layer_blob(tmp_path, layout):
    _, m = _manifest(layout)
    os.unlink(_blob(layout, m["layers"][0]["digest"]))
    _fails(tmp_path, f"oci:{layout}", m["layers"][0]["digest"], "missing")


def test_missing_config_blob(tmp_path, layout):
    _, m = _manifest(layout)
    os.unlink(_blob(layout, m["config"]["digest"]))
    _fails(tmp_path, f"oci:{layout}", m["config"]["digest"], "missing")


def test_unknown_layer_media_type(tmp_path, layout):
    _, m = _manifest(layout)
    m["layers"][1]["mediaType"] = "application/x-unknown"
    _rewrite_manifest(layout, m)
    _fails(tmp_path, f"oci:{layout}", "layers[1].mediaType", "application/x-unknown")


def test_unknown_manifest_media_type(tmp_path, layout):
    _, m = _manifest(layout)
    m["mediaType"] = "application/x-other"
    _rewrite_manifest(layout, m)
    _fails(tmp_path, f"oci:{layout}", "mediaType", "application/x-other")


def test_manifest_for_another_platform(tmp_path):
    layout = str(tmp_path / "layout")
    images.write_oci_layout(layout, [images.busybox_layer()], arch=OTHER_ARCH)
    _fails(tmp_path, f"oci:{layout}", "architecture", OTHER_ARCH)


def test_index_without_the_platform(tmp_path):
    layout = str(tmp_path / "layout")
    d = images.add_image(layout, [images.busybox_layer()], arch=OTHER_ARCH)
    _index_of(layout, [d], "multi")
    _fails(tmp_path, f"oci:{layout}", "no manifest for platform", f"linux/{OTHER_ARCH}")


def _index_of(layout, descs, ref):
    """An image index blob listing descs, named ref in index.json."""
    doc = {"schemaVersion": 2, "mediaType": images.OCI_INDEX, "manifests": descs}
    data = json.dumps(doc).encode()
    blob = dict(images._put_blob(layout, data), mediaType=images.OCI_INDEX)
    images.write_index(layout, [images.with_ref(blob, ref)])


def test_platform_selection(tmp_path):
    layout = str(tmp_path / "layout")
    host = images.add_image(layout, [images.busybox_layer("host")])
    other = images.add_image(layout, [images.busybox_layer("other")], arch=OTHER_ARCH)
    _index_of(layout, [other, host], "multi")
    unpack(f"oci:{layout}:multi", str(tmp_path / "b1"), check=0)
    assert b"host" in (tmp_path / "b1" / "rootfs" / "bin" / "hello").read_bytes()
    unpack("--platform", f"linux/{OTHER_ARCH}", f"oci:{layout}:multi", str(tmp_path / "b2"), check=0)
    assert b"other" in (tmp_path / "b2" / "rootfs" / "bin" / "hello").read_bytes()


def test_bad_platform_argument(tmp_path, layout):
    _fails(tmp_path, f"oci:{layout}", "--platform", extra=("--platform", "linux"))


def test_unknown_ref_lists_refs(tmp_path, layout):
    line = _fails(tmp_path, f"oci:{layout}:nope", "nope", "latest")
    assert "refs:" in line


def test_several_images_need_a_ref(tmp_path):
    layout = str(tmp_path / "layout")
    a = images.add_image(layout, [images.busybox_layer("a")])
    b = images.add_image(layout, [images.busybox_layer("b")])
    images.write_index(layout, [images.with_ref(a, "one"), images.with_ref(b, "two")])
    _fails(tmp_path, f"oci:{layout}", "one, two")
    unpack(f"oci:{layout}:two", str(tmp_path / "b2"), check=0)
    assert b"'b'" in (tmp_path / "b2" / "rootfs" / "bin" / "hello").read_bytes()


def test_invalid_index_json(tmp_path, layout):
    with open(os.path.join(layout, "index.json"), "w") as f:
        f.write("{not json")
    _fails(tmp_path, f"oci:{layout}", "index.json", "invalid json")


def test_invalid_digest_in_index(tmp_path, layout):
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    index["manifests"][0]["digest"] = "sha256:../../../etc/passwd"
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    _fails(tmp_path, f"oci:{layout}", "invalid digest")


def test_docker_archive_corrupt_layer(tmp_path):
    archive = str(tmp_path / "d.tar")
    layer = images.busybox_layer()
    config = images.image_config([images.sha256(layer + b"\0" * 512)])   # DiffID of other bytes
    images.write_docker_archive(archive, [layer], config=config)
    _fails(tmp_path, f"docker-archive:{archive}", "diff_id mismatch")


def test_docker_archive_unknown_tag(tmp_path):
    archive = images.busybox_docker_archive(str(tmp_path / "d.tar"))
    _fails(tmp_path, f"docker-archive:{archive}:other:tag", "other:tag", "busybox:latest")


def test_nonempty_bundle_is_refused(tmp_path, layout):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "mine").write_text("keep")
    proc = unpack(f"oci:{layout}", str(bundle), check=1)
    assert "not empty" in error_line(proc)
    assert os.listdir(bundle) == ["mine"] and (bundle / "mine").read_text() == "keep"


def test_empty_bundle_is_used_and_left_empty_on_failure(tmp_path, layout):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    unpack(f"oci:{layout}", str(bundle), check=0)
    assert sorted(os.listdir(bundle)) == ["config.json", "rootfs"]
    _, m = _manifest(layout)
    os.unlink(_blob(layout, m["layers"][1]["digest"]))
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = unpack(f"oci:{layout}", str(empty), check=1)
    assert "missing" in error_line(proc)
    assert os.listdir(empty) == []


def test_failure_after_devices_and_readonly_dirs_cleans_up(tmp_path):
    """The cleanup copes with what a failed layer left: devices, 0555 dirs."""
    layout = str(tmp_path / "layout")
    layers = images.multilayer_layers(2)
    images.write_oci_layout(layout, layers)
    _, m = _manifest(layout)
    bad = images.tar_layer([{"name": "ro", "type": "dir", "mode": 0o555},
                            {"name": "ro/f", "data": b"x"}]) + b"garbage" * 100
    _rewrite_layer(layout, 3, images.compress(bad, "gzip"))
    _fails(tmp_path, f"oci:{layout}", "diff_id mismatch", "layer 4/4")


def test_missing_source(tmp_path):
    _fails(tmp_path, str(tmp_path / "nothing-here"), "no such file")
    _fails(tmp_path, f"oci:{tmp_path / 'nothing'}", "oci-layout", "missing")


def test_zstd_without_backend(tmp_path):
    if not shutil.which("zstd"):
        pytest.skip("requires zstd to build the layer")
    layout = str(tmp_path / "layout")
    images.write_oci_layout(layout, [images.busybox_layer()], compression="zstd")
    env = dict(os.environ, PATH="/nonexistent")
    proc = unpack(f"oci:{layout}", str(tmp_path / "b"), env=env, check=1)
    assert "zstd" in error_line(proc) and "neither is installed" in proc.stderr
    assert not (tmp_path / "b").exists()


def test_registry_unreachable(tmp_path):
    _fails(tmp_path, "docker://127.0.0.1:1/x/y:latest", "cannot connect", extra=("--insecure",))


def test_bundle_checked_before_anything_is_fetched(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "x").write_text("")
    proc = unpack("--insecure", "docker://127.0.0.1:1/x/y:z", str(bundle), check=1)
    assert "not empty" in error_line(proc)
    (tmp_path / "file").write_text("")
    proc = unpack("--insecure", "docker://127.0.0.1:1/x/y:z", str(tmp_path / "file"), check=1)
    assert "not a directory" in error_line(proc)
