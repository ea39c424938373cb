"""Each semantic rule of pyrunc.oci.validate: a config it accepts and one it rejects, path and message exact."""

import os

import pytest

from pyrunc.errors import ConfigError
from pyrunc.oci import validate as validation
from pyrunc.oci.defaults import default_spec


def _set(config, dotted, value):
    """Set ``value`` at a dotted path ("linux.sysctl", "process.rlimits.0.type")."""
    parts = [int(p) if p.isdigit() else p for p in dotted.split(".")]
    node = config
    for part in parts[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(part, {})
        else:
            node = node[part]
    node[parts[-1]] = value


def _del(config, dotted):
    parts = [int(p) if p.isdigit() else p for p in dotted.split(".")]
    node = config
    for part in parts[:-1]:
        node = node[part]
    del node[parts[-1]]


def _namespaces(*types, **paths):
    return [{"type": t} for t in types] + [{"type": t, "path": p} for t, p in paths.items()]


def config_with(*changes):
    config = default_spec()
    for change in changes:
        if len(change) == 1:
            _del(config, change[0])
        else:
            _set(config, *change)
    return config


ALL_NS = ("pid", "network", "ipc", "uts", "mount", "cgroup")
USERNS = [("linux.namespaces", _namespaces(*ALL_NS, "user")),
          ("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}]),
          ("linux.gidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}])]

# (id, changes, expected (path, message) or None when the config is valid)
CASES = [
    # ociVersion
    ("version-1.3.0", [("ociVersion", "1.3.0")], None),
    ("version-prerelease", [("ociVersion", "1.0.2-dev+build.5")], None),
    ("version-2", [("ociVersion", "2.0.0")],
     ("ociVersion", '"2.0.0" is not supported: the major version must be 1')),
    ("version-not-semver", [("ociVersion", "1.0")],
     ("ociVersion", '"1.0" is not a semantic version (MAJOR.MINOR.PATCH)')),
    ("version-letters", [("ociVersion", "v1.0.0")],
     ("ociVersion", '"v1.0.0" is not a semantic version (MAJOR.MINOR.PATCH)')),
    # root
    ("root-missing", [("root",)], ("root", "is required")),
    # process
    ("no-process", [("process",)], None),
    ("args-empty", [("process.args", [])], ("process.args", "must not be empty")),
    ("args-missing", [("process.args",)], ("process.args", "is required")),
    ("cwd-relative", [("process.cwd", "srv")], ("process.cwd", '"srv" must be an absolute path')),
    ("cwd-absolute", [("process.cwd", "/srv")], None),
    ("umask-ok", [("process.user.umask", 0o777)], None),
    ("umask-too-big", [("process.user.umask", 0o1000)],
     ("process.user.umask", "512 is not a umask: must be <= 511 (0777)")),
    ("rlimit-unknown", [("process.rlimits.0.type", "RLIMIT_BOGUS")],
     ("process.rlimits[0].type", 'unknown rlimit "RLIMIT_BOGUS"')),
    ("rlimit-duplicate", [("process.rlimits", [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1},
                                               {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                                               {"type": "RLIMIT_NOFILE", "soft": 2, "hard": 2}])],
     ("process.rlimits[2].type", "duplicate rlimit RLIMIT_NOFILE")),
    ("rlimit-soft-above-hard", [("process.rlimits.0.soft", 2048)],
     ("process.rlimits[0].soft", "2048 is above the hard limit 1024")),
    ("rlimit-all-known", [("process.rlimits", [{"type": name, "soft": 0, "hard": 0}
                                               for name in validation.RLIMITS])], None),
    # runc warns about unknown capabilities and carries on; so does pyrunc
    ("capability-unknown", [("process.capabilities.effective", ["CAP_KILL", "CAP_FLY"])], None),
    ("capability-newest", [("process.capabilities.bounding", ["CAP_CHECKPOINT_RESTORE", "CAP_BPF"])], None),
    ("oom-min", [("process.oomScoreAdj", -1000)], None),
    ("oom-too-low", [("process.oomScoreAdj", -1001)],
     ("process.oomScoreAdj", "-1001 is out of range: must be in [-1000, 1000]")),
    ("oom-too-high", [("process.oomScoreAdj", 1001)],
     ("process.oomScoreAdj", "1001 is out of range: must be in [-1000, 1000]")),
    ("ioprio-ok", [("process.ioPriority", {"class": "IOPRIO_CLASS_BE", "priority": 7})], None),
    ("ioprio-8", [("process.ioPriority", {"class": "IOPRIO_CLASS_BE", "priority": 8})],
     ("process.ioPriority.priority", "8 is out of range: must be in [0, 7]")),
    ("sched-nice-ok", [("process.scheduler", {"policy": "SCHED_BATCH", "nice": -20})], None),
    ("sched-nice-range", [("process.scheduler", {"policy": "SCHED_OTHER", "nice": 20})],
     ("process.scheduler.nice", "20 is out of range for SCHED_OTHER: must be in [-20, 19]")),
    ("sched-priority-rr", [("process.scheduler", {"policy": "SCHED_RR", "priority": 50})], None),
    ("sched-priority-other", [("process.scheduler", {"policy": "SCHED_OTHER", "priority": 50})],
     ("process.scheduler.priority", "only applies to SCHED_FIFO and SCHED_RR, not SCHED_OTHER")),
    ("sched-deadline-fields", [("process.scheduler", {"policy": "SCHED_FIFO", "period": 100})],
     ("process.scheduler.period", "only applies to SCHED_DEADLINE, not SCHED_FIFO")),
    # hooks
    ("hook-absolute", [("hooks", {"poststop": [{"path": "/bin/true"}]})], None),
    ("hook-relative", [("hooks", {"poststop": [{"path": "/bin/true"}, {"path": "true"}]})],
     ("hooks.poststop[1].path", '"true" must be an absolute path')),
    # mounts
    ("mount-relative-destination", [("mounts.0.destination", "proc")], None),
    ("mount-nul", [("mounts.1.source", "tmp\u0000fs")], ("mounts[1].source", "must not contain a NUL byte")),
    ("mount-uidmap-alone", [("mounts.0.uidMappings", [{"containerID": 0, "hostID": 1, "size": 1}])],
     ("mounts[0].gidMappings", "is required with uidMappings")),
    ("mount-idmap-no-userns", [("mounts.0.options", ["idmap"])],
     ("mounts[0].options", "idmap needs uidMappings/gidMappings or a user namespace")),
    ("mount-idmap-userns", USERNS + [("mounts.0.options", ["ridmap"])], None),
    ("mount-idmap-mappings", [("mounts.0.options", ["idmap"]),
                              ("mounts.0.uidMappings", [{"containerID": 0, "hostID": 1, "size": 1}]),
                              ("mounts.0.gidMappings", [{"containerID": 0, "hostID": 1, "size": 1}])], None),
    # namespaces
    ("ns-duplicate", [("linux.namespaces", _namespaces("pid", "mount", "uts", "pid"))],
     ("linux.namespaces[3].type", "duplicate namespace pid")),
    ("ns-path-relative", [("linux.namespaces", _namespaces(*ALL_NS[1:], pid="proc/1/ns/pid"))],
     ("linux.namespaces[5].path", '"proc/1/ns/pid" must be an absolute path')),
    ("ns-path-absolute", [("linux.namespaces", _namespaces(*ALL_NS[1:], pid="/proc/1/ns/pid"))], None),
    # uts
    ("hostname-no-uts", [("linux.namespaces", _namespaces("pid", "mount"))],
     ("hostname", "needs a uts namespace (none in linux.namespaces)")),
    ("domainname-no-uts", [("hostname",), ("domainname", "example.org"),
                           ("linux.namespaces", _namespaces("pid", "mount"))],
     ("domainname", "needs a uts namespace (none in linux.namespaces)")),
    ("empty-hostname-no-uts", [("hostname", ""), ("linux.namespaces", _namespaces("pid", "mount"))], None),
    ("hostname-joined-uts", [("linux.namespaces", _namespaces("mount", uts="/proc/1/ns/uts"))], None),
    # user namespace
    ("userns-mapped", USERNS, None),
    ("mappings-without-userns", [("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}])],
     ("linux.uidMappings", "needs a user namespace (none in linux.namespaces)")),
    ("userns-without-mappings", [USERNS[0], USERNS[2]],
     ("linux.uidMappings", "is required for a new user namespace")),
    ("userns-without-gid-mappings", USERNS[:2],
     ("linux.gidMappings", "is required for a new user namespace")),
    ("userns-joined", [("linux.namespaces", _namespaces(*ALL_NS, user="/proc/1/ns/user"))], None),
    ("userns-joined-with-mappings", [USERNS[1], ("linux.namespaces", _namespaces(*ALL_NS, user="/proc/1/ns/user"))],
     None),
    ("mapping-size-zero", USERNS[:2] + [("linux.gidMappings", [{"containerID": 0, "hostID": 1000, "size": 0}])],
     ("linux.gidMappings[0].size", "must be > 0")),
    # time namespace
    ("time-offsets", [("linux.namespaces", _namespaces(*ALL_NS, "time")),
                      ("linux.timeOffsets", {"monotonic": {"secs": 5}})], None),
    ("time-offsets-no-timens", [("linux.timeOffsets", {"monotonic": {"secs": 5}})],
     ("linux.timeOffsets", "needs a time namespace (none in linux.namespaces)")),
    ("time-offsets-joined", [("linux.namespaces", _namespaces(*ALL_NS, time="/proc/1/ns/time")),
                             ("linux.timeOffsets", {"boottime": {"secs": 5}})],
     ("linux.timeOffsets", "cannot be applied to a time namespace joined by path")),
    # sysctl
    ("sysctl-net", [("linux.sysctl", {"net.ipv4.ip_forward": "1"})], None),
    ("sysctl-net-slashes", [("linux.sysctl", {"net/ipv4/conf/eno2.100/rp_filter": "1"})], None),
    ("sysctl-net-no-netns", [("linux.namespaces", _namespaces("pid", "mount", "uts")),
                             ("linux.sysctl", {"net.ipv4.ip_forward": "1"})],
     ('linux.sysctl["net.ipv4.ip_forward"]', "net.ipv4.ip_forward needs a network namespace (none in linux.namespaces)")),
    ("sysctl-ipc", [("linux.sysctl", {"kernel.shmmax": "1", "fs.mqueue.msg_max": "10"})], None),
    ("sysctl-ipc-no-ipcns", [("linux.namespaces", _namespaces("pid", "mount", "uts")),
                             ("linux.sysctl", {"kernel.msgmax": "1"})],
     ('linux.sysctl["kernel.msgmax"]', "kernel.msgmax needs an ipc namespace (none in linux.namespaces)")),
    ("sysctl-mqueue-no-ipcns", [("linux.namespaces", _namespaces("pid", "mount", "uts")),
                                ("linux.sysctl", {"fs.mqueue.queues_max": "1"})],
     ('linux.sysctl["fs.mqueue.queues_max"]', "fs.mqueue.queues_max needs an ipc namespace (none in linux.namespaces)")),
    ("sysctl-domainname", [("linux.sysctl", {"kernel.domainname": "example.org"})], None),
    ("sysctl-hostname", [("linux.sysctl", {"kernel.hostname": "x"})],
     ('linux.sysctl["kernel.hostname"]', "kernel.hostname conflicts with the hostname field: set that instead")),
    ("sysctl-domainname-no-uts", [("hostname",), ("linux.namespaces", _namespaces("pid", "mount")),
                                  ("linux.sysctl", {"kernel.domainname": "x"})],
     ('linux.sysctl["kernel.domainname"]', "kernel.domainname is not in a namespace the container can have its own of")),
    ("sysctl-unknown", [("linux.sysctl", {"vm.swappiness": "10"})],
     ('linux.sysctl["vm.swappiness"]', "vm.swappiness is not in a namespace the container can have its own of")),
    ("sysctl-user-userns", USERNS + [("linux.sysctl", {"user.max_user_namespaces": "0"})], None),
    ("sysctl-user-no-userns", [("linux.sysctl", {"user.max_user_namespaces": "0"})],
     ('linux.sysctl["user.max_user_namespaces"]', "user.max_user_namespaces needs a user namespace (none in linux.namespaces)")),
    # masked and read-only paths
    ("masked-relative", [("linux.maskedPaths", ["/proc/kcore", "proc/keys"])],
     ("linux.maskedPaths[1]", '"proc/keys" must be an absolute path')),
    ("readonly-relative", [("linux.readonlyPaths", ["sys"])],
     ("linux.readonlyPaths[0]", '"sys" must be an absolute path')),
    ("masked-no-mountns", [("linux.namespaces", _namespaces("pid", "uts")), ("linux.readonlyPaths",)],
     ("linux.maskedPaths", "needs a mount namespace (none in linux.namespaces)")),
    ("no-masks-no-mountns", [("linux.maskedPaths", []), ("linux.readonlyPaths",),
                             ("linux.namespaces", _namespaces("pid", "uts"))], None),
    # devices
    ("device-fifo", [("linux.devices", [{"path": "/dev/f", "type": "p"}])], None),
    ("device-char", [("linux.devices", [{"path": "/dev/c", "type": "c", "major": 1, "minor": 3}])], None),
    ("device-no-minor", [("linux.devices", [{"path": "/dev/c", "type": "b", "major": 8}])],
     ("linux.devices[0].minor", "is required for device type b")),
    ("device-no-major", [("linux.devices", [{"path": "/dev/c", "type": "u", "minor": 8}])],
     ("linux.devices[0].major", "is required for device type u")),
    ("device-relative", [("linux.devices", [{"path": "dev/null", "type": "c", "major": 1, "minor": 3}])],
     ("linux.devices[0].path", '"dev/null" must be an absolute path')),
    ("cgroup-device-ok", [("linux.resources.devices", [{"allow": True, "type": "b", "access": "rm"}])], None),
    ("cgroup-device-type", [("linux.resources.devices", [{"allow": True, "type": "p", "access": "rm"}])],
     ("linux.resources.devices[0].type", '"p" is not one of a, b, c')),
    ("cgroup-device-access", [("linux.resources.devices", [{"allow": True, "access": "rwx"}])],
     ("linux.resources.devices[0].access", '"rwx" must be letters of rwm')),
    ("cgroup-device-access-empty", [("linux.resources.devices", [{"allow": True, "access": ""}])],
     ("linux.resources.devices[0].access", '"" must be letters of rwm')),
    # intelRdt
    ("rdt-ok", [("linux.intelRdt", {"closID": "gold"})], None),
    ("rdt-dotdot", [("linux.intelRdt", {"closID": ".."})],
     ("linux.intelRdt.closID", '".." is not a valid directory name')),
    ("rdt-slash", [("linux.intelRdt", {"closID": "a/b"})],
     ("linux.intelRdt.closID", '"a/b" is not a valid directory name')),
    # netDevices
    ("netdev-ok", [("linux.netDevices", {"eth1": {"name": "data0"}})], None),
    ("netdev-no-netns", [("linux.namespaces", _namespaces("pid", "mount", "uts")),
                         ("linux.netDevices", {"eth1": {}})],
     ("linux.netDevices", "needs a network namespace (none in linux.namespaces)")),
    ("netdev-bad-name", [("linux.netDevices", {"eth1": {"name": "a/b"}})],
     ("linux.netDevices.eth1.name", '"a/b" is not a valid interface name')),
    ("netdev-long-name", [("linux.netDevices", {"averyveryverylongname": {}})],
     ("linux.netDevices.averyveryverylongname", '"averyveryverylongname" is not a valid interface name')),
    # memoryPolicy
    ("mpol-bind", [("linux.memoryPolicy", {"mode": "MPOL_BIND", "nodes": "0"})], None),
    ("mpol-bind-no-nodes", [("linux.memoryPolicy", {"mode": "MPOL_BIND"})],
     ("linux.memoryPolicy.nodes", "is required for MPOL_BIND")),
    ("mpol-local-nodes", [("linux.memoryPolicy", {"mode": "MPOL_LOCAL", "nodes": "0"})],
     ("linux.memoryPolicy.nodes", "must be empty for MPOL_LOCAL")),
    # annotations
    ("annotation-ok", [("annotations", {"org.example": "x"})], None),
    ("annotation-empty-key", [("annotations", {"": "x"})], ("annotations", "keys must not be empty")),
]


@pytest.mark.parametrize("changes,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(changes, expected):
    config = config_with(*changes)
    if expected is None:
        validation.validate(config)
        assert validation.check(config) == []
        return
    with pytest.raises(ConfigError) as info:
        validation.validate(config)
    assert (info.value.path, info.value.message) == expected
    assert str(info.value) == f"config.json: {expected[0]}: {expected[1]}"
    assert [(e.path, e.message) for e in validation.check(config)] == [expected]


def test_every_rule_has_a_failing_case():
    """Each rule in the table is the one that fires for at least one case above."""
    fired = {"rule_root_exists"}   # needs a bundle: test_root_must_be_a_directory_in_the_bundle
    for _, changes, expected in CASES:
        if expected is None:
            continue
        config = config_with(*changes)
        ctx = validation._Context(config, None)
        for rule in validation.RULES:
            if any(pair == expected for pair in rule(config, ctx)):
                fired.add(rule.__name__)
    assert fired == {rule.__name__ for rule in validation.RULES}


def test_root_must_be_a_directory_in_the_bundle(tmp_path):
    config = default_spec()
    validation.validate(config)           # not looked at without a bundle
    with pytest.raises(ConfigError) as info:
        validation.validate(config, bundle=str(tmp_path))
    assert (info.value.path, info.value.message) == ("root.path", '"rootfs" does not exist in the bundle')
    (tmp_path / "rootfs").write_text("")
    with pytest.raises(ConfigError) as info:
        validation.validate(config, bundle=str(tmp_path))
    assert (info.value.path, info.value.message) == ("root.path", '"rootfs" is not a directory')
    (tmp_path / "rootfs").unlink()
    (tmp_path / "rootfs").mkdir()
    validation.validate(config, bundle=str(tmp_path))
    config["root"]["path"] = str(tmp_path / "rootfs")   # absolute paths are taken as they are
    validation.validate(config, bundle="/nonexistent")


def test_namespace_path_must_exist_with_bundle(tmp_path):
    (tmp_path / "rootfs").mkdir()
    config = config_with(("linux.namespaces", _namespaces(*ALL_NS[1:], pid="/proc/nonexistent/ns/pid")))
    validation.validate(config)           # only the form is checked without a bundle
    with pytest.raises(ConfigError) as info:
        validation.validate(config, bundle=str(tmp_path))
    assert (info.value.path, info.value.message) == (
        "linux.namespaces[5].path", '"/proc/nonexistent/ns/pid" does not exist')
    config["linux"]["namespaces"][5]["path"] = f"/proc/{os.getpid()}/ns/pid"
    validation.validate(config, bundle=str(tmp_path))


def test_net_sysctl_refused_in_host_netns_with_bundle(tmp_path):
    (tmp_path / "rootfs").mkdir()
    host = f"/proc/{os.getpid()}/ns/net"
    config = config_with(("linux.namespaces", _namespaces("pid", "mount", "uts", "ipc", network=host)),
                         ("linux.sysctl", {"net.ipv4.ip_forward": "1"}))
    validation.validate(config)
    with pytest.raises(ConfigError) as info:
        validation.validate(config, bundle=str(tmp_path))
    assert (info.value.path, info.value.message) == (
        'linux.sysctl["net.ipv4.ip_forward"]', "net.ipv4.ip_forward is not allowed in the host's network namespace")


def test_sysctl_slash_form_is_read_with_dots():
    assert validation._sysctl_dotted("net/ipv4/conf/eno2.100/rp_filter") == "net.ipv4.conf.eno2/100.rp_filter"
    assert validation._sysctl_dotted("net.ipv4.ip_forward") == "net.ipv4.ip_forward"
    assert validation._sysctl_dotted("kernel") == "kernel"


def test_capability_table_matches_the_kernel_header():
    assert len(validation.CAPABILITIES) == 41
    assert validation.CAPABILITIES["CAP_SYS_ADMIN"] == 21
    assert validation.CAPABILITIES["CAP_CHECKPOINT_RESTORE"] == 40
    assert validation.RLIMITS["RLIMIT_NOFILE"] == 7 and validation.RLIMITS["RLIMIT_RTTIME"] == 15
