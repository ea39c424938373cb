"""Fixtures for the rootfs tests: a busybox bundle per test, and a check
that nothing a test mounted reached the host's mount table."""

import copy
import os
import shutil

import pytest

from pyrunc.oci.defaults import default_spec

from .helpers import busybox_template, mountinfo


def pytest_collection_modifyitems(items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="requires root (mount namespaces, mknod)")
    for item in items:
        if item.get_closest_marker("requires") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def template(tmp_path_factory):
    return busybox_template(str(tmp_path_factory.mktemp("rootfs-template")))


@pytest.fixture
def bundle(tmp_path, template):
    """A bundle dir with a fresh busybox rootfs; yields its path."""
    # Hard links: a copy per test costs seconds on this disk.
    shutil.copytree(template, tmp_path / "rootfs", symlinks=True, copy_function=os.link)
    return str(tmp_path)


@pytest.fixture
def spec():
    """runc's default config, without the parts a test host may lack."""
    return copy.deepcopy(default_spec())


@pytest.fixture(autouse=True)
def no_mount_leak(tmp_path):
    """Nothing may appear on the host's mount table: compare the mounts
    under the test's tmp dir and under / (the root's own entries)."""
    def ours():
        return {p: (m["fstype"], m["source"]) for p, m in mountinfo().items()
                if p.startswith(str(tmp_path))}
    before = ours()
    root_before = mountinfo()["/"]
    yield
    assert ours() == before
    assert mountinfo()["/"] == root_before
