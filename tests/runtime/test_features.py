"""features: the runtime-spec features document on stdout."""

import glob
import json
import os

import pytest

from pyrunc.linux import caps
from pyrunc.oci import mounts
from pyrunc.seccomp import rules

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYRUNC = os.environ.get("PYRUNC", os.path.join(ROOT, "bin", "pyrunc"))

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")
from referencing.jsonschema import DRAFT4  # noqa: E402

SPEC = os.path.join(ROOT, "spec")
BASE = "https://pyrunc.test/spec/"


def _validator():
    resources = []
    for path in glob.glob(os.path.join(SPEC, "*.json")):
        with open(path) as f:
            doc = json.load(f)
        url = BASE + os.path.basename(path)
        resources.append((url, referencing.Resource.from_contents(dict(doc, id=url),
                                                                  default_specification=DRAFT4)))
    registry = referencing.Registry().with_resources(resources)
    with open(os.path.join(SPEC, "features-schema.json")) as f:
        root = dict(json.load(f), id=BASE + "features-schema.json")
    return jsonschema.Draft4Validator(root, registry=registry)


@pytest.fixture(scope="module")
def doc():
    import subprocess
    p = subprocess.run([PYRUNC, "features"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_features_follows_the_schema(doc):
    errors = sorted(_validator().iter_errors(doc), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    from pyrunc.oci.validate import validate_features
    validate_features(doc)


def test_features_schema_catches_a_bad_document(doc):
    bad = dict(doc, linux=dict(doc["linux"], namespaces=["bogus"]))
    assert list(_validator().iter_errors(bad))


def test_features_versions_and_hooks(doc):
    assert doc["ociVersionMin"] == "1.0.0" and doc["ociVersionMax"] == "1.3.0"
    assert doc["hooks"] == ["prestart", "createRuntime", "createContainer", "startContainer",
                            "poststart", "poststop"]


def test_features_mount_options_are_the_runtime_table(doc):
    opts = set(doc["mountOptions"])
    assert set(mounts.FLAGS) <= opts and set(mounts.RECURSIVE) <= opts
    assert {"rprivate", "rbind", "tmpcopyup"} <= opts
    assert not {"idmap", "ridmap"} & opts  # refused by the runtime, so not claimed


def test_features_linux(doc):
    lx = doc["linux"]
    assert {"user", "pid", "network", "mount", "ipc", "uts", "cgroup"} <= set(lx["namespaces"])
    assert lx["capabilities"] == list(caps.NAMES)
    assert lx["cgroup"] == {"v1": True, "v2": True, "systemd": False, "systemdUser": False,
                            "rdma": True}
    assert lx["apparmor"]["enabled"] == os.path.exists("/sys/kernel/security/apparmor")
    assert lx["selinux"]["enabled"] == os.path.exists("/sys/fs/selinux/enforce")
    assert lx["mountExtensions"] == {"idmap": {"enabled": False}}
    assert lx["intelRdt"] == {"enabled": False}


def test_features_seccomp(doc):
    sc = doc["linux"]["seccomp"]
    assert sc["enabled"] is True
    assert set(sc["actions"]) == set(rules.ACTIONS)
    assert set(sc["operators"]) == set(rules.OPS)
    assert "SCMP_ARCH_X86_64" in sc["archs"] and "SCMP_ARCH_MIPS" not in sc["archs"]
    assert set(sc["supportedFlags"]) <= set(sc["knownFlags"]) == set(rules.FLAGS)


def test_features_supported_flags_follow_the_kernel():
    from pyrunc.features import seccomp_features
    old = seccomp_features(kernel=(4, 15))["supportedFlags"]
    assert "SECCOMP_FILTER_FLAG_LOG" in old
    assert "SECCOMP_FILTER_FLAG_SPEC_ALLOW" not in old
    assert "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" not in old


def test_features_annotations(doc):
    from pyrunc import __version__
    assert doc["annotations"]["io.github.pyrunc.version"] == __version__
    assert doc["annotations"]["org.opencontainers.runc.checkpoint.enabled"] == "false"


def test_features_takes_no_arguments():
    import subprocess
    p = subprocess.run([PYRUNC, "features", "extra"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "features" in p.stderr
