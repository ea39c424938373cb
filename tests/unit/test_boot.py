"""pyrunc.boot: the launchers load modules from one compiled bundle, and only
while it matches the sources and the interpreter (it is a cache, never a
second source of truth)."""

import os
import shutil
import subprocess
import sys

import pytest

RUNTIME = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "runtime")


@pytest.fixture
def pkg(tmp_path):
    """A copy of the package as tmp/pyrunc, with its bundle built."""
    dest = tmp_path / "pyrunc"
    shutil.copytree(RUNTIME, dest, ignore=shutil.ignore_patterns("__pycache__", "_bundle"))
    out = run(tmp_path, "from pyrunc import boot; print(boot.build())")
    assert out.strip() == str(dest / "_bundle")
    return tmp_path


def run(path, code):
    p = subprocess.run([sys.executable, "-I", "-S", "-c",
                        f"import sys; sys.path.append({str(path)!r})\n{code}"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


LOADERS = """
from pyrunc import boot
print(boot.install())
import pyrunc.cli, pyrunc.launch, pyrunc.oci.state
for m in (pyrunc.cli, pyrunc.launch, pyrunc.oci.state):
    print(m.__name__, type(m.__spec__.loader).__name__, m.__file__)
"""


def test_modules_come_from_the_bundle(pkg):
    lines = run(pkg, LOADERS).split("\n")
    assert lines[0] == "True"
    for line, name in zip(lines[1:4], ("pyrunc.cli", "pyrunc.launch", "pyrunc.oci.state")):
        mod, loader, path = line.split()
        assert (mod, loader) == (name, "BundleFinder")
        assert path == str(pkg / "pyrunc" / (name[len("pyrunc."):].replace(".", "/")
                                              + ("/__init__.py" if name == "pyrunc.cli" else ".py")))


def test_an_edited_module_is_loaded_from_its_source(pkg):
    state = pkg / "pyrunc" / "oci" / "state.py"
    state.write_text(state.read_text() + "\nEDITED = True\n")
    out = run(pkg, LOADERS + "print(pyrunc.oci.state.EDITED)")
    assert "pyrunc.oci.state SourceFileLoader" in out
    assert "pyrunc.launch BundleFinder" in out
    assert out.rstrip().endswith("True")


def test_a_module_new_since_the_build_is_found(pkg):
    (pkg / "pyrunc" / "oci" / "brand_new.py").write_text("X = 7\n")
    out = run(pkg, "from pyrunc import boot; boot.install()\nimport pyrunc.oci.brand_new as b; print(b.X)")
    assert out.strip() == "7"


@pytest.mark.parametrize("damage", ["missing", "other-interpreter", "garbage"])
def test_an_unusable_bundle_is_ignored(pkg, damage):
    bundle = pkg / "pyrunc" / "_bundle"
    if damage == "missing":
        bundle.unlink()
    elif damage == "other-interpreter":
        data = bytearray(bundle.read_bytes())
        magic_at = len(b"pyrunc-bundle\n")
        data[magic_at] ^= 0xFF
        bundle.write_bytes(bytes(data))
    else:
        bundle.write_bytes(b"pyrunc-bundle\n" + b"\x00" * 40)
    lines = run(pkg, LOADERS).split("\n")
    assert lines[0] == "False"
    assert all(" SourceFileLoader " in line for line in lines[1:4])


def test_the_code_has_no_asserts_or_debug_blocks():
    """The bundle is compiled with optimize=2 (no docstrings), which also drops
    assert statements and `if __debug__` blocks: the runtime must have none."""
    import ast
    found = []
    for dirpath, _, files in os.walk(RUNTIME):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                for node in ast.walk(ast.parse(open(path).read())):
                    if isinstance(node, ast.Assert) or (isinstance(node, ast.Name)
                                                        and node.id == "__debug__"):
                        found.append(f"{path}:{node.lineno}")
    assert found == []
