"""The generated validator against jsonschema (Draft 4, as spec/ declares) on the same schemas.

Both must accept and reject the same documents, and ``check`` must report the
same set of JSON paths jsonschema reports.  The corpus: tests/data/configs
(the spec's example and podman/docker/containerd-shaped configs, one-mutation
bad configs), what runc and crun write with ``spec``, and seeded random
mutations of all of these.
"""

import copy
import glob
import json
import os
import random
import shutil
import subprocess

import pytest

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")

from referencing.jsonschema import DRAFT4  # noqa: E402

from pyrunc.oci import schema as schema_loader  # noqa: E402
from pyrunc.oci import validate as validation  # noqa: E402
from pyrunc.oci.defaults import default_spec  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(ROOT, "spec")
DATA = os.path.join(ROOT, "tests", "data", "configs")
BASE = "https://pyrunc.invalid/spec/"

# The first problem validate() must name in each bad config.
BAD_PATHS = {
    "not-an-object-root": "root",
    "root-path-missing": "root.path",
    "root-readonly-string": "root.readonly",
    "ociversion-missing": "ociVersion",
    "ociversion-number": "ociVersion",
    "process-cwd-missing": "process.cwd",
    "process-terminal-int": "process.terminal",
    "process-args-string": "process.args",
    "process-args-item-int": "process.args[0]",
    "process-env-object": "process.env",
    "user-uid-negative": "process.user.uid",
    "user-gid-too-big": "process.user.gid",
    "user-uid-float": "process.user.uid",
    "user-uid-missing": "process.user.uid",
    "user-additionalgids-string": "process.user.additionalGids[0]",
    "rlimit-type-lowercase": "process.rlimits[0].type",
    "rlimit-soft-negative": "process.rlimits[0].soft",
    "rlimit-hard-missing": "process.rlimits[0].hard",
    "rlimit-hard-bool": "process.rlimits[0].hard",
    "capabilities-list": "process.capabilities",
    "capabilities-bounding-int": "process.capabilities.bounding[0]",
    "oomscoreadj-string": "process.oomScoreAdj",
    "ioprio-class-bogus": "process.ioPriority.class",
    "ioprio-class-missing": "process.ioPriority.class",
    "scheduler-policy-bogus": "process.scheduler.policy",
    "scheduler-flag-bogus": "process.scheduler.flags[0]",
    "consolesize-width-missing": "process.consoleSize.width",
    "execcpuaffinity-letters": "process.execCPUAffinity.initial",
    "hostname-int": "hostname",
    "mounts-object": "mounts",
    "mount-destination-missing": "mounts[0].destination",
    "mount-options-string": "mounts[1].options",
    "mount-uidmapping-size-missing": "mounts[0].uidMappings[0].size",
    "hooks-prestart-object": "hooks.prestart",
    "hook-path-missing": "hooks.poststop[0].path",
    "hook-timeout-zero": "hooks.poststart[0].timeout",
    "annotations-int-value": 'annotations["org.example.count"]',
    "annotations-list": "annotations",
    "linux-list": "linux",
    "namespace-type-bogus": "linux.namespaces[3].type",
    "namespace-type-missing": "linux.namespaces[0].type",
    "namespace-string": "linux.namespaces[0]",
    "uidmapping-hostid-negative": "linux.uidMappings[0].hostID",
    "devices-type-x": "linux.devices[0].type",
    "devices-path-missing": "linux.devices[0].path",
    "devices-filemode-too-big": "linux.devices[0].fileMode",
    "devices-major-string": "linux.devices[0].major",
    "resources-devices-allow-missing": "linux.resources.devices[0].allow",
    "memory-limit-string": "linux.resources.memory.limit",
    "memory-swappiness-negative": "linux.resources.memory.swappiness",
    "cpu-shares-negative": "linux.resources.cpu.shares",
    "cpu-cpus-int": "linux.resources.cpu.cpus",
    "pids-limit-missing": "linux.resources.pids.limit",
    "blkio-weight-too-big": "linux.resources.blockIO.weight",
    "blkio-weightdevice-minor-missing": "linux.resources.blockIO.weightDevice[0].minor",
    "blkio-throttle-rate-missing": "linux.resources.blockIO.throttleReadBpsDevice[0].rate",
    "hugepage-pagesize-bad": "linux.resources.hugepageLimits[0].pageSize",
    "network-priority-missing": "linux.resources.network.priorities[0].priority",
    "rdma-handles-string": "linux.resources.rdma.mlx5_1.hcaHandles",
    "unified-int-value": 'linux.resources.unified["memory.high"]',
    "rootfspropagation-bogus": "linux.rootfsPropagation",
    "seccomp-defaultaction-missing": "linux.seccomp.defaultAction",
    "seccomp-action-bogus": "linux.seccomp.syscalls[0].action",
    "seccomp-names-empty": "linux.seccomp.syscalls[0].names",
    "seccomp-arch-bogus": "linux.seccomp.architectures[0]",
    "seccomp-arg-op-bogus": "linux.seccomp.syscalls[0].args[0].op",
    "seccomp-flag-bogus": "linux.seccomp.flags[0]",
    "seccomp-errnoret-negative": "linux.seccomp.defaultErrnoRet",
    "sysctl-int-value": 'linux.sysctl["net.ipv4.ip_forward"]',
    "maskedpaths-string": "linux.maskedPaths",
    "intelrdt-membw-no-prefix": "linux.intelRdt.memBwSchema",
    "memorypolicy-mode-bogus": "linux.memoryPolicy.mode",
    "personality-domain-bogus": "linux.personality.domain",
    "timeoffsets-nanosecs-negative": "linux.timeOffsets.monotonic.nanosecs",
    "netdevices-name-int": "linux.netDevices.eth0.name",
    "cgroupspath-int": "linux.cgroupsPath",
    "uidmapping-size-negative": "linux.uidMappings[0].size",
    "mount-type-int": "mounts[2].type",
    "devices-minor-float": "linux.devices[0].minor",
    "capabilities-ambient-null": "process.capabilities.ambient",
    "ociversion-list": "ociVersion",
    "hugepage-limit-negative": "linux.resources.hugepageLimits[0].limit",
}


def _reference_validator(top):
    """A jsonschema Draft 4 validator over spec/, resolving the files' $refs among themselves."""
    resources = []
    for path in glob.glob(os.path.join(SPEC, "*.json")):
        with open(path) as f:
            doc = json.load(f)
        url = BASE + os.path.basename(path)
        resources.append((url, referencing.Resource.from_contents(dict(doc, id=url),
                                                                  default_specification=DRAFT4)))
    registry = referencing.Registry().with_resources(resources)
    with open(os.path.join(SPEC, top)) as f:
        root = dict(json.load(f), id=BASE + top)
    jsonschema.Draft4Validator.check_schema(root)
    return jsonschema.Draft4Validator(root, registry=registry)


REFERENCE = {name: _reference_validator(f) for name, f in
             (("config", "config-schema.json"), ("state", "state-schema.json"),
              ("features", "features-schema.json"))}
GENERATED = schema_loader.load()


def _json_path(parts):
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += GENERATED._key(part)
    return path.lstrip(".")


def reference_paths(doc, which="config"):
    """The JSON paths of every jsonschema error, a missing field named by its own path."""
    paths = set()
    for error in REFERENCE[which].iter_errors(doc):
        parts = list(error.absolute_path)
        if error.validator == "required":
            missing = [name for name in error.validator_value
                       if isinstance(error.instance, dict) and name not in error.instance]
            for name in missing:
                paths.add(_json_path(parts + [name]))
        else:
            paths.add(_json_path(parts))
    return paths


def generated_paths(doc, which="config"):
    paths = []
    getattr(GENERATED, f"validate_{which}")(doc, lambda path, kind, arg, value: paths.append(path.lstrip(".")))
    return paths


def assert_agree(doc, which="config"):
    expected = reference_paths(doc, which)
    got = generated_paths(doc, which)
    assert set(got) == expected, json.dumps(doc)[:2000]
    return expected


def _load(path):
    with open(path) as f:
        return json.load(f)


GOOD = sorted(glob.glob(os.path.join(DATA, "good", "*.json")))
BAD = sorted(glob.glob(os.path.join(DATA, "bad", "*.json")))


def _tool_specs():
    """Configs written by the reference runtimes' ``spec`` command, generated now."""
    specs = {}
    for tool in ("/usr/sbin/runc", "/usr/bin/crun"):
        exe = shutil.which(tool)
        if exe is None:
            continue
        for extra in ((), ("--rootless",)):
            name = f"{os.path.basename(tool)} spec {' '.join(extra)}".strip()
            specs[name] = (exe, extra)
    return specs


TOOLS = _tool_specs()


@pytest.fixture(params=sorted(TOOLS) or [None])
def tool_config(request, tmp_path):
    if request.param is None:
        pytest.skip("neither runc nor crun is installed")
    exe, extra = TOOLS[request.param]
    subprocess.run([exe, "spec", *extra], cwd=tmp_path, check=True, capture_output=True)
    return _load(tmp_path / "config.json")


def test_corpus_is_there():
    assert len(GOOD) >= 6 and len(BAD) >= 70
    assert {os.path.basename(p)[:-5] for p in BAD} == set(BAD_PATHS)


@pytest.mark.parametrize("path", GOOD, ids=os.path.basename)
def test_good_configs_pass_both(path):
    doc = _load(path)
    assert assert_agree(doc) == set()
    validation.validate(doc)   # the semantic rules accept them too
    assert validation.check(doc) == []


@pytest.mark.parametrize("path", BAD, ids=os.path.basename)
def test_bad_configs_fail_both(path):
    doc = _load(path)
    assert assert_agree(doc)
    name = os.path.basename(path)[:-5]
    with pytest.raises(validation.ConfigError) as info:
        validation.validate(doc)
    assert info.value.path == BAD_PATHS[name]
    assert [e.path for e in validation.check(doc)][0] == BAD_PATHS[name]


def test_tool_spec_output_passes_both(tool_config):
    assert assert_agree(tool_config) == set()
    linux = tool_config["linux"]
    if {"type": "user"} in linux["namespaces"] and "uidMappings" not in linux:
        # crun's rootless template leaves the mappings to crun to fill in at
        # run time; pyrunc, like runc 1.2, wants them written down.
        with pytest.raises(validation.ConfigError, match="is required for a new user namespace"):
            validation.validate(tool_config)
        return
    validation.validate(tool_config)


@pytest.mark.parametrize("rootless", [False, True])
def test_default_spec_passes_both(rootless):
    doc = default_spec(rootless=rootless, uid=1000, gid=1000)
    assert assert_agree(doc) == set()
    validation.validate(doc)


# -- random mutations ---------------------------------------------------------

_VALUES = [None, True, False, 0, 1, -1, 7, 511, 512, 65535, 65536, 2**31, -2**31 - 1, 2**32, 2**63,
           2**64, -2**63 - 1, 1.0, 0.5, -2.5, "", "x", "/abs", "rel", "RLIMIT_CPU", "RLIMIT_cpu", "pid",
           "bogus", "SCMP_ACT_ALLOW", "c", "p", "2MB", "2M", "MB:0=1", "MB:\n", "0-3", "a", [], {},
           [1], ["a"], {"a": 1}, {"type": "pid"}, {"path": "/x"}]


def _nodes(doc, parts=()):
    yield parts, doc
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _nodes(value, parts + (key,))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from _nodes(value, parts + (index,))


def mutate(doc, rng):
    """Apply one random change to a deep copy of ``doc``."""
    doc = copy.deepcopy(doc)
    parts, node = rng.choice(list(_nodes(doc)))
    if not parts:
        return rng.choice([doc, [], "config", None])
    parent = doc
    for part in parts[:-1]:
        parent = parent[part]
    last = parts[-1]
    action = rng.randrange(6)
    if action == 0 and isinstance(parent, dict):
        del parent[last]
    elif action == 1 and isinstance(node, dict):
        node[rng.choice(["type", "path", "size", "limit", "major", "extra", "names", "action"])] = rng.choice(_VALUES)
    elif action == 2 and isinstance(node, list):
        node.append(copy.deepcopy(rng.choice(_VALUES)))
    elif action == 3 and isinstance(node, int) and not isinstance(node, bool):
        parent[last] = rng.choice([-node - 1, node + 2**32, node + 2**64, float(node), str(node), -1])
    else:
        parent[last] = copy.deepcopy(rng.choice(_VALUES))
    return doc


def _seeds():
    seeds = [_load(p) for p in GOOD] + [default_spec(), default_spec(rootless=True)]
    return seeds


@pytest.mark.parametrize("seed", range(8))
def test_random_mutations_agree(seed):
    rng = random.Random(seed)
    seeds = _seeds()
    rejected = 0
    for _ in range(250):
        doc = rng.choice(seeds)
        for _ in range(rng.randrange(1, 4)):
            doc = mutate(doc, rng)
        if assert_agree(doc):
            rejected += 1
    # The mutator must exercise both outcomes, or the comparison proves little.
    assert 20 < rejected < 250


def test_hypothesis_values_agree():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers(min_value=-2**65, max_value=2**65) | st.floats(allow_nan=False)
        | st.text(max_size=8) | st.sampled_from(["pid", "RLIMIT_NOFILE", "c", "2MB", "SCMP_ACT_ERRNO"]),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(
            st.sampled_from(["type", "path", "limit", "names", "action", "major", "minor", "x"]), children, max_size=3),
        max_leaves=8)
    spots = [parts for parts, _ in _nodes(_load(os.path.join(DATA, "good", "spec-example.json"))) if parts]

    @hypothesis.settings(max_examples=100, deadline=None, derandomize=True)
    @hypothesis.given(st.sampled_from(spots), json_values)
    def run(parts, value):
        doc = _load(os.path.join(DATA, "good", "spec-example.json"))
        parent = doc
        for part in parts[:-1]:
            parent = parent[part]
        parent[parts[-1]] = value
        assert_agree(doc)

    run()


# -- state and features -------------------------------------------------------

def test_state_documents_agree():
    good = {"ociVersion": "1.3.0", "id": "c1", "status": "running", "pid": 42, "bundle": "/b",
            "annotations": {"a": "b"}}
    assert assert_agree(good, "state") == set()
    for change in ({"status": "paused"}, {"pid": -1}, {"pid": "42"}, {"id": 3}, {"annotations": {"a": 1}}):
        assert assert_agree(dict(good, **change), "state")
    for field in ("ociVersion", "id", "status", "bundle"):
        doc = dict(good)
        del doc[field]
        assert assert_agree(doc, "state") == {field}


def test_features_documents_agree():
    good = {
        "ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0", "hooks": ["prestart"], "mountOptions": ["ro"],
        "annotations": {"org.opencontainers.runc.version": "1"},
        "potentiallyUnsafeConfigAnnotations": ["bundle"],
        "linux": {"namespaces": ["pid", "time"], "capabilities": ["CAP_KILL"],
                  "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": False},
                  "seccomp": {"enabled": True, "actions": ["SCMP_ACT_ALLOW"], "operators": ["SCMP_CMP_EQ"],
                              "archs": ["SCMP_ARCH_X86_64"], "knownFlags": ["SECCOMP_FILTER_FLAG_LOG"],
                              "supportedFlags": ["SECCOMP_FILTER_FLAG_LOG"]},
                  "apparmor": {"enabled": False}, "selinux": {"enabled": False}, "intelRdt": {"enabled": False},
                  "mountExtensions": {"idmap": {"enabled": True}}, "netDevices": {"enabled": True}},
    }
    assert assert_agree(good, "features") == set()
    rng = random.Random(99)
    for _ in range(300):
        assert_agree(mutate(good, rng), "features")
