"""After pivot_root the host's files are gone: the child-side modules must
import everything at module level, never inside a function."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHILD_MODULES = ["runtime/init/rootfs.py", "runtime/init/rootfs_plan.py",
                 "runtime/init/rootfs_copyup.py", "runtime/init/paths.py",
                 "runtime/init/devices.py", "runtime/linux/mount.py",
                 "runtime/linux/openat2.py", "runtime/oci/mounts.py"]


@pytest.mark.parametrize("path", CHILD_MODULES)
def test_no_import_inside_functions(path):
    with open(os.path.join(ROOT, path)) as f:
        tree = ast.parse(f.read())
    late = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    late.append(f"{path}:{node.lineno}")
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
                    late.append(f"{path}:{node.lineno}")
    assert late == []


def test_oci_mounts_is_pure():
    """The option table is pure data: no ctypes on its import path."""
    with open(os.path.join(ROOT, "runtime/oci/mounts.py")) as f:
        tree = ast.parse(f.read())
    mods = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    mods += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in mods if "ctypes" in m or "linux" in m]
