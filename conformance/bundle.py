"""Bundles: a busybox root filesystem per test and a base config.json.

The template (busybox, the probe, the applet list) is made once per run; each
test gets its own rootfs of hard links and symlinks, cheap to make and free to
change.  The base config asks for the usual Linux container (new pid, mount,
ipc, uts and network namespaces; proc, a /dev tmpfs, devpts, shm, mqueue, sysfs)
so that a check only adds the field it observes.
"""
import copy
import json
import os
import shutil
import subprocess

OCI_VERSION = "1.0.2"

DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

CAP_NUMBERS = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
    "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}


def cap_mask(names):
    mask = 0
    for n in names:
        mask |= 1 << CAP_NUMBERS[n]
    return mask


def base_config(args, cgroups_path):
    caps = list(DEFAULT_CAPS)
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": ["PATH=/bin:/usr/bin:/sbin:/usr/sbin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": list(caps), "permitted": list(caps)},
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "conformance",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        },
    }


class Template:
    """What every rootfs is made of: busybox and the probe, built once per run."""

    def __init__(self, workdir, busybox="/bin/busybox"):
        self.dir = os.path.join(workdir, "template")
        os.makedirs(self.dir, exist_ok=True)
        self.busybox = os.path.join(self.dir, "busybox")
        shutil.copy2(busybox, self.busybox)
        out = subprocess.run([self.busybox, "--list"], capture_output=True, text=True, check=True)
        self.applets = [a for a in out.stdout.split() if a and "/" not in a and a != "busybox"]
        self.probe = os.path.join(self.dir, "probe")
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe.c")
        build = subprocess.run(["gcc", "-static", "-O2", "-o", self.probe, src],
                               capture_output=True, text=True)
        if build.returncode != 0:
            raise RuntimeError("cannot build the probe: " + build.stderr.strip())

    def make_rootfs(self, path):
        """A fresh rootfs at ``path``: /bin/busybox, its applets, /bin/probe, /etc files."""
        binp = os.path.join(path, "bin")
        os.makedirs(binp)
        for d in ("etc", "tmp", "proc", "sys", "dev", "root", "var", "usr"):
            os.makedirs(os.path.join(path, d), exist_ok=True)
        os.chmod(os.path.join(path, "tmp"), 0o1777)
        os.link(self.busybox, os.path.join(binp, "busybox"))
        os.link(self.probe, os.path.join(binp, "probe"))
        for a in self.applets:
            os.symlink("busybox", os.path.join(binp, a))
        for p in ("sbin", "usr/bin", "usr/sbin"):
            os.symlink("/bin", os.path.join(path, p))
        with open(os.path.join(path, "etc/passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        with open(os.path.join(path, "etc/group"), "w") as f:
            f.write("root:x:0:\nnogroup:x:65534:\n")


class Bundle:
    """A bundle directory: ``rootfs/`` and a ``config`` dict written by ``write``."""

    def __init__(self, path, template, args, cgroups_path):
        self.path = path
        self.rootfs = os.path.join(path, "rootfs")
        os.makedirs(path)
        template.make_rootfs(self.rootfs)
        self.config = base_config(args, cgroups_path)

    @property
    def process(self):
        return self.config["process"]

    @property
    def linux(self):
        return self.config["linux"]

    def mount(self, destination, type_, source, options=None):
        m = {"destination": destination, "type": type_, "source": source}
        if options is not None:
            m["options"] = list(options)
        self.config["mounts"].append(m)
        return m

    def namespaces(self):
        return [n["type"] for n in self.linux.get("namespaces", [])]

    def drop_namespace(self, kind):
        self.linux["namespaces"] = [n for n in self.linux["namespaces"] if n["type"] != kind]

    def add_hook(self, kind, path, args=None, env=None, timeout=None):
        h = {"path": path}
        if args is not None:
            h["args"] = list(args)
        if env is not None:
            h["env"] = list(env)
        if timeout is not None:
            h["timeout"] = timeout
        self.config.setdefault("hooks", {}).setdefault(kind, []).append(h)
        return h

    def write(self):
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f, indent=1)

    def in_rootfs(self, rel):
        return os.path.join(self.rootfs, rel.lstrip("/"))

    def copy(self):
        return copy.deepcopy(self.config)
