"""Facts about the host that decide how a check reads its answer: the cgroup
layout, mounts under a directory, processes by pid and start time."""
import os
import subprocess
import threading

CGROUP_ROOT = "/sys/fs/cgroup"


def _mountinfo():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, sup = left.split(), right.split()
            yield fields, sup


def _unescape(path):
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def cgroup_v2():
    """True on a pure cgroup v2 host (the unified hierarchy at the root)."""
    return os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))


def cgroup_mounts():
    """{controller: mountpoint} for v1 hierarchies, plus "" for a cgroup2 mount."""
    out = {}
    for fields, sup in _mountinfo():
        if not sup:
            continue
        mnt = _unescape(fields[4])
        if sup[0] == "cgroup2":
            out.setdefault("", mnt)
        elif sup[0] == "cgroup":
            for opt in sup[2].split(","):
                if opt in ("rw", "ro", "relatime") or opt.startswith("clone_children"):
                    continue
                out.setdefault(opt.removeprefix("name="), mnt)
    return out


def cgroup_dirs(path):
    """Every host directory that an absolute cgroupsPath names, one per hierarchy."""
    rel = path.lstrip("/")
    return sorted({os.path.join(m, rel) for m in cgroup_mounts().values()})


def controller_dir(pid, controller):
    """The host directory of ``pid``'s cgroup for ``controller`` (v1) or the unified one."""
    mounts = cgroup_mounts()
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [ln.rstrip("\n").split(":", 2) for ln in f]
    if cgroup_v2():
        for _, ctrls, path in lines:
            if ctrls == "":
                return os.path.join(CGROUP_ROOT, path.lstrip("/"))
        return None
    for _, ctrls, path in lines:
        names = [c.removeprefix("name=") for c in ctrls.split(",")]
        if controller in names and controller in mounts:
            return os.path.join(mounts[controller], path.lstrip("/"))
    return None


def cgroup_path_of(pid, controller):
    """``pid``'s cgroup path as /proc/PID/cgroup names it, for one controller."""
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if cgroup_v2() and ctrls == "":
                return path
            if controller in ctrls.split(","):
                return path
    return None


_file_cache = {}
_file_lock = threading.Lock()


def cgroup_file_exists(root, fname):
    """Whether a child cgroup under ``root`` has ``fname`` (some files exist only below the root)."""
    with _file_lock:
        key = (root, fname)
        if key not in _file_cache:
            if os.path.exists(os.path.join(root, fname)):
                _file_cache[key] = True
            else:
                probe = os.path.join(root, f"conformance-probe-{os.getpid()}")
                try:
                    os.mkdir(probe)
                    _file_cache[key] = os.path.exists(os.path.join(probe, fname))
                except OSError:
                    _file_cache[key] = False
                finally:
                    try:
                        os.rmdir(probe)
                    except OSError:
                        pass
        return _file_cache[key]


def mounts_under(directory):
    """Mount points at or below ``directory``, deepest first."""
    directory = os.path.realpath(directory)
    found = [_unescape(f[4]) for f, _ in _mountinfo()]
    found = [m for m in found if m == directory or m.startswith(directory + "/")]
    return sorted(set(found), key=len, reverse=True)


def start_time(pid):
    """Field 22 of /proc/PID/stat, or None once the pid is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[19]
    except OSError:
        return None


def ns_inode(pid, kind):
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def hybrid_hugetlb_missing():
    """crun 1.8 refuses a hybrid layout unless hugetlb is a v1 hierarchy."""
    return not cgroup_v2() and "hugetlb" not in cgroup_mounts()


HUGETLB_V1 = os.path.join(CGROUP_ROOT, "hugetlb")


def mount_hugetlb_v1():
    """Mount hugetlb as a v1 hierarchy: (ok, error text, whether the mount point was made)."""
    made = not os.path.exists(HUGETLB_V1)
    os.makedirs(HUGETLB_V1, exist_ok=True)
    r = subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", HUGETLB_V1],
                       capture_output=True, text=True)
    if r.returncode and made:
        os.rmdir(HUGETLB_V1)
    return r.returncode == 0, r.stderr.strip(), made


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True)
