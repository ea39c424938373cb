"""runtime.md: the operations create, start, kill, delete and their errors."""
import os
import time

from ..core import case

R = "runtime.md"


def _marker_bundle(ctx, extra=""):
    """A bundle whose program leaves /ran in the rootfs, then runs ``extra``."""
    b = ctx.bundle(["sh", "-c", "echo ran > /ran" + (f"; {extra}" if extra else "")])
    return b, b.in_rootfs("/ran")


@case("lifecycle.create.creates_container", R, "This operation MUST create a new container.")
def _(ctx):
    cid, _ = ctx.create(ctx.bundle())
    ctx.eq(ctx.status(cid), "created", "status after create")


@case("lifecycle.create.no_bundle_error", R,
      "This operation MUST generate an error if it is not provided a path to the bundle")
def _(ctx):
    cid = ctx.new_id()
    ctx.containers.append(cid)
    ctx.errors(ctx.call("create", "--bundle", ctx.path("missing-bundle"), cid), "create with no bundle")
    ctx.gone(cid)


@case("lifecycle.create.empty_id_error", R,
      "This operation MUST generate an error if it is not provided ... the container ID")
def _(ctx):
    b = ctx.bundle()
    b.write()
    ctx.errors(ctx.call("create", "--bundle", b.path, ""), "create with an empty id")
    ctx.errors(ctx.call("state", ""), "state of the empty id")


@case("lifecycle.create.duplicate_id_error", R,
      "If the ID provided is not unique ... the implementation MUST generate an error")
def _(ctx):
    cid, _ = ctx.create(ctx.bundle())
    ctx.errors(ctx.create(ctx.bundle(), cid=cid, expect_ok=False)[1], "second create with the same id")


@case("lifecycle.create.duplicate_id_keeps_first", R,
      "If the ID provided is not unique ... a new container MUST NOT be created")
def _(ctx):
    first = ctx.bundle()
    cid, _ = ctx.create(first)
    pid = ctx.pid(cid)
    second, marker = _marker_bundle(ctx)
    ctx.create(second, cid=cid, expect_ok=False)
    st = ctx.state(cid)
    ctx.eq(st.get("pid"), pid, "pid of the first container")
    ctx.eq(os.path.realpath(st.get("bundle", "")), os.path.realpath(first.path), "bundle of the id")
    ctx.check(not os.path.exists(marker), "the second bundle's program ran")


@case("lifecycle.create.invalid_id_error", R,
      "If the ID provided ... is not valid in any other way, the implementation MUST generate an error")
def _(ctx):
    # An id with a path separator cannot name anything in a state directory; the spec
    # leaves validity to the runtime, so a runtime that accepts it must still be able
    # to operate on it (state must name it exactly).
    b = ctx.bundle()
    cid = "../conf-escape"
    ctx.containers.append(cid)
    _, res = ctx.create(b, cid=cid, expect_ok=False)
    if not res.ok:
        ctx.errors(res, "create with id '../conf-escape'")
    else:
        st = ctx.state(cid)
        ctx.eq(st.get("id"), cid, "id of a container created with '../conf-escape'")
        ctx.check(not os.path.exists(os.path.join(os.path.dirname(ctx.rt.root), "conf-escape")),
                  "the runtime wrote outside its state root for id '../conf-escape'")


@case("lifecycle.create.program_not_run", R, "process.args MUST NOT be applied until triggered by the start operation.")
def _(ctx):
    b, marker = _marker_bundle(ctx)
    cid, _ = ctx.create(b)
    time.sleep(0.3)
    ctx.check(not os.path.exists(marker), "the program ran during create")
    ctx.start(cid)
    ctx.wait_status(cid, "stopped")
    ctx.check(os.path.exists(marker), "the program did not run after start")


@case("lifecycle.create.error_creates_nothing", R,
      "If the runtime cannot apply a property ... it MUST generate an error and a new container MUST NOT be created.")
def _(ctx):
    b, marker = _marker_bundle(ctx)
    b.config["mounts"].append({"destination": "/m", "type": "bind", "source": ctx.path("no-such-source"),
                               "options": ["bind"]})
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create with a bind mount of a missing source")
    ctx.gone(cid)


@case("lifecycle.create.error_leaves_no_cgroup", R,
      "generating an error MUST leave the state of the environment as if the operation were never attempted")
def _(ctx):
    from .. import host
    b = ctx.bundle()
    b.config["mounts"].append({"destination": "/m", "type": "bind", "source": ctx.path("no-such-source"),
                               "options": ["bind"]})
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create with a bind mount of a missing source")
    time.sleep(0.2)
    left = [d for d in host.cgroup_dirs(b.linux["cgroupsPath"]) if os.path.isdir(d)]
    ctx.check(not left, f"failed create left cgroups behind: {left[:3]}")


@case("lifecycle.create.config_changes_ignored", R,
      "Any changes made to the config.json file after this operation will not have an effect on the container.")
def _(ctx):
    b = ctx.bundle(["echo", "original"])
    cid, _ = ctx.create(b)
    b.process["args"] = ["echo", "changed"]
    b.write()
    ctx.start(cid)
    ctx.wait_status(cid, "stopped")
    ctx.eq(ctx.output(cid).strip(), "original", "output of the started program")


@case("lifecycle.start.runs_program", R,
      "This operation MUST run the user-specified program as specified by process.")
def _(ctx):
    b, marker = _marker_bundle(ctx)
    ctx.stopped(b)
    ctx.check(os.path.exists(marker), "the program did not run")


@case("lifecycle.start.twice_error", R,
      "Attempting to start a container that is not created ... MUST generate an error.")
def _(ctx):
    cid = ctx.started(ctx.bundle(), ["sleep", "60"])
    ctx.errors(ctx.start(cid, expect_ok=False), "second start")


@case("lifecycle.start.twice_no_effect", R,
      "Attempting to start a container that is not created MUST have no effect on the container")
def _(ctx):
    b = ctx.bundle(["sh", "-c", "echo x >> /count; exec sleep 60"])
    cid = ctx.started(b)
    pid = ctx.pid(cid)
    ctx.start(cid, expect_ok=False)
    time.sleep(0.3)
    ctx.eq(ctx.status(cid), "running", "status after a second start")
    ctx.eq(ctx.pid(cid), pid, "pid after a second start")
    with open(b.in_rootfs("/count")) as f:
        ctx.eq(f.read().count("x"), 1, "times the program ran")


@case("lifecycle.start.stopped_error", R,
      "Attempting to start a container that is not created ... MUST generate an error.")
def _(ctx):
    b, marker = _marker_bundle(ctx)
    cid = ctx.stopped(b)
    os.unlink(marker)
    ctx.errors(ctx.start(cid, expect_ok=False), "start of a stopped container")
    ctx.eq(ctx.status(cid), "stopped", "status")
    ctx.check(not os.path.exists(marker), "start of a stopped container ran the program again")


@case("lifecycle.start.no_process_error", R, "This operation MUST generate an error if process was not set.")
def _(ctx):
    b = ctx.bundle()
    del b.config["process"]
    cid, res = ctx.create(b, expect_ok=False)
    if res.ok:
        ctx.errors(ctx.start(cid, expect_ok=False), "start without process")
    else:
        ctx.errors(res, "create without process")
        ctx.gone(cid)


@case("lifecycle.start.missing_id_error", R, "This operation MUST generate an error if it is not provided the container ID.")
def _(ctx):
    ctx.errors(ctx.call("start"), "start without an id")


@case("lifecycle.start.unknown_id_error", R, "Attempting to start a container that is not created ... MUST generate an error.")
def _(ctx):
    ctx.errors(ctx.call("start", ctx.new_id()), "start of an unknown id")


@case("lifecycle.kill.created", R, "This operation MUST send the specified signal to the container process.")
def _(ctx):
    b, marker = _marker_bundle(ctx)
    cid, _ = ctx.create(b)
    ctx.kill(cid, "KILL")
    ctx.wait_status(cid, "stopped")
    ctx.check(not os.path.exists(marker), "the program ran although the container was killed before start")


@case("lifecycle.kill.running", R, "This operation MUST send the specified signal to the container process.")
def _(ctx):
    cid = ctx.started(ctx.bundle(), ["sleep", "60"])
    ctx.kill(cid, "KILL")
    ctx.wait_status(cid, "stopped")


@case("lifecycle.kill.signal_delivered", R, "This operation MUST send the specified signal to the container process.")
def _(ctx):
    b = ctx.bundle(["sh", "-c", "trap 'echo got-usr1 > /sig; exit 0' USR1; echo ready > /ready; "
                                "while true; do sleep 0.1; done"])
    cid = ctx.started(b)
    deadline = time.monotonic() + 5
    while not os.path.exists(b.in_rootfs("/ready")) and time.monotonic() < deadline:
        time.sleep(0.05)
    ctx.kill(cid, "USR1")
    ctx.wait_status(cid, "stopped")
    ctx.check(os.path.exists(b.in_rootfs("/sig")), "the process did not receive SIGUSR1")


@case("lifecycle.kill.stopped_error", R,
      "Attempting to send a signal to a container that is neither created nor running ... MUST generate an error.")
def _(ctx):
    cid = ctx.stopped(ctx.bundle())
    ctx.errors(ctx.kill(cid, "KILL", expect_ok=False), "kill of a stopped container")
    ctx.eq(ctx.status(cid), "stopped", "status after kill")


@case("lifecycle.kill.missing_id_error", R, "This operation MUST generate an error if it is not provided the container ID.")
def _(ctx):
    ctx.errors(ctx.call("kill"), "kill without an id")


@case("lifecycle.kill.unknown_id_error", R,
      "Attempting to send a signal to a container that is neither created nor running ... MUST generate an error.")
def _(ctx):
    ctx.errors(ctx.call("kill", ctx.new_id(), "KILL"), "kill of an unknown id")


@case("lifecycle.delete.created_error", R,
      "Attempting to delete a container that is not stopped MUST have no effect on the container and MUST generate an error.")
def _(ctx):
    b, marker = _marker_bundle(ctx)
    cid, _ = ctx.create(b)
    ctx.errors(ctx.delete(cid, expect_ok=False), "delete of a created container")
    ctx.eq(ctx.status(cid), "created", "status after a refused delete")


@case("lifecycle.delete.running_error", R,
      "Attempting to delete a container that is not stopped MUST have no effect on the container and MUST generate an error.")
def _(ctx):
    cid = ctx.started(ctx.bundle(), ["sleep", "60"])
    ctx.errors(ctx.delete(cid, expect_ok=False), "delete of a running container")
    ctx.eq(ctx.status(cid), "running", "status after a refused delete")


@case("lifecycle.delete.stopped", R, "Deleting a container MUST delete the resources that were created during the create step.")
def _(ctx):
    cid = ctx.stopped(ctx.bundle())
    ctx.delete(cid)
    ctx.gone(cid)


@case("lifecycle.delete.removes_cgroup", R, "Deleting a container MUST delete the resources that were created during the create step.")
def _(ctx):
    from .. import host
    b = ctx.bundle()
    cid = ctx.stopped(b)
    ctx.delete(cid)
    time.sleep(0.1)
    left = [d for d in host.cgroup_dirs(b.linux["cgroupsPath"]) if os.path.isdir(d)]
    ctx.check(not left, f"cgroups left after delete: {left[:3]}")


@case("lifecycle.delete.keeps_bundle", R,
      "resources associated with the container, but not created by this container, MUST NOT be deleted.")
def _(ctx):
    b = ctx.bundle()
    keep = b.in_rootfs("/keep-me")
    with open(keep, "w") as f:
        f.write("x")
    cid = ctx.stopped(b)
    ctx.delete(cid)
    ctx.check(os.path.exists(os.path.join(b.path, "config.json")), "delete removed config.json")
    ctx.check(os.path.exists(keep), "delete removed a file of the rootfs")


@case("lifecycle.delete.missing_id_error", R, "This operation MUST generate an error if it is not provided the container ID.")
def _(ctx):
    ctx.errors(ctx.call("delete"), "delete without an id")


@case("lifecycle.delete.unknown_id_error", R, "Attempting to delete a container that is not stopped ... MUST generate an error.")
def _(ctx):
    ctx.errors(ctx.call("delete", ctx.new_id()), "delete of an unknown id")


@case("lifecycle.process_exit_stops", R, "stopped: the container process has exited")
def _(ctx):
    cid = ctx.started(ctx.bundle(), ["sh", "-c", "sleep 0.5"])
    ctx.wait_status(cid, "stopped")


@case("lifecycle.pid_is_container_process", R, "pid (int, REQUIRED when status is created or running on Linux, OPTIONAL on other platforms) is the ID of the container process.")
def _(ctx):
    cid = ctx.started(ctx.bundle(), ["sleep", "61"])
    pid = ctx.pid(cid)
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        ctx.eq(f.read().split(b"\0")[:2], [b"sleep", b"61"], "command line of the state's pid")
