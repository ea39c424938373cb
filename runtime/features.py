"""The `features` document (runtime-spec features.md): what this runtime
implements, built from the same tables the runtime itself uses, so that it
cannot claim an option the code does not know."""

import os

from pyrunc import __version__

HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
OCI_VERSION_MIN = "1.0.0"
OCI_VERSION_MAX = "1.3.0"


def mount_options():
    from pyrunc.oci import mounts
    names = set(mounts.FLAGS) | set(mounts.PROPAGATION) | set(mounts.RECURSIVE) | mounts.EXTENSIONS
    return sorted(names)


def _kernel():
    try:
        parts = os.uname().release.split("-")[0].split(".")
        return int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return (0, 0)


# The kernel release that brought each filter flag (seccomp(2)).
_FLAG_SINCE = {
    "SECCOMP_FILTER_FLAG_TSYNC": (3, 17),
    "SECCOMP_FILTER_FLAG_LOG": (4, 14),
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": (4, 17),
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": (5, 19),
}


def seccomp_features(kernel=None):
    from pyrunc.seccomp import rules
    kernel = kernel or _kernel()
    enabled = os.path.exists("/proc/sys/kernel/seccomp/actions_avail")
    known = sorted(rules.FLAGS)
    return {
        "enabled": enabled,
        "actions": sorted(rules.ACTIONS),
        "operators": sorted(rules.OPS),
        "archs": sorted(a for a, table in rules.ARCHES.items() if table),
        "knownFlags": known,
        "supportedFlags": [f for f in known if enabled and kernel >= _FLAG_SINCE.get(f, (99, 0))],
    }


def features():
    from pyrunc.linux import caps, ns
    return {
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION_MAX,
        "hooks": list(HOOKS),
        "mountOptions": mount_options(),
        "linux": {
            "namespaces": sorted(ns.NAMESPACES),
            "capabilities": list(caps.NAMES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": True},
            "seccomp": seccomp_features(),
            # The same tests as create uses to refuse a profile or label.
            "apparmor": {"enabled": os.path.exists("/sys/kernel/security/apparmor")},
            "selinux": {"enabled": os.path.exists("/sys/fs/selinux/enforce")},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": False}},
        },
        "annotations": {
            "io.github.pyrunc.version": __version__,
            "org.opencontainers.runc.checkpoint.enabled": "false",
        },
    }
