"""The validator generator (pyrunc.oci.schemagen), the in-tree loader (pyrunc.oci.schema) and setup.py's hook."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from pyrunc.oci import schema, schemagen

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(ROOT, "spec")


@pytest.fixture
def spec_copy(tmp_path):
    target = tmp_path / "spec"
    shutil.copytree(SPEC, target)
    return target


def _edit(path, change):
    with open(path) as f:
        doc = json.load(f)
    change(doc)
    with open(path, "w") as f:
        json.dump(doc, f)


def test_spec_holds_the_v13_schemas():
    names = set(os.listdir(SPEC))
    assert {"config-schema.json", "config-linux.json", "defs.json", "defs-linux.json",
            "state-schema.json", "features-schema.json", "features-linux.json"} <= names
    with open(os.path.join(SPEC, "config-schema.json")) as f:
        assert json.load(f)["$schema"] == "http://json-schema.org/draft-04/schema#"


def test_no_ref_without_slash():
    """runtime-spec v1.3.0's defs.json has "#definitions/uint32"; ours must not."""
    for name in schemagen.spec_files(SPEC):
        with open(name) as f:
            text = f.read()
        assert '#definitions' not in text, name


def test_generated_module_compiles_and_has_entry_points(tmp_path):
    out = schemagen.write(SPEC, str(tmp_path / "gen.py"))
    namespace = {}
    with open(out) as f:
        exec(compile(f.read(), out, "exec"), namespace)
    for name in ("validate_config", "validate_state", "validate_features"):
        assert callable(namespace[name])
    errors = []
    namespace["validate_config"]({"ociVersion": 1}, lambda *a: errors.append(a))
    assert errors == [(".ociVersion", "type", "string", 1)]


def test_generated_source_is_deterministic():
    assert schemagen.generate(SPEC) == schemagen.generate(SPEC)


@pytest.mark.parametrize("change,message", [
    (lambda d: d["definitions"]["ArrayOfGIDs"]["items"].update({"$ref": "#definitions/GID"}),
     "a JSON pointer must start with '/'"),
    (lambda d: d["definitions"]["FilePath"].update({"minLength": 1}), "unsupported schema keywords: ['minLength']"),
    (lambda d: d["definitions"]["Mount"].update({"$ref": "#/definitions/Hook"}), "has sibling keywords"),
    (lambda d: d["definitions"]["Env"].update({"$ref": "#/definitions/Nothing"}), "nothing at that pointer"),
    (lambda d: d["definitions"]["Env"].update({"$ref": "other.json#/x"}), "no such schema file"),
    (lambda d: d["definitions"].update({"FilePath": {"enum": ["a"]}}), "constraints without a type"),
    (lambda d: d["definitions"].update({"FilePath": {"type": "string", "minimum": 1}}),
     "['minimum'] do not apply to type 'string'"),
    (lambda d: d["definitions"].update({"FilePath": {"type": "string", "enum": [1]}}),
     "only string enums are supported"),
    (lambda d: d["definitions"].update({"FilePath": {"type": ["string", "null"]}}), "unsupported type"),
])
def test_generator_refuses_what_it_cannot_translate(spec_copy, change, message):
    _edit(spec_copy / "defs.json", change)
    with pytest.raises(schemagen.SchemaError, match=message.replace("[", r"\[").replace("]", r"\]")):
        schemagen.generate(str(spec_copy))


def test_main_writes_and_reports_errors(spec_copy, tmp_path, capsys):
    out = tmp_path / "out.py"
    assert schemagen.main(["--spec", str(spec_copy), "--out", str(out)]) == 0
    assert out.read_text() == schemagen.generate(str(spec_copy))
    (spec_copy / "defs.json").write_text("{not json")
    assert schemagen.main(["--spec", str(spec_copy), "--out", str(out)]) == 1
    assert capsys.readouterr().err.startswith("schemagen: ")


def test_generator_runs_as_a_script(tmp_path):
    out = tmp_path / "gen.py"
    subprocess.run([sys.executable, os.path.join(ROOT, "runtime", "oci", "schemagen.py"), "--out", str(out)],
                   check=True, capture_output=True)
    assert out.read_text() == schemagen.generate(SPEC)


def _tree_copy(tmp_path, with_spec=True):
    """A copy of the source tree's pieces the loader looks at, without a generated module."""
    root = tmp_path / "tree"
    shutil.copytree(os.path.join(ROOT, "runtime"), root / "runtime",
                    ignore=shutil.ignore_patterns("schema_gen.py", "__pycache__"))
    if with_spec:
        shutil.copytree(SPEC, root / "spec")
        shutil.copy(os.path.join(ROOT, "pyproject.toml"), root / "pyproject.toml")
    return root


_LOAD = """
import importlib.util, sys
root = sys.argv[1]
spec = importlib.util.spec_from_file_location(
    "pyrunc", root + "/runtime/__init__.py", submodule_search_locations=[root + "/runtime"])
mod = importlib.util.module_from_spec(spec); sys.modules["pyrunc"] = mod; spec.loader.exec_module(mod)
from pyrunc.oci import schema
gen = schema.load()
print(gen.__file__)
"""


def _load_in(root):
    return subprocess.run([sys.executable, "-c", _LOAD, str(root)], capture_output=True, text=True)


def test_loader_generates_when_missing_and_when_stale(tmp_path):
    root = _tree_copy(tmp_path)
    generated = root / "runtime" / "oci" / "schema_gen.py"
    result = _load_in(root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(generated)
    first = generated.stat().st_mtime_ns

    # Unchanged spec: the module is reused as it is.
    assert _load_in(root).returncode == 0
    assert generated.stat().st_mtime_ns == first

    # A schema newer than the module: regenerated, with the change in it.
    _edit(root / "spec" / "state-schema.json",
          lambda d: d["properties"]["status"]["enum"].append("paused"))
    os.utime(root / "spec" / "state-schema.json", ns=(first + 10**9, first + 10**9))
    assert _load_in(root).returncode == 0
    assert "'paused'" in generated.read_text()


def test_loader_without_spec_or_module_says_what_to_do(tmp_path):
    root = _tree_copy(tmp_path, with_spec=False)
    result = _load_in(root)
    assert result.returncode != 0
    assert "is missing: generate it with 'python3 -m pyrunc.oci.schemagen'" in result.stderr


def test_loader_falls_back_to_memory_when_tree_is_read_only(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "_GENERATED", str(tmp_path / "no-such-dir" / "schema_gen.py"))
    monkeypatch.delitem(sys.modules, schema._MODULE, raising=False)
    schema._regenerate(SPEC)
    module = sys.modules[schema._MODULE]
    assert not os.path.exists(schema._GENERATED)
    errors = []
    module.validate_state({"ociVersion": "1.3.0", "id": "x", "status": "gone", "bundle": "/"},
                          lambda *a: errors.append(a))
    assert errors == [(".status", "enum", ("creating", "created", "running", "stopped"), "gone")]


def test_setup_build_py_writes_the_generated_module(tmp_path):
    # Built from a copy: setuptools leaves an egg-info directory behind.
    root = _tree_copy(tmp_path)
    for name in ("setup.py", "README.md"):
        shutil.copy(os.path.join(ROOT, name), root / name)
    build = tmp_path / "build"
    result = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build)],
                            cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (build / "pyrunc" / "oci" / "schema_gen.py").read_text() == schemagen.generate(SPEC)
    assert (build / "pyrunc" / "oci" / "validate.py").exists()


PATTERNS = ["^RLIMIT_[A-Z]+$", "^[0-9, -]*$", "^[1-9][0-9]*[KMG]B$", "^MB:[^\\n]*$", "^CAP_[A-Z_]+$",
            "^[cbup]$", "^a-b[\\]x]*$", "^[^ab]*$", "^x+-y*z$", "^[\\^a]+$"]


def _helpers():
    namespace = {}
    exec(schemagen._HELPERS_SOURCE, namespace)
    return namespace


@pytest.mark.parametrize("pattern", PATTERNS)
def test_simple_patterns_match_exactly_as_re_does(pattern):
    import re

    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    tokens = schemagen.compile_pattern(pattern)
    assert tokens is not None
    matches = _helpers()["_matches"]
    alphabet = "RLIMT_ACPNOFXZabcpuxyz019 ,-:MBKG\n]\\"

    @hypothesis.settings(max_examples=200, deadline=None, derandomize=True)
    @hypothesis.given(st.text(alphabet=alphabet, max_size=12))
    def agree(value):
        assert matches(tokens, value) == (re.search(pattern, value) is not None), repr(value)

    agree()
    for value in ("RLIMIT_NOFILE", "RLIMIT_NOFILE\n", "RLIMIT_\n", "2MB", "02MB", "MB:0=1\n", "MB:\nx", ""):
        assert matches(tokens, value) == (re.search(pattern, value) is not None), value


@pytest.mark.parametrize("pattern", ["RLIMIT_[A-Z]+", "^a|b$", "^a.b$", "^a?$", "^[0-9]*[0-5]$",
                                     "^[a-z]*[^x]$", "^a{2}$", "^[z-a]$", "^[a-$", "^\\d+$", "^a+b*$",
                                     "^a\\-b$", "^x+y*z$", "^[^a]*b$"])
def test_other_patterns_are_left_to_re(pattern):
    assert schemagen.compile_pattern(pattern) is None


def test_patterns_left_to_re_still_validate(spec_copy, tmp_path):
    _edit(spec_copy / "defs.json", lambda d: d["definitions"].update(
        {"FilePath": {"type": "string", "pattern": "^(/[a-z]+)+$"}}))
    source = schemagen.generate(str(spec_copy))
    assert "_search('^(/[a-z]+)+$'" in source
    namespace = {}
    exec(compile(source, "gen", "exec"), namespace)
    errors = []
    namespace["validate_config"]({"ociVersion": "1.0.0", "root": {"path": "/a/b"}}, lambda *a: errors.append(a))
    assert errors == []
    namespace["validate_config"]({"ociVersion": "1.0.0", "root": {"path": "a/b"}}, lambda *a: errors.append(a))
    assert errors == [(".root.path", "pattern", "^(/[a-z]+)+$", "a/b")]
