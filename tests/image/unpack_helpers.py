"""Shared pieces of the image tool's tests: running the CLI, tool checks."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNPACK = os.path.join(ROOT, "bin", "pyrunc-unpack")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import images  # noqa: E402
import treecmp  # noqa: E402


def requires(*tools):
    """Skip (naming the tool) when a host program is missing; CI installs them."""
    missing = [t for t in tools if shutil.which(t) is None]
    return pytest.mark.skipif(bool(missing), reason=f"requires {', '.join(missing)}")


def unpack(*args, env=None, check=None, timeout=300, user=None):
    """Run bin/pyrunc-unpack; returns CompletedProcess (text).  check=0/1 asserts the status."""
    cmd = [UNPACK, *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, timeout=timeout)
    if check is not None:
        assert proc.returncode == check, proc.stderr
    return proc


def umoci_unpack(layout, ref, bundle, rootless=False):
    cmd = ["umoci", "unpack"] + (["--rootless"] if rootless else []) + ["--image", f"{layout}:{ref}", bundle]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def assert_same_tree(a, b, xattrs=True, ignore=()):
    sa, sb = treecmp.snapshot(a, xattrs), treecmp.snapshot(b, xattrs)
    for rel in ignore:
        sa.pop(rel, None)
        sb.pop(rel, None)
    diffs = treecmp.differences(sa, sb)
    assert not diffs, "\n".join(diffs)
    return sa


def error_line(proc):
    """The CLI's error: exactly one line, prefixed with the program name."""
    lines = [l for l in proc.stderr.splitlines() if not l.startswith("pyrunc-unpack: warning:")]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pyrunc-unpack: "), proc.stderr
    return lines[0]
