"""The per-test context: drives one runtime binary through its CLI.

Every runtime call runs with a timeout, in its own session, with its output
sent to files (a pipe held open by a stray container process would otherwise
block the read forever).  Everything a test makes -- containers, cgroups,
mounts, processes the runtime reported -- is recorded and undone by
``cleanup`` whatever the runtime did.
"""
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

from . import host
from .bundle import Bundle
from .core import Fail, Skip

CALL_TIMEOUT = 20
_counter = itertools.count(1)


@dataclass
class Result:
    argv: list
    rc: int
    out: str
    err: str
    timed_out: bool = False

    @property
    def ok(self):
        return self.rc == 0 and not self.timed_out

    def describe(self):
        what = "timed out" if self.timed_out else f"rc={self.rc}"
        err = self.err.strip().splitlines()[-1:] or [""]
        return f"`{' '.join(self.argv[3:])}` {what} {err[0][:160]}".rstrip()


class Runtime:
    """A runtime binary and the state root the suite gives it."""

    def __init__(self, path, root):
        found = shutil.which(path) if "/" not in path else path
        self.path = os.path.abspath(found or path)
        self.name = os.path.basename(path)
        self.root = root


class Ctx:
    """One case against one runtime: its temp dir, its containers, its checks."""

    def __init__(self, run, runtime, case, workdir):
        self.run, self.rt, self.case, self.dir = run, runtime, case, workdir
        os.makedirs(workdir)
        self.containers, self.pids, self.cgroups = [], {}, []
        self.log = []
        self._files = itertools.count()
        self._proved = False
        self._deferred = []

    # ---- outcomes -------------------------------------------------------------
    def check(self, cond, message):
        if not cond:
            raise Fail(message)

    def eq(self, actual, expected, what):
        if actual != expected:
            raise Fail(f"{what}: expected {expected!r}, got {actual!r}")

    def skip(self, reason):
        raise Skip(reason)

    # ---- bundles --------------------------------------------------------------
    def new_id(self):
        return f"conf-{os.getpid()}-{next(_counter)}"

    def cgroup_path(self):
        path = f"/conformance-{os.getpid()}-{next(_counter)}"
        self.cgroups.append(path)
        return path

    def bundle(self, args=("true",)):
        b = Bundle(os.path.join(self.dir, f"bundle{next(self._files)}"), self.run.template,
                   args, self.cgroup_path())
        return b

    def path(self, name):
        return os.path.join(self.dir, name)

    # ---- runtime calls --------------------------------------------------------
    def call(self, *args, timeout=None, stdin=None, stdout=None, stderr=None,
             pass_fds=(), wrap=None, cwd=None):
        """Run ``RUNTIME --root ROOT ARGS...``; never raises for the runtime's failures."""
        timeout = timeout or self.run.timeout or CALL_TIMEOUT
        argv = [self.rt.path, "--root", self.rt.root, *args]
        n = next(self._files)
        out_path = stdout or self.path(f"call{n}.out")
        err_path = stderr or self.path(f"call{n}.err")
        run_argv = (wrap + argv) if wrap else argv
        with open(out_path, "ab") as out, open(err_path, "ab") as err, \
                open(stdin or os.devnull, "rb") as inp:
            try:
                p = subprocess.Popen(run_argv, stdin=inp, stdout=out, stderr=err,
                                     start_new_session=True, pass_fds=pass_fds,
                                     cwd=cwd or self.dir)
            except OSError as e:
                res = Result(argv, 127, "", f"cannot execute: {e}")
                self.log.append(res.describe())
                return res
            timed_out = False
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                self._killpg(p.pid)
                p.wait()
        res = Result(argv, p.returncode, _read(out_path) if not stdout else "",
                     _read(err_path) if not stderr else "", timed_out)
        self.log.append(res.describe())
        return res

    @staticmethod
    def _killpg(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass

    def create(self, bundle, cid=None, expect_ok=True, stdout=None, stderr=None, stdin=None,
               extra=(), **kw):
        """``create --bundle B ID``; the container's stdio goes to files in the test dir."""
        cid = cid or self.new_id()
        if bundle is not None and getattr(bundle, "write", None):
            bundle.write()
        path = bundle.path if bundle is not None else self.path("no-bundle")
        self.containers.append(cid)
        res = self.call("create", *extra, "--bundle", path, cid,
                        stdout=stdout or self.path(f"{cid}.stdout"),
                        stderr=stderr or self.path(f"{cid}.stderr"), stdin=stdin, **kw)
        if expect_ok and not res.ok:
            raise Fail(f"create failed: {res.describe()} {self.output(cid, 'stderr')[-200:]}")
        if res.ok:
            self._remember_pid(cid)
            self._proved = True
        return cid, res

    def start(self, cid, expect_ok=True):
        res = self.call("start", cid)
        if expect_ok and not res.ok:
            raise Fail(f"start failed: {res.describe()}")
        return res

    def kill(self, cid, sig="KILL", expect_ok=True):
        res = self.call("kill", cid, sig)
        if expect_ok and not res.ok:
            raise Fail(f"kill failed: {res.describe()}")
        return res

    def delete(self, cid, force=False, expect_ok=True):
        res = self.call("delete", *(["--force"] if force else []), cid)
        if expect_ok and not res.ok:
            raise Fail(f"delete failed: {res.describe()}")
        return res

    def state(self, cid):
        """The state document, parsed; a failure if the runtime gives none."""
        res = self.call("state", cid)
        if not res.ok:
            raise Fail(f"state failed: {res.describe()}")
        try:
            doc = json.loads(res.out)
        except ValueError:
            raise Fail(f"state output is not JSON: {res.out[:120]!r}")
        if not isinstance(doc, dict):
            raise Fail(f"state output is not an object: {res.out[:120]!r}")
        pid = doc.get("pid")
        if isinstance(pid, int) and pid > 0:
            self._remember(pid)
        return doc

    def status(self, cid):
        return self.state(cid).get("status")

    def pid(self, cid):
        pid = self.state(cid).get("pid")
        self.check(isinstance(pid, int) and pid > 0, f"state has no usable pid: {pid!r}")
        return pid

    def wait_status(self, cid, wanted, timeout=10):
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = self.status(cid)
            if seen == wanted:
                return
            time.sleep(0.05)
        raise Fail(f"status never became {wanted!r} (last {seen!r})")

    def output(self, cid, stream="stdout"):
        return _read(self.path(f"{cid}.{stream}"))

    def run_container(self, bundle, stdin=None, timeout=10, delete=True, **kw):
        """create, start, wait for "stopped", delete; returns the container's stdout."""
        cid, _ = self.create(bundle, stdin=stdin, **kw)
        self.start(cid)
        self.wait_status(cid, "stopped", timeout)
        if delete:
            self.delete(cid)
        return self.output(cid)

    def started(self, bundle, args=None, **kw):
        """A running container whose process waits (``sleep``) until killed."""
        if args is not None:
            bundle.process["args"] = list(args)
        cid, _ = self.create(bundle, **kw)
        self.start(cid)
        self.wait_status(cid, "running")
        return cid

    def stopped(self, bundle, **kw):
        cid, _ = self.create(bundle, **kw)
        self.start(cid)
        self.wait_status(cid, "stopped")
        return cid

    def errors(self, res, what):
        """``res`` must be an error (non-zero status).

        An error proves nothing from a binary that fails at everything, so the
        first expected error of a test is paired with a control: the same
        runtime must create a plain container and report it as "created".
        """
        self.check(not res.ok or res.timed_out, f"{what}: expected an error, {res.describe()}")
        if not self._proved:
            cid, ok = self.create(self.bundle(), expect_ok=False)
            self.check(ok.ok, f"control: the runtime cannot create a plain container: {ok.describe()}")
            self.eq(self.status(cid), "created", "control: status of a plain container")
        self._proved = True

    def gone(self, cid):
        """The runtime must not know ``cid``: its state query fails."""
        res = self.call("state", cid)
        self.check(not res.ok, f"container {cid} exists after the operation: {res.out[:120]!r}")

    def defer(self, fn, *args):
        """Call ``fn(*args)`` at cleanup, after the containers are gone."""
        self._deferred.append((fn, args))

    # ---- bookkeeping ----------------------------------------------------------
    def _remember_pid(self, cid):
        res = self.call("state", cid)
        try:
            pid = json.loads(res.out).get("pid")
        except (ValueError, AttributeError):
            return
        if isinstance(pid, int) and pid > 0:
            self._remember(pid)

    def _remember(self, pid):
        if pid not in self.pids:
            st = host.start_time(pid)
            if st is not None:
                self.pids[pid] = st

    def cleanup(self):
        for cid in reversed(self.containers):
            self.call("delete", "--force", cid)
        for pid, st in self.pids.items():
            if host.start_time(pid) == st:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        for fn, args in reversed(self._deferred):
            try:
                fn(*args)
            except Exception as e:  # one failed undo must not stop the others
                self.log.append(f"cleanup: {e}")
        for path in self.cgroups:
            _remove_cgroup(path)
        for mnt in host.mounts_under(self.dir):
            host.umount(mnt)
        _rmtree(self.dir)


def _remove_cgroup(path):
    for d in host.cgroup_dirs(path):
        if not os.path.isdir(d):
            continue
        for attempt in range(50):
            for sub, dirs, _ in os.walk(d, topdown=False):
                _kill_procs(sub)
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
            if not os.path.isdir(d):
                break
            time.sleep(0.05)


def _kill_procs(cgdir):
    try:
        with open(os.path.join(cgdir, "cgroup.procs")) as f:
            pids = [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _rmtree(path):
    shutil.rmtree(path, ignore_errors=True)
