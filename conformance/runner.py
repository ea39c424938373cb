"""Runs the selected cases against each runtime and collects outcomes."""
import fnmatch
import os
import shutil
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from . import host
from .bundle import Template
from .context import Ctx, Runtime
from .core import CASES, FAIL, PASS, SKIP, Fail, Outcome, Skip


def select(pattern):
    """Cases whose name contains ``pattern`` (or matches it as a glob); all if None.

    Several patterns may be given separated by commas; a leading "not " negates one.
    """
    from . import cases  # noqa: F401  (registers every case)
    if not pattern:
        return list(CASES)
    words = [w.strip() for w in pattern.split(",") if w.strip()]
    wanted = [w for w in words if not w.startswith("not ")]
    unwanted = [w[4:].strip() for w in words if w.startswith("not ")]

    def hit(name, p):
        return p in name or fnmatch.fnmatch(name, p)

    return [c for c in CASES
            if (not wanted or any(hit(c.name, p) for p in wanted))
            and not any(hit(c.name, p) for p in unwanted)]

class Run:
    def __init__(self, runtime_paths, jobs=1, notes=None, timeout=None):
        self.workdir = tempfile.mkdtemp(prefix="conformance-")
        # Traversable by the ids a user namespace maps root to.
        os.chmod(self.workdir, 0o755)
        self.notes = notes if notes is not None else []
        self.template = Template(self.workdir)
        self.runtimes = []
        for i, p in enumerate(runtime_paths):
            root = os.path.join(self.workdir, f"root{i}")
            os.makedirs(root)
            self.runtimes.append(Runtime(p, root))
        self.jobs = max(1, jobs)
        self.timeout = timeout
        self.stopping = False
        # On a hybrid layout runtimes see hugetlb only as a v1 hierarchy, and crun refuses
        # to start without one.  The mount is host set-up (HOST-NOTES): made once, and left
        # in place because other users of the host come to rely on it.
        if host.hybrid_hugetlb_missing():
            ok, err, _ = host.mount_hugetlb_v1()
            self.notes.append("note: mounted the hugetlb v1 hierarchy at /sys/fs/cgroup/hugetlb, once for "
                              "this host (crun refuses a hybrid cgroup layout without it); it stays mounted"
                              if ok else f"note: could not mount hugetlb v1: {err}")

    def one(self, case, rt, index):
        if self.stopping:
            return Outcome(SKIP, "run interrupted before this case")
        ctx = Ctx(self, rt, case, os.path.join(self.workdir, "t", f"{index}-{rt.name}"))
        t0 = time.monotonic()
        try:
            case.func(ctx)
            out = Outcome(PASS)
        except Fail as e:
            out = Outcome(FAIL, str(e))
        except Skip as e:
            out = Outcome(SKIP, str(e))
        except Exception as e:  # a crash in the check is a failure of the runtime to show the behaviour
            tb = traceback.extract_tb(e.__traceback__)[-1]
            out = Outcome(FAIL, f"{type(e).__name__}: {e} (at {os.path.basename(tb.filename)}:{tb.lineno})")
        finally:
            try:
                ctx.cleanup()
            except Exception as e:  # cleanup must not hide the outcome
                ctx.log.append(f"cleanup error: {e}")
        out.seconds = time.monotonic() - t0
        out.log = ctx.log
        return out

    def execute(self, cases, progress=None):
        """{(case name, runtime index): Outcome}."""
        items = [(ci, ri) for ci in range(len(cases)) for ri in range(len(self.runtimes))]
        results = {}

        def work(item):
            ci, ri = item
            res = self.one(cases[ci], self.runtimes[ri], ci * len(self.runtimes) + ri)
            if progress:
                progress(cases[ci], self.runtimes[ri], res)
            return item, res

        if self.jobs == 1:
            for it in items:
                k, v = work(it)
                results[k] = v
        else:
            with ThreadPoolExecutor(self.jobs) as pool:
                for k, v in pool.map(work, items):
                    results[k] = v
        return results

    def close(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

