"""The import directions of shared/STYLE.md, checked on the source.

cli -> library -> linux; only pyrunc.linux touches ctypes; the container's init
never imports the CLI or the cgroup drivers; the image tool uses only the OCI
data model, the errors and the syscall layer; nothing in the runtime imports
the image tool or the test-only jsonschema.
"""

import ast
import os

import pytest

RUNTIME = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "runtime")


def modules():
    for dirpath, _, files in os.walk(RUNTIME):
        for f in files:
            if f.endswith(".py") and f != "schema_gen.py":
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, RUNTIME)[:-3].replace(os.sep, ".")
                name = "pyrunc" if rel == "__init__" else "pyrunc." + rel.removesuffix(".__init__")
                yield name, path


def imports(path, name):
    tree = ast.parse(open(path).read())
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


ALL = {name: imports(path, name) for name, path in modules()}


def offenders(selector, forbidden):
    return sorted((m, i) for m, imps in ALL.items() if selector(m)
                  for i in imps if any(i == f or i.startswith(f + ".") for f in forbidden))


def test_only_the_linux_package_imports_ctypes():
    assert offenders(lambda m: not m.startswith("pyrunc.linux"), ["ctypes"]) == []


def test_the_library_never_imports_the_cli():
    assert offenders(lambda m: not m.startswith("pyrunc.cli"), ["pyrunc.cli"]) == []


def test_init_never_imports_cli_or_cgroups():
    assert offenders(lambda m: m.startswith("pyrunc.init"), ["pyrunc.cli", "pyrunc.cgroups"]) == []


def test_linux_layer_imports_nothing_above_it():
    allowed = ("pyrunc.linux", "pyrunc.errors")
    bad = [(m, i) for m, i in offenders(lambda m: m.startswith("pyrunc.linux"), ["pyrunc"])
           if not i.startswith(allowed) and i != "pyrunc"]
    assert bad == []


def test_image_tool_uses_only_oci_errors_and_linux():
    allowed = ("pyrunc.image", "pyrunc.oci", "pyrunc.errors", "pyrunc.linux")
    bad = [(m, i) for m, i in offenders(lambda m: m.startswith("pyrunc.image"), ["pyrunc"])
           if not i.startswith(allowed) and i != "pyrunc"]
    assert bad == []


def test_nothing_imports_the_image_tool_or_jsonschema():
    assert offenders(lambda m: not m.startswith("pyrunc.image"), ["pyrunc.image"]) == []
    assert offenders(lambda m: True, ["jsonschema", "fastjsonschema"]) == []


@pytest.mark.parametrize("forbidden", ["ctypes", "pyrunc.cli"])
def test_the_checks_can_fail(forbidden):
    # the walker does see these imports where they belong
    assert offenders(lambda m: True, [forbidden])
