"""config.md POSIX-platform hooks and runtime.md lifecycle steps 3-13."""
import json
import os
import time

from .. import host, schema
from ..core import case

C = "config.md"
R = "runtime.md"

HOOK = """#!/bin/sh
# args: NAME LOGDIR [STATUS]: record what a hook sees, then exit with STATUS.
n=$1; d=$2
cat > "$d/$n.state"
readlink /proc/self/ns/mnt > "$d/$n.mntns"
env > "$d/$n.env"
echo "$n" >> "$d/order"
exit ${3:-0}
"""
KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
SNAKE = {"prestart": "prestart", "createRuntime": "create_runtime", "createContainer": "create_container",
         "startContainer": "start_container", "poststart": "poststart", "poststop": "poststop"}


class Hooks:
    """A bundle with recording hooks; ``log(kind)`` finds what each one wrote."""

    def __init__(self, ctx, kinds=KINDS, args=("sh", "-c", "echo ran > /ran"), fail=()):
        self.ctx = ctx
        self.b = ctx.bundle(list(args))
        self.dir = ctx.path("hooklog")
        os.makedirs(self.dir, exist_ok=True)
        self.script = ctx.path("hook.sh")
        _write_exec(self.script, HOOK)
        # startContainer resolves and runs in the container: its copy lives in the rootfs,
        # and the log directory is bind-mounted there so that all hooks share one log.
        _write_exec(self.b.in_rootfs("/hook.sh"), HOOK)
        self.b.mount("/hooklog", "bind", self.dir, ["rbind", "rw"])
        for k in kinds:
            inside = k == "startContainer"
            path = "/hook.sh" if inside else self.script
            d = "/hooklog" if inside else self.dir
            self.b.add_hook(k, path, [path, k, d] + (["3"] if k in fail else []))

    def where(self, kind):
        return self.dir

    def ran(self, kind, wait=0.0):
        """Whether ``kind`` ran; startContainer runs in the container, perhaps just after start returns."""
        deadline = time.monotonic() + wait
        while True:
            if kind in self.order():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def read(self, kind, what):
        try:
            with open(os.path.join(self.where(kind), f"{kind}.{what}")) as f:
                return f.read()
        except OSError:
            return None

    def order(self):
        try:
            with open(os.path.join(self.dir, "order")) as f:
                return f.read().split()
        except OSError:
            return []

    def program_ran(self):
        return os.path.exists(self.b.in_rootfs("/ran"))


def _write_exec(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def _full_cycle(ctx, h):
    cid, _ = ctx.create(h.b)
    ctx.start(cid)
    ctx.wait_status(cid, "stopped")
    ctx.delete(cid)
    return cid


def _called_case(kind, check_when):
    def check(ctx):
        h = Hooks(ctx, kinds=(kind,))
        cid, _ = ctx.create(h.b)
        if check_when == "create":
            ctx.check(h.ran(kind), f"{kind} hook not called by create")
            return
        ctx.check(not h.ran(kind), f"{kind} hook called by create")
        ctx.start(cid)
        if check_when == "start":
            ctx.check(h.ran(kind, wait=2 if kind == "startContainer" else 0),
                      f"{kind} hook not called by start")
            return
        ctx.wait_status(cid, "stopped")
        ctx.check(not h.ran(kind), f"{kind} hook called before delete")
        ctx.delete(cid)
        ctx.check(h.ran(kind), f"{kind} hook not called before delete returned")
    return check


_WHEN = {"prestart": "create", "createRuntime": "create", "createContainer": "create",
         "startContainer": "start", "poststart": "start", "poststop": "delete"}
_CALLED_QUOTE = {
    "prestart": "The prestart hooks MUST be called as part of the create operation",
    "createRuntime": "The createRuntime hooks MUST be called as part of the create operation",
    "createContainer": "The createContainer hooks MUST be called as part of the create operation",
    "startContainer": "The startContainer hooks MUST be called before the user-specified process is executed as part of the start operation.",
    "poststart": "The poststart hooks MUST be called after the user-specified process is executed but before the start operation returns.",
    "poststop": "The poststop hooks MUST be called after the container is deleted but before the delete operation returns.",
}
for _k in KINDS:
    case(f"hooks.{SNAKE[_k]}.called", C, _CALLED_QUOTE[_k])(_called_case(_k, _WHEN[_k]))


def _namespace_case(kind, where):
    def check(ctx):
        h = Hooks(ctx, kinds=(kind,), args=("sh", "-c", "exec sleep 60") if kind != "poststop" else ("true",))
        cid, _ = ctx.create(h.b)
        cpid = ctx.pid(cid)
        container_ns = host.ns_inode(cpid, "mnt")
        if kind in ("startContainer", "poststart", "poststop"):
            ctx.start(cid)
        if kind == "poststop":
            ctx.wait_status(cid, "stopped")
            ctx.delete(cid)
        h.ran(kind, wait=3)
        got = (h.read(kind, "mntns") or "").strip()
        ctx.check(got, f"{kind} hook did not run")
        if where == "runtime":
            ctx.eq(got, host.ns_inode(os.getpid(), "mnt"), f"{kind} hook's mount namespace (the runtime's)")
        else:
            ctx.eq(got, container_ns, f"{kind} hook's mount namespace (the container's)")
    return check


_NS_QUOTE = {k: f"The {k} hooks MUST be executed in the {w} namespace." for k, w in [
    ("prestart", "runtime"), ("createRuntime", "runtime"), ("createContainer", "container"),
    ("startContainer", "container"), ("poststart", "runtime"), ("poststop", "runtime")]}
for _k in KINDS:
    _where = "container" if _k in ("createContainer", "startContainer") else "runtime"
    case(f"hooks.{SNAKE[_k]}.namespace", C, _NS_QUOTE[_k])(_namespace_case(_k, _where))


def _state_case(kind):
    def check(ctx):
        h = Hooks(ctx, kinds=(kind,))
        cid = _full_cycle(ctx, h)
        raw = h.read(kind, "state")
        ctx.check(raw, f"{kind} hook got nothing on stdin")
        try:
            doc = json.loads(raw)
        except ValueError:
            ctx.check(False, f"{kind} hook's stdin is not JSON: {raw[:100]!r}")
        problems = schema.state(doc)
        ctx.check(not problems, f"{kind} hook's state: {'; '.join(problems)}")
        ctx.eq(doc.get("id"), cid, f"{kind} hook's state id")
        ctx.eq(os.path.realpath(doc.get("bundle", "")), os.path.realpath(h.b.path), f"{kind} hook's state bundle")
    return check


for _k in KINDS:
    case(f"hooks.{SNAKE[_k]}.state_on_stdin", C,
         "The state of the container MUST be passed to hooks over stdin")(_state_case(_k))


@case("hooks.order.lifecycle", C, "Hooks MUST be called in the listed order.")
def _(ctx):
    h = Hooks(ctx)
    _full_cycle(ctx, h)
    ctx.eq(h.order(), list(KINDS), "order in which the hooks ran")


@case("hooks.order.create_runtime_after_prestart", C, "The prestart hooks MUST be called before the createRuntime hooks.")
def _(ctx):
    h = Hooks(ctx, kinds=("createRuntime", "prestart"))
    ctx.create(h.b)
    ctx.eq(h.order(), ["prestart", "createRuntime"], "order of prestart and createRuntime")


@case("hooks.order.create_container_after_create_runtime", C, "The createContainer hooks MUST be called after the createRuntime hooks.")
def _(ctx):
    h = Hooks(ctx, kinds=("createContainer", "createRuntime"))
    ctx.create(h.b)
    ctx.eq(h.order(), ["createRuntime", "createContainer"], "order of createRuntime and createContainer")


@case("hooks.order.listed_within_kind", C, "Hooks MUST be called in the listed order.")
def _(ctx):
    b = ctx.bundle()
    log = ctx.path("order.log")
    for n in ("first", "second", "third"):
        b.add_hook("prestart", "/bin/sh", ["sh", "-c", f"echo {n} >> {log}"])
    ctx.create(b)
    with open(log) as f:
        ctx.eq(f.read().split(), ["first", "second", "third"], "order of three prestart hooks")


@case("hooks.args", C, "args (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008 execv's argv.")
def _(ctx):
    b = ctx.bundle()
    log = ctx.path("args.log")
    b.add_hook("prestart", "/bin/sh", ["sh", "-c", f'echo "$0|$1|$2" > {log}', "zero", "one", "two words"])
    ctx.create(b)
    with open(log) as f:
        ctx.eq(f.read().strip(), "zero|one|two words", "hook arguments")


@case("hooks.env", C, "env (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008's environ.")
def _(ctx):
    b = ctx.bundle()
    log = ctx.path("env.log")
    b.add_hook("prestart", "/bin/sh", ["sh", "-c", f'echo "$CONF_HOOK|${{CONF_LEAK-unset}}" > {log}'],
               env=["CONF_HOOK=hook-value", "PATH=/usr/bin:/bin"])
    ctx.create(b, wrap=["env", "CONF_LEAK=leaked"])
    with open(log) as f:
        ctx.eq(f.read().strip(), "hook-value|unset", "hook environment (configured | runtime's own)")


@case("hooks.timeout", C, "timeout (int, OPTIONAL) is the number of seconds before aborting the hook.")
def _(ctx):
    b = ctx.bundle()
    pidfile = ctx.path("hook.pid")
    b.add_hook("prestart", "/bin/sh", ["sh", "-c", f"echo $$ > {pidfile}; exec sleep 30"], timeout=1)
    t0 = time.monotonic()
    cid, res = ctx.create(b, expect_ok=False)
    took = time.monotonic() - t0
    try:
        with open(pidfile) as f:
            ctx._remember(int(f.read()))
    except (OSError, ValueError):
        pass
    ctx.errors(res, "create with a prestart hook running past its timeout")
    ctx.check(os.path.exists(pidfile), "the prestart hook never ran")
    ctx.check(took < 15, f"create took {took:.1f}s with a 1s hook timeout")


def _fail_case(kind):
    def check(ctx):
        h = Hooks(ctx, kinds=(kind,), fail=(kind,))
        h.b.process["args"] = ["sh", "-c", "echo ran > /ran; exec sleep 60"]
        cid, res = ctx.create(h.b, expect_ok=False)
        if _WHEN[kind] == "create":
            ctx.errors(res, f"create with a failing {kind} hook")
            ctx.check(h.ran(kind), f"the {kind} hook did not run")
        else:
            ctx.check(res.ok, f"create failed: {res.describe()}")
            ctx.errors(ctx.start(cid, expect_ok=False), f"start with a failing {kind} hook")
            ctx.check(h.ran(kind, wait=2), f"the {kind} hook did not run")
        if kind != "poststart":
            time.sleep(0.2)
            ctx.check(not h.program_ran(), f"the program ran although the {kind} hook failed")
        # "stop the container": it may be gone already (step 12), else it must be stopped.
        res = ctx.call("state", cid)
        if res.ok:
            ctx.wait_status(cid, "stopped", 5)
    return check


for _k in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart"):
    case(f"hooks.{SNAKE[_k]}.failure_error", R,
         f"If any {_k} hook fails, the runtime MUST generate an error, stop the container, and continue the lifecycle at step 12.")(
        _fail_case(_k))


@case("hooks.prestart.failure_runs_poststop", R,
      "If any prestart hook fails, the runtime MUST ... continue the lifecycle at step 12 ... The poststop hooks MUST be invoked by the runtime.")
def _(ctx):
    h = Hooks(ctx, kinds=("prestart", "poststop"), fail=("prestart",))
    cid, res = ctx.create(h.b, expect_ok=False)
    ctx.errors(res, "create with a failing prestart hook")
    if ctx.call("state", cid).ok:
        ctx.delete(cid, force=True, expect_ok=False)
    ctx.check(h.ran("poststop"), "poststop hooks did not run after the prestart hook failed")


@case("hooks.poststop.failure_warning", R,
      "If any poststop hook fails, the runtime MUST log a warning, but the remaining hooks and lifecycle continue")
def _(ctx):
    b = ctx.bundle()
    log = ctx.path("poststop.log")
    b.add_hook("poststop", "/bin/sh", ["sh", "-c", f"echo first >> {log}; exit 3"])
    b.add_hook("poststop", "/bin/sh", ["sh", "-c", f"echo second >> {log}"])
    cid = ctx.stopped(b)
    ctx.delete(cid)
    ctx.gone(cid)
    with open(log) as f:
        ctx.eq(f.read().split(), ["first", "second"], "poststop hooks run")
