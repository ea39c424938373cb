"""Layers that try to write outside BUNDLE/rootfs.  Each one is unpacked next
to a host directory it aims at; the host directory must be unchanged and the
bundle may only change inside its rootfs."""

import os

import pytest

from unpack_helpers import error_line, images, unpack


@pytest.fixture
def host(tmp_path):
    """A host directory with a victim file, and a snapshot function."""
    d = tmp_path / "host"
    d.mkdir()
    (d / "victim").write_bytes(b"original\n")

    def state():
        return sorted((p, os.lstat(os.path.join(d, p)).st_nlink, open(os.path.join(d, p), "rb").read())
                      for p in os.listdir(d))
    before = state()
    yield d, lambda: state() == before
    assert state() == before, "host directory changed"


def _run(tmp_path, *layers, ok=True):
    layout = str(tmp_path / "layout")
    images.write_oci_layout(layout, [images.busybox_layer()] + [images.tar_layer(l) for l in layers])
    bundle = tmp_path / "b"
    proc = unpack(f"oci:{layout}", str(bundle), check=0 if ok else 1)
    return bundle / "rootfs", proc


def test_dotdot_names_stay_inside(tmp_path, host):
    d, _ = host
    root, _ = _run(tmp_path, [{"name": "../../host/dotdot", "data": b"x"},
                              {"name": "../../../../../../../../" + str(d / "deep"), "data": b"x"}])
    assert (root / "host" / "dotdot").read_bytes() == b"x"
    assert (root / str(d / "deep").lstrip("/")).read_bytes() == b"x"


def test_absolute_names_stay_inside(tmp_path, host):
    d, _ = host
    root, _ = _run(tmp_path, [{"name": str(d / "abs"), "data": b"x"}])
    assert (root / str(d / "abs").lstrip("/")).read_bytes() == b"x"


@pytest.mark.parametrize("same_layer", [True, False])
@pytest.mark.parametrize("target", ["absolute", "relative"])
def test_symlink_to_host_dir_then_write_through(tmp_path, host, same_layer, target):
    d, _ = host
    link_target = str(d) if target == "absolute" else "../" * 20 + str(d).lstrip("/")
    first = [{"name": "escape", "type": "symlink", "target": link_target}]
    second = [{"name": "escape/through", "data": b"pwned\n"}, {"name": "escape/victim", "data": b"pwned\n"}]
    layers = [first + second] if same_layer else [first, second]
    root, _ = _run(tmp_path, *layers)
    inside = root / str(d).lstrip("/")
    assert (inside / "through").read_bytes() == b"pwned\n"
    assert (inside / "victim").read_bytes() == b"pwned\n"
    assert os.readlink(root / "escape") == link_target


def test_symlinked_etc_then_passwd(tmp_path, host):
    d, _ = host
    root, _ = _run(tmp_path, [{"name": "etc/.wh..wh..opq", "data": b""}],
                   [{"name": "etc2", "type": "symlink", "target": str(d)},
                    {"name": "etc2/passwd", "data": b"root::0:0::/:/bin/sh\n"}])
    assert (root / str(d).lstrip("/") / "passwd").exists()


def test_hardlink_to_host_file_is_refused(tmp_path, host):
    d, _ = host
    for i, name in enumerate([str(d / "victim"), "../../host/victim"]):
        layout = str(tmp_path / f"layout{i}")
        images.write_oci_layout(layout, [images.busybox_layer(), images.tar_layer(
            [{"name": "hl", "type": "link", "target": name}, {"name": "hl", "data": b"pwned\n"}])])
        proc = unpack(f"oci:{layout}", str(tmp_path / f"b{i}"), check=1)
        assert "hardlink target" in error_line(proc) and "hl" in proc.stderr
        assert not (tmp_path / f"b{i}").exists()


@pytest.mark.parametrize("same_layer", [True, False])
def test_hardlink_then_write_replaces_not_writes_through(tmp_path, host, same_layer):
    link = [{"name": "hl", "type": "link", "target": "etc/passwd"}]
    write = [{"name": "hl", "data": b"pwned\n"}]
    root, _ = _run(tmp_path, *([link + write] if same_layer else [link, write]))
    assert (root / "hl").read_bytes() == b"pwned\n"
    assert b"root:x:0:0" in (root / "etc" / "passwd").read_bytes()
    assert os.lstat(root / "etc" / "passwd").st_nlink == 1


@pytest.mark.parametrize("same_layer", [True, False])
def test_symlink_replaced_by_file(tmp_path, host, same_layer):
    d, _ = host
    link = [{"name": "evil", "type": "symlink", "target": str(d / "victim")}]
    write = [{"name": "evil", "data": b"pwned\n", "mode": 0o600}]
    root, _ = _run(tmp_path, *([link + write] if same_layer else [link, write]))
    assert not os.path.islink(root / "evil") and (root / "evil").read_bytes() == b"pwned\n"


def test_hardlink_to_symlink_then_write(tmp_path, host):
    d, _ = host
    root, _ = _run(tmp_path, [{"name": "s", "type": "symlink", "target": str(d / "victim")},
                              {"name": "h", "type": "link", "target": "s"}],
                   [{"name": "h", "data": b"pwned\n"}])
    assert os.readlink(root / "s") == str(d / "victim")
    assert (root / "h").read_bytes() == b"pwned\n"


def test_directory_symlink_swapped_between_entries(tmp_path, host):
    """A directory replaced by a symlink to the host mid-layer, then written into."""
    d, _ = host
    root, _ = _run(tmp_path, [{"name": "work", "type": "dir"}, {"name": "work/a", "data": b"a"},
                              {"name": "work", "type": "symlink", "target": str(d)},
                              {"name": "work/b", "data": b"b"}])
    assert (root / str(d).lstrip("/") / "b").read_bytes() == b"b"


def test_whiteouts_through_symlink_stay_inside(tmp_path, host):
    d, _ = host
    _run(tmp_path, [{"name": "lnk", "type": "symlink", "target": str(d)}],
         [{"name": "lnk/.wh.victim", "data": b""}, {"name": "lnk/.wh..wh..opq", "data": b""}])


def test_whiteout_of_dotdot_is_refused(tmp_path, host):
    _, _ = host
    root, proc = _run(tmp_path, [{"name": "etc/.wh...", "data": b""}], ok=False)
    assert "invalid whiteout" in error_line(proc)
    assert not (tmp_path / "b").exists()


def test_root_replaced_by_symlink_is_refused(tmp_path, host):
    d, _ = host
    root, proc = _run(tmp_path, [{"name": ".", "type": "symlink", "target": str(d)}], ok=False)
    assert "root directory" in error_line(proc)
    assert not (tmp_path / "b").exists()
