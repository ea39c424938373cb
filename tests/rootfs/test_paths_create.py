"""pyrunc.init.paths: creating a missing mount target, the short way (parent
exists, name free) and the fallbacks to the full walk; nothing is ever created
outside the root."""

import os

from pyrunc.init import paths


def real(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def test_missing_leaf_under_existing_parent(tmp_path):
    root = tmp_path / "root"
    (root / "sys" / "fs").mkdir(parents=True)
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert real(paths._create_leaf(rfd, "/sys/fs/cgroup", True, 0o755)) == str(root / "sys/fs/cgroup")
        assert (root / "sys/fs/cgroup").is_dir()
        assert real(paths._create_leaf(rfd, "/sys/fs/file", False, 0o600)) == str(root / "sys/fs/file")
        assert (root / "sys/fs/file").stat().st_mode & 0o777 == 0o600 & ~current_umask()
    finally:
        os.close(rfd)


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_fallbacks_return_none(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    os.symlink("/nowhere/target", root / "dangling")
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert paths._create_leaf(rfd, "/no/parent/here", True, 0o755) is None
        assert paths._create_leaf(rfd, "/dangling", True, 0o755) is None
        assert paths._create_leaf(rfd, "/", True, 0o755) is None
        # The full walk then follows the dangling link inside the root.
        fd = paths.ensure_target(rfd, "/dangling", True)
        assert real(fd) == str(root / "nowhere/target")
        assert not os.path.exists("/nowhere")
    finally:
        os.close(rfd)


def test_parent_symlink_out_of_the_root_stays_inside(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), root / "escape")       # absolute: means root/<outside path>
    os.symlink("../../../../../../etc", root / "up")  # climbs no higher than the root
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert real(paths.ensure_target(rfd, "/up/made", True)) == str(root / "etc/made")
        fd = paths.ensure_target(rfd, "/escape/x", True)
        assert real(fd).startswith(str(root) + "/")
        assert list(outside.iterdir()) == []
    finally:
        os.close(rfd)
