"""validate() and check(): messages, paths, first-versus-all, the seccomp hand-off, import cost."""

import os
import subprocess
import sys
import types

import pytest

from pyrunc.errors import ConfigError
from pyrunc.oci import validate as validation
from pyrunc.oci.defaults import default_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def first_error(config, **kw):
    with pytest.raises(ConfigError) as info:
        validation.validate(config, **kw)
    return info.value


@pytest.mark.parametrize("change,path,message", [
    (lambda c: c["linux"]["namespaces"][3].update(type="bogus"), "linux.namespaces[3].type",
     '"bogus" is not one of pid, network, mount, ipc, uts, user, cgroup, time'),
    (lambda c: c["process"]["user"].update(uid="0"), "process.user.uid", "must be an integer, not a string"),
    (lambda c: c["process"]["user"].update(uid=1.0), "process.user.uid", "must be an integer, not a number"),
    (lambda c: c["process"].update(terminal=None), "process.terminal", "must be a boolean, not null"),
    (lambda c: c["root"].update(readonly=1), "root.readonly", "must be a boolean, not an integer"),
    (lambda c: c.update(mounts={}), "mounts", "must be an array, not an object"),
    (lambda c: c.update(linux=[]), "linux", "must be an object, not an array"),
    (lambda c: c["process"].pop("cwd"), "process.cwd", "is required"),
    (lambda c: c["process"]["rlimits"][0].update(type="NOFILE"), "process.rlimits[0].type",
     '"NOFILE" does not match ^RLIMIT_[A-Z]+$'),
    (lambda c: c["process"]["user"].update(gid=-1), "process.user.gid", "must be >= 0"),
    (lambda c: c["process"]["user"].update(gid=2**32), "process.user.gid", "must be <= 4294967295"),
    (lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW",
                                          "syscalls": [{"names": [], "action": "SCMP_ACT_LOG"}]}),
     "linux.seccomp.syscalls[0].names", "must not be empty"),
    (lambda c: c.update(annotations={"io.x/y": 1}), 'annotations["io.x/y"]', "must be a string, not an integer"),
])
def test_schema_messages(change, path, message):
    config = default_spec()
    change(config)
    error = first_error(config)
    assert (error.path, error.message, error.filename) == (path, message, "config.json")


def test_whole_document_of_the_wrong_type():
    error = first_error([])
    assert (error.path, error.message) == ("", "must be an object, not an array")
    assert str(error) == "config.json: must be an object, not an array"
    assert [str(e) for e in validation.check("x")] == ["config.json: must be an object, not a string"]


def test_filename_is_carried_into_every_error():
    config = default_spec()
    config["process"]["cwd"] = "rel"
    error = first_error(config, filename="/b/config.json")
    assert str(error) == '/b/config.json: process.cwd: "rel" must be an absolute path'
    assert {e.filename for e in validation.check(config, filename="/b/config.json")} == {"/b/config.json"}


def test_schema_problems_come_before_semantic_ones():
    config = default_spec()
    config["process"]["cwd"] = "relative"          # semantic
    config["linux"]["namespaces"][0]["type"] = 7    # schema, later in the document
    assert first_error(config).path == "linux.namespaces[0].type"


def test_check_reports_everything():
    config = default_spec()
    config["ociVersion"] = "3.0.0"
    config["process"]["user"]["uid"] = -1
    config["process"]["args"] = []
    config["hostname"] = 5
    config["linux"]["namespaces"].append({"type": "pid"})
    config["linux"]["sysctl"] = {"vm.overcommit_memory": "1"}
    config["linux"]["resources"]["blockIO"] = {"throttleReadBpsDevice": ["8:0 100"]}
    found = [(e.path, e.message) for e in validation.check(config)]
    assert found == [
        ("process.user.uid", "must be >= 0"),
        ("hostname", "must be a string, not an integer"),
        # allOf in blockIODeviceThrottle: one error, though both halves fail
        ("linux.resources.blockIO.throttleReadBpsDevice[0]", "must be an object, not a string"),
        ("ociVersion", '"3.0.0" is not supported: the major version must be 1'),
        ("process.args", "must not be empty"),
        ("linux.namespaces[6].type", "duplicate namespace pid"),
        ('linux.sysctl["vm.overcommit_memory"]',
         "vm.overcommit_memory is not in a namespace the container can have its own of"),
    ]


def test_check_skips_rules_that_trip_over_schema_errors():
    config = default_spec()
    config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": "many", "hard": 1}]
    assert [(e.path, e.message) for e in validation.check(config)] == [
        ("process.rlimits[0].soft", "must be an integer, not a string")]


def test_a_rule_crashing_on_a_schema_valid_config_is_a_bug(monkeypatch):
    def broken(config, ctx):
        raise KeyError("nothing")
        yield
    monkeypatch.setattr(validation, "RULES", (broken,))
    with pytest.raises(KeyError):
        validation.check(default_spec())


def _fake_seccomp(monkeypatch, errors):
    seen = []
    module = types.ModuleType("pyrunc.seccomp.rules")

    def check_seccomp(seccomp, path="linux.seccomp"):
        seen.append((seccomp, path))
        return list(errors)
    module.check_seccomp = check_seccomp
    monkeypatch.setitem(sys.modules, "pyrunc.seccomp.rules", module)
    return seen


def test_seccomp_section_goes_to_check_seccomp(monkeypatch):
    seen = _fake_seccomp(monkeypatch, [ConfigError("linux.seccomp.syscalls[0].names[0]", 'unknown syscall "nope"'),
                                       ConfigError("linux.seccomp.defaultErrnoRet", "needs SCMP_ACT_ERRNO")])
    config = default_spec()
    config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                  "syscalls": [{"names": ["nope"], "action": "SCMP_ACT_ERRNO"}]}
    error = first_error(config, filename="b/config.json")
    assert str(error) == 'b/config.json: linux.seccomp.syscalls[0].names[0]: unknown syscall "nope"'
    assert seen == [(config["linux"]["seccomp"], "linux.seccomp")]
    assert [e.path for e in validation.check(config)] == ["linux.seccomp.syscalls[0].names[0]",
                                                          "linux.seccomp.defaultErrnoRet"]


def test_seccomp_not_consulted_without_a_section_or_with_schema_errors(monkeypatch):
    seen = _fake_seccomp(monkeypatch, [ConfigError("linux.seccomp", "x")])
    validation.validate(default_spec())
    config = default_spec()
    config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_NOPE"}
    assert [e.path for e in validation.check(config)] == ["linux.seccomp.defaultAction"]
    assert seen == []


def test_validation_works_without_the_seccomp_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyrunc.seccomp.rules", None)   # import fails as "not found"
    config = default_spec()
    config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW"}
    validation.validate(config)
    assert validation.check(config) == []


def test_state_and_features_documents():
    validation.validate_state({"ociVersion": "1.3.0", "id": "c", "status": "created", "pid": 1, "bundle": "/b"})
    with pytest.raises(ConfigError) as info:
        validation.validate_state({"ociVersion": "1.3.0", "id": "c", "status": "created", "bundle": 0})
    assert str(info.value) == "state.json: bundle: must be a string, not an integer"
    validation.validate_features({"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0"})
    with pytest.raises(ConfigError) as info:
        validation.validate_features({"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0",
                                      "linux": {"namespaces": ["net"]}})
    assert info.value.path == "linux.namespaces[0]"


_IMPORTS = """
import importlib.util, sys
root = sys.argv[1]
spec = importlib.util.spec_from_file_location(
    "pyrunc", root + "/runtime/__init__.py", submodule_search_locations=[root + "/runtime"])
mod = importlib.util.module_from_spec(spec); sys.modules["pyrunc"] = mod; spec.loader.exec_module(mod)
before = set(sys.modules)
from pyrunc.oci.validate import validate, check
from pyrunc.oci.defaults import default_spec
config = default_spec()
config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW"}
validate(config)
check(config)
print(" ".join(sorted(set(sys.modules) - before)))
"""


def test_validate_does_not_import_jsonschema():
    result = subprocess.run([sys.executable, "-I", "-c", _IMPORTS, ROOT], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert "pyrunc.oci.schema_gen" in loaded
    assert not {"jsonschema", "fastjsonschema", "referencing", "decimal"} & loaded
