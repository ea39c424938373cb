"""config-linux.md devices and default devices."""
import os

from ..core import case
from .common import kv, probe, sh

CL = "config-linux.md"


def _default(path, major, minor, usable):
    def check(ctx):
        b = ctx.bundle()
        out = sh(ctx, b, f"/bin/probe stat {path}; {usable}")
        lines = out.splitlines()
        st = kv(lines[0] if lines else "")
        ctx.eq((st.get("type"), st.get("major"), st.get("minor")), ("c", str(major), str(minor)),
               f"{path} type, major, minor")
        ctx.eq(lines[1:2], ["usable"], f"{path} use")
    return check


for _p, _maj, _min, _use in [
        ("/dev/null", 1, 3, "echo x > /dev/null && echo usable"),
        ("/dev/zero", 1, 5, "head -c 4 /dev/zero | wc -c | grep -q 4 && echo usable"),
        ("/dev/full", 1, 7, "echo x > /dev/full 2>/dev/null || echo usable"),
        ("/dev/random", 1, 8, "head -c 4 /dev/random | wc -c | grep -q 4 && echo usable"),
        ("/dev/urandom", 1, 9, "head -c 4 /dev/urandom | wc -c | grep -q 4 && echo usable"),
        ("/dev/tty", 5, 0, "echo usable")]:
    case(f"devices.default.{_p.rsplit('/', 1)[1]}", CL,
         f"In addition to any devices configured with this setting, the runtime MUST also supply ... {_p}")(
        _default(_p, _maj, _min, _use))


@case("devices.default.ptmx", CL, "/dev/ptmx. A bind-mount or symlink of the container's /dev/pts/ptmx.")
def _(ctx):
    out = sh(ctx, ctx.bundle(), "readlink /dev/ptmx; /bin/probe stat /dev/ptmx; stat -c %i /dev/ptmx /dev/pts/ptmx")
    lines = out.splitlines()
    link = lines[0] if lines and not lines[0].startswith("type=") else ""
    if link:
        ctx.check(link in ("pts/ptmx", "/dev/pts/ptmx"), f"/dev/ptmx links to {link!r}")
    else:
        inodes = lines[-2:]
        ctx.check(len(inodes) == 2 and inodes[0] == inodes[1],
                  f"/dev/ptmx is neither a symlink to nor a bind mount of /dev/pts/ptmx: {out!r}")


def _dev(ctx, **entry):
    b = ctx.bundle()
    dev = {"path": "/dev/conf-dev", "type": "c", "major": 1, "minor": 3}
    dev.update(entry)
    b.linux["devices"] = [dev]
    return b, dev


@case("devices.char", CL, "devices (array of objects, OPTIONAL) lists devices that MUST be available in the container.")
def _(ctx):
    b, _ = _dev(ctx, major=1, minor=7)
    st = probe(ctx, b, "stat", "/dev/conf-dev")
    ctx.eq((st.get("type"), st.get("major"), st.get("minor")), ("c", "1", "7"), "type, major, minor")


@case("devices.block", CL, "type (string, REQUIRED) - type of device: c, b, u or p.")
def _(ctx):
    b, _ = _dev(ctx, type="b", major=7, minor=200)
    st = probe(ctx, b, "stat", "/dev/conf-dev")
    ctx.eq((st.get("type"), st.get("major"), st.get("minor")), ("b", "7", "200"), "type, major, minor")


@case("devices.unbuffered_char", CL, "type (string, REQUIRED) - type of device: c, b, u or p.")
def _(ctx):
    b, _ = _dev(ctx, type="u", major=1, minor=9)
    st = probe(ctx, b, "stat", "/dev/conf-dev")
    ctx.eq((st.get("type"), st.get("major"), st.get("minor")), ("c", "1", "9"), "type, major, minor")


@case("devices.fifo", CL, "type (string, REQUIRED) - type of device: c, b, u or p.")
def _(ctx):
    b = ctx.bundle()
    b.linux["devices"] = [{"path": "/dev/conf-fifo", "type": "p"}]
    ctx.eq(probe(ctx, b, "stat", "/dev/conf-fifo").get("type"), "p", "type")


@case("devices.file_mode", CL, "fileMode (uint32, OPTIONAL) - file mode for the device.")
def _(ctx):
    b, _ = _dev(ctx, fileMode=0o620)
    ctx.eq(probe(ctx, b, "stat", "/dev/conf-dev").get("mode"), "620", "mode")


@case("devices.owner", CL, "uid (uint32, OPTIONAL) - id of device owner in the container namespace.")
def _(ctx):
    b, _ = _dev(ctx, uid=1001, gid=1002)
    st = probe(ctx, b, "stat", "/dev/conf-dev")
    ctx.eq((st.get("uid"), st.get("gid")), ("1001", "1002"), "uid, gid")


@case("devices.outside_dev", CL, "The path MAY be anywhere in the container filesystem, notably outside of /dev.")
def _(ctx):
    b, _ = _dev(ctx, path="/conf-devices/null")
    st = probe(ctx, b, "stat", "/conf-devices/null")
    ctx.eq((st.get("type"), st.get("major"), st.get("minor")), ("c", "1", "3"), "type, major, minor")


@case("devices.usable", CL, "devices (array of objects, OPTIONAL) lists devices that MUST be available in the container.")
def _(ctx):
    b, _ = _dev(ctx, major=1, minor=5, fileMode=0o666)
    out = sh(ctx, b, "head -c 3 /dev/conf-dev | wc -c")
    ctx.eq(out.strip(), "3", "bytes read from a configured /dev/zero")


@case("devices.existing_mismatch_error", CL,
      "If a file already exists at path that does not match the requested device, the runtime MUST generate an error.")
def _(ctx):
    b, _ = _dev(ctx, path="/conf-devices/thing")
    os.makedirs(b.in_rootfs("/conf-devices"))
    with open(b.in_rootfs("/conf-devices/thing"), "w") as f:
        f.write("a regular file")
    cid, res = ctx.create(b, expect_ok=False)
    ctx.errors(res, "create with a device path that holds a regular file")
