"""runtime.md: the state document and the Query State operation."""
import os

from .. import schema
from ..core import case

R = "runtime.md"


def _valid(ctx, doc, when):
    problems = schema.state(doc)
    ctx.check(not problems, f"state {when} does not follow state-schema.json: {'; '.join(problems)}")


@case("state.schema.created", R, "When serialized in JSON, the format MUST adhere to the JSON Schema schema/state-schema.json.")
def _(ctx):
    cid, _ = ctx.create(ctx.bundle())
    _valid(ctx, ctx.state(cid), "when created")


@case("state.schema.running", R, "When serialized in JSON, the format MUST adhere to the JSON Schema schema/state-schema.json.")
def _(ctx):
    cid = ctx.started(ctx.bundle(), ["sleep", "60"])
    _valid(ctx, ctx.state(cid), "when running")


@case("state.schema.stopped", R, "When serialized in JSON, the format MUST adhere to the JSON Schema schema/state-schema.json.")
def _(ctx):
    cid = ctx.stopped(ctx.bundle())
    _valid(ctx, ctx.state(cid), "when stopped")


@case("state.status.created", R,
      "created: the runtime has finished the create operation ... and the container process has neither exited nor executed")
def _(ctx):
    cid, _ = ctx.create(ctx.bundle())
    ctx.eq(ctx.status(cid), "created", "status")


@case("state.status.running", R, "running: the container process has executed the user-specified program but has not exited")
def _(ctx):
    cid = ctx.started(ctx.bundle(), ["sleep", "60"])
    ctx.eq(ctx.status(cid), "running", "status")


@case("state.status.stopped", R, "stopped: the container process has exited")
def _(ctx):
    cid = ctx.started(ctx.bundle(), ["sleep", "60"])
    ctx.kill(cid, "KILL")
    ctx.wait_status(cid, "stopped")


@case("state.id", R, "id (string, REQUIRED) is the container's ID.")
def _(ctx):
    cid, _ = ctx.create(ctx.bundle())
    ctx.eq(ctx.state(cid).get("id"), cid, "id")


@case("state.oci_version", R, "ociVersion (string, REQUIRED) is version of the Open Container Initiative Runtime Specification")
def _(ctx):
    cid, _ = ctx.create(ctx.bundle())
    v = ctx.state(cid).get("ociVersion")
    ctx.check(isinstance(v, str) and schema.SEMVER.match(v), f"ociVersion {v!r} is not a SemVer version")


@case("state.pid.created", R, "pid (int, REQUIRED when status is created or running on Linux, OPTIONAL on other platforms) is the ID of the container process.")
def _(ctx):
    cid, _ = ctx.create(ctx.bundle())
    pid = ctx.pid(cid)
    ctx.check(os.path.exists(f"/proc/{pid}"), f"pid {pid} of a created container does not exist")


@case("state.pid.running", R, "pid (int, REQUIRED when status is created or running on Linux, OPTIONAL on other platforms) is the ID of the container process.")
def _(ctx):
    cid = ctx.started(ctx.bundle(), ["sleep", "60"])
    pid = ctx.pid(cid)
    ctx.check(os.path.exists(f"/proc/{pid}"), f"pid {pid} of a running container does not exist")


@case("state.bundle", R, "bundle (string, REQUIRED) is the absolute path to the container's bundle directory.")
def _(ctx):
    b = ctx.bundle()
    cid, _ = ctx.create(b)
    got = ctx.state(cid).get("bundle", "")
    ctx.check(os.path.isabs(got), f"bundle {got!r} is not absolute")
    ctx.eq(os.path.realpath(got), os.path.realpath(b.path), "bundle")


@case("state.bundle_relative_given", R, "bundle (string, REQUIRED) is the absolute path to the container's bundle directory.")
def _(ctx):
    b = ctx.bundle()
    b.write()
    cid = ctx.new_id()
    ctx.containers.append(cid)
    res = ctx.call("create", "--bundle", os.path.basename(b.path), cid, cwd=ctx.dir)
    ctx.check(res.ok, f"create with a relative bundle path failed: {res.describe()}")
    got = ctx.state(cid).get("bundle", "")
    ctx.check(os.path.isabs(got), f"bundle {got!r} is not absolute")
    ctx.eq(os.path.realpath(got), os.path.realpath(b.path), "bundle")


@case("state.annotations", R, "annotations (map, OPTIONAL) contains the list of annotations associated with the container.")
def _(ctx):
    b = ctx.bundle()
    b.config["annotations"] = {"org.example.conformance": "yes", "com.example.k": "v"}
    cid, _ = ctx.create(b)
    got = ctx.state(cid).get("annotations")
    ctx.eq(got, b.config["annotations"], "annotations")


@case("state.missing_id_error", R, "This operation MUST generate an error if it is not provided the ID of a container.")
def _(ctx):
    ctx.errors(ctx.call("state"), "state without an id")


@case("state.unknown_id_error", R, "Attempting to query a container that does not exist MUST generate an error.")
def _(ctx):
    ctx.errors(ctx.call("state", ctx.new_id()), "state of an unknown id")


@case("state.deleted_error", R, "Attempting to query a container that does not exist MUST generate an error.")
def _(ctx):
    cid = ctx.stopped(ctx.bundle())
    ctx.delete(cid)
    ctx.errors(ctx.call("state", cid), "state of a deleted container")
