"""How the container's processes join their cgroup (pyrunc.init.join, pyrunc.launch):
a v1 hierarchy by writing "0" to its tasks file, v2 by clone3(CLONE_INTO_CGROUP),
and the plain cgroup.procs write as the fallback.  Real hierarchies, in forked
children (the pytest process never joins a cgroup).
"""

import errno
import os

import pytest

from cgroup_helpers import requires_root
from pyrunc.cgroups import open_manager
from pyrunc.init import join
from pyrunc.linux import clone

pytestmark = [requires_root()]


def own_cgroups(pid):
    """{hierarchy key ("" for v2): path} from /proc/PID/cgroup."""
    out = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            out[names] = path
    return out


def in_child(fn):
    """Run fn() in a forked child; return what it wrote (bytes) and its exit code."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            os.write(w, fn())
        except BaseException as e:  # noqa: BLE001 - reported to the test
            os.write(w, f"{type(e).__name__}: {e}".encode())
            code = 1
        os._exit(code)
    os.close(w)
    out = b""
    while chunk := os.read(r, 65536):
        out += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return out.decode(), os.waitstatus_to_exitcode(status)


@pytest.fixture
def mgr(cgname):
    m = open_manager(cgname + "/j", "j")
    m.create()
    return m


def test_targets_cover_every_hierarchy(mgr):
    v1, v2, tolerant = mgr.join_targets()
    paths = set(mgr.paths.values()) if mgr.version == 1 else {mgr.path}
    assert set(v1) | ({v2} if v2 else set()) == paths
    assert v2 and tolerant is False


def test_self_join_and_clone_into_cgroup(mgr, cgname):
    """The bootstrap's sequence: v1 by tasks, then a child forked into v2; the child
    is a working interpreter (it forks again) and sits in the cgroup everywhere."""
    v1, v2, _ = mgr.join_targets()

    def child():
        for path in v1:
            join.join_self(path, "tasks")
        fd = os.open(v2, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        pid = clone.fork_into_cgroup(fd)
        if pid == 0:
            grandchild = os.fork()
            if grandchild == 0:
                os._exit(7)
            _, st = os.waitpid(grandchild, 0)
            os._exit(os.waitstatus_to_exitcode(st))
        os.close(fd)
        groups = own_cgroups(pid)
        _, st = os.waitpid(pid, 0)
        return repr((groups, os.waitstatus_to_exitcode(st))).encode()

    out, code = in_child(child)
    assert code == 0, out
    groups, status = eval(out)  # noqa: S307 - our own repr
    assert status == 7
    assert set(groups.values()) == {cgname + "/j"}, groups
    assert len(groups) == len(mgr.paths)


def test_fallback_join_of_v2_by_procs(mgr, cgname):
    _, v2, _ = mgr.join_targets()

    def child():
        join.join_self(v2, "cgroup.procs")
        return own_cgroups("self")[""].encode()

    out, code = in_child(child)
    assert (out, code) == (cgname + "/j", 0)


def test_join_error_names_the_file(cgname):
    missing = f"/sys/fs/cgroup/pids{cgname}/never-made"

    def child():
        join.join_self(missing, "tasks")
        return b"joined"

    out, code = in_child(child)
    assert code == 1
    assert out == f"FileNotFoundError: [Errno {errno.ENOENT}] joining: No such file or directory: " \
                  f"'{missing}/tasks'"


def test_join_permission_error_tolerated_only_when_asked(tmp_path):
    # A read-only file stands in for a cgroup file rootless may not write.
    f = tmp_path / "tasks"
    f.write_text("")
    f.chmod(0o444)

    def child(tolerant):
        def run():
            os.setresuid(65534, 65534, 65534)
            join.join_self(str(tmp_path), "tasks", tolerant)
            return b"ok"
        return run

    os.chmod(tmp_path, 0o755)
    assert in_child(child(True)) == ("ok", 0)
    out, code = in_child(child(False))
    assert code == 1 and "Permission denied" in out and "joining" in out


def test_clone_into_cgroup_bad_fd_is_an_error_not_a_fallback(tmp_path):
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)  # not a cgroup2 directory
    try:
        with pytest.raises(OSError) as e:
            pid = clone.fork_into_cgroup(fd)
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        assert e.value.errno not in clone.UNSUPPORTED
    finally:
        os.close(fd)


def test_clone_into_new_namespaces_and_cgroup(mgr, cgname):
    """The direct path of pyrunc.launch: one clone3 makes pid 1 of a new pid
    namespace, in new mount/uts/net namespaces, inside the v2 cgroup."""
    from pyrunc.linux import ns

    _, v2, _ = mgr.join_targets()
    flags = ns.CLONE_NEWPID | ns.CLONE_NEWNS | ns.CLONE_NEWUTS | ns.CLONE_NEWNET

    def child():
        fd = os.open(v2, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        r, w = os.pipe()
        pid = clone.clone(flags, fd)
        if pid == 0:
            os.write(w, repr((os.getpid(), os.readlink("/proc/self/ns/uts"))).encode())
            os._exit(0)
        os.close(w)
        seen = os.read(r, 4096)
        groups = own_cgroups(pid)
        os.waitpid(pid, 0)
        return repr((eval(seen), groups[""], os.readlink("/proc/self/ns/uts"))).encode()  # noqa: S307

    out, code = in_child(child)
    assert code == 0, out
    (inner_pid, inner_uts), group, outer_uts = eval(out)  # noqa: S307 - our own repr
    assert inner_pid == 1
    assert inner_uts != outer_uts
    assert group == cgname + "/j"
