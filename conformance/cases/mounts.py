"""config.md mounts and runtime-linux.md dev symlinks, observed in /proc/self/mountinfo."""
import os
import subprocess

from ..core import case
from .common import probe, sh

C = "config.md"
RL = "runtime-linux.md"


def mountinfo(text):
    """{mount point: (per-mount options set, optional fields list, fstype, super options set)}."""
    out = {}
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        f, r = left.split(), right.split()
        out[f[4]] = (set(f[5].split(",")), f[6:], r[0], set(r[2].split(",")) if len(r) > 2 else set())
    return out


def mounted(ctx, b, dest, script="cat /proc/self/mountinfo"):
    info = mountinfo(sh(ctx, b, script))
    ctx.check(dest in info, f"{dest} is not a mount point in the container")
    return info[dest]


def _tmpfs(ctx, options, dest="/t"):
    b = ctx.bundle()
    b.mount(dest, "tmpfs", "tmpfs", options)
    return b


def _option_case(option, flag, where="mount", absent=None):
    """A case: a tmpfs mounted with ``option`` shows ``flag`` (or lacks ``absent``)."""
    def check(ctx):
        b = _tmpfs(ctx, [option])
        opts, _, _, sup = mounted(ctx, b, "/t")
        have = opts if where == "mount" else sup
        if flag:
            ctx.check(flag in have, f"option {option!r}: {flag!r} missing from {sorted(have)}")
        if absent:
            ctx.check(absent not in have, f"option {option!r}: {absent!r} present in {sorted(have)}")
    return check


for _opt, _flag, _where, _absent, _level in [
        ("ro", "ro", "mount", None, "MUST"),
        ("rw", "rw", "mount", None, "MUST"),
        ("nosuid", "nosuid", "mount", None, "MUST"),
        ("nodev", "nodev", "mount", None, "MUST"),
        ("noexec", "noexec", "mount", None, "MUST"),
        ("noatime", "noatime", "mount", None, "MUST"),
        ("relatime", "relatime", "mount", None, "MUST"),
        ("strictatime", None, "mount", "relatime", "MUST"),
        ("nodiratime", "nodiratime", "mount", None, "MUST"),
        ("sync", "sync", "super", None, "MUST"),
        ("dirsync", "dirsync", "super", None, "MUST"),
        ("nosymfollow", "nosymfollow", "mount", None, "SHOULD")]:
    case(f"config.mounts.option.{_opt}", C, f"Runtimes MUST/SHOULD/MAY implement the following option strings for Linux [{_opt}: {_level}]",
         _level)(_option_case(_opt, _flag, _where, _absent))


@case("config.mounts.option.later_overrides", C, "If a custom option string is already recognized by mount(8), the runtime SHOULD follow the behavior of mount(8).", "SHOULD")
def _(ctx):
    b = _tmpfs(ctx, ["nosuid", "suid", "ro", "rw"])
    opts, _, _, _ = mounted(ctx, b, "/t")
    ctx.check("nosuid" not in opts and "rw" in opts, f"options nosuid,suid,ro,rw gave {sorted(opts)}")


@case("config.mounts.option.fs_specific", C, "Runtimes SHOULD treat unknown options as filesystem-specific ones", "SHOULD")
def _(ctx):
    b = _tmpfs(ctx, ["mode=0710", "size=1m"])
    out = sh(ctx, b, "stat -c %a /t; grep ' /t ' /proc/self/mountinfo")
    lines = out.splitlines()
    ctx.check(lines, "no output")
    ctx.eq(lines[0], "710", "mode of a tmpfs mounted with mode=0710")
    ctx.check("size=1024k" in out, f"size=1m not applied: {out.strip()!r}")


@case("config.mounts.tmpfs", C, "type (string, OPTIONAL) The type of the filesystem to be mounted.")
def _(ctx):
    _, _, fstype, _ = mounted(ctx, _tmpfs(ctx, []), "/t")
    ctx.eq(fstype, "tmpfs", "filesystem type at /t")


@case("config.mounts.destination_created", C, "destination (string, REQUIRED) Destination of mount point: path inside container.")
def _(ctx):
    mounted(ctx, _tmpfs(ctx, [], "/new/deep/dir"), "/new/deep/dir")


@case("config.mounts.order", C, "The runtime MUST mount entries in the listed order.")
def _(ctx):
    b = ctx.bundle()
    b.mount("/a", "tmpfs", "tmpfs", ["size=1m"])
    b.mount("/a/b", "tmpfs", "tmpfs", ["size=2m"])
    info = mountinfo(sh(ctx, b, "cat /proc/self/mountinfo"))
    ctx.check("/a/b" in info and "/a" in info, f"/a and /a/b not both mounted: {sorted(info)}")
    ctx.check("size=2048k" in info["/a/b"][3], "/a/b is not the second tmpfs")


@case("config.mounts.order_shadowing", C, "The runtime MUST mount entries in the listed order.")
def _(ctx):
    b = ctx.bundle()
    b.mount("/s", "tmpfs", "tmpfs", ["size=1m"])
    b.mount("/s", "tmpfs", "tmpfs", ["size=3m"])
    out = sh(ctx, b, "df -k /s | tail -1")
    ctx.check(out.split()[1:2] == ["3072"], f"the later mount at /s is not on top: {out.strip()!r}")


@case("config.mounts.destination_relative", C, "it MAY be a relative path, in which case it MUST be interpreted as relative to \"/\".")
def _(ctx):
    mounted(ctx, _tmpfs(ctx, [], "relative-dest"), "/relative-dest")


def _bind_source(ctx, name="src"):
    src = ctx.path(name)
    os.makedirs(src)
    with open(os.path.join(src, "file"), "w") as f:
        f.write("from-host")
    return src


@case("config.mounts.bind", C, "Runtimes MUST/SHOULD/MAY implement the following option strings for Linux [bind: MUST, bind mount]")
def _(ctx):
    b = ctx.bundle()
    b.mount("/mnt/b", "bind", _bind_source(ctx), ["bind"])
    ctx.eq(sh(ctx, b, "cat /mnt/b/file"), "from-host", "content of a bind-mounted directory")


@case("config.mounts.bind_no_type", C, "source (string, OPTIONAL) A device name, but can also be a file or directory name for bind mounts")
def _(ctx):
    b = ctx.bundle()
    b.config["mounts"].append({"destination": "/mnt/b", "source": _bind_source(ctx), "options": ["rbind"]})
    ctx.eq(sh(ctx, b, "cat /mnt/b/file"), "from-host", "content of a bind mount given without type")


@case("config.mounts.bind_file", C, "source ... can also be a file or directory name for bind mounts")
def _(ctx):
    b = ctx.bundle()
    src = os.path.join(_bind_source(ctx), "file")
    b.mount("/etc/bound-file", "bind", src, ["bind"])
    ctx.eq(sh(ctx, b, "cat /etc/bound-file"), "from-host", "content of a bind-mounted file")


@case("config.mounts.bind_ro", C, "Runtimes MUST/SHOULD/MAY implement the following option strings for Linux [bind, ro: MUST]")
def _(ctx):
    b = ctx.bundle()
    b.mount("/mnt/b", "bind", _bind_source(ctx), ["bind", "ro"])
    out = probe(ctx, b, "open", "/mnt/b/new", "create")
    ctx.eq(out.get("errno"), "30", "errno creating a file in a read-only bind mount (EROFS)")


def _with_submount(ctx):
    src = _bind_source(ctx)
    sub = os.path.join(src, "sub")
    os.makedirs(sub)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "conf-sub", sub], capture_output=True, text=True)
    if r.returncode:
        ctx.skip(f"cannot mount a tmpfs under the bind source: {r.stderr.strip()}")
    with open(os.path.join(sub, "subfile"), "w") as f:
        f.write("in-submount")
    return src


@case("config.mounts.rbind_recursive", C, "Runtimes MUST/SHOULD/MAY implement the following option strings for Linux [rbind: MUST, recursive bind mount]")
def _(ctx):
    b = ctx.bundle()
    b.mount("/mnt/b", "bind", _with_submount(ctx), ["rbind"])
    ctx.eq(sh(ctx, b, "cat /mnt/b/sub/subfile 2>&1"), "in-submount", "file of a submount under an rbind")


@case("config.mounts.bind_not_recursive", C, "The \"MUST\" options correspond to mount(8). [bind: mount(8) --bind leaves submounts out]")
def _(ctx):
    b = ctx.bundle()
    b.mount("/mnt/b", "bind", _with_submount(ctx), ["bind"])
    out = sh(ctx, b, "test -e /mnt/b/sub/subfile && echo visible || echo hidden")
    ctx.eq(out.strip(), "hidden", "submount under a non-recursive bind")


@case("config.mounts.option.rro", C, "Runtimes MUST/SHOULD/MAY implement the following option strings for Linux [rro: SHOULD, recursive ro]", "SHOULD")
def _(ctx):
    b = ctx.bundle()
    b.mount("/mnt/b", "bind", _with_submount(ctx), ["rbind", "rro"])
    out = probe(ctx, b, "open", "/mnt/b/sub/new", "create")
    ctx.eq(out.get("errno"), "30", "errno creating a file in a submount of an rro bind (EROFS)")


def _propagation(option, want_field, want):
    def check(ctx):
        b = ctx.bundle()
        b.mount("/t", "bind", _bind_source(ctx), ["rbind", option])
        _, fields, _, _ = mounted(ctx, b, "/t")
        has = any(f.startswith(want_field) for f in fields)
        ctx.check(has == want, f"option {option!r}: optional fields {fields} "
                               f"{'lack' if want else 'have'} {want_field!r}")
    return check


for _opt, _field, _want in [("shared", "shared:", True), ("rshared", "shared:", True),
                            ("private", "shared:", False), ("rprivate", "shared:", False),
                            ("unbindable", "unbindable", True), ("runbindable", "unbindable", True)]:
    case(f"config.mounts.propagation.{_opt}", C, f"Runtimes MUST/SHOULD/MAY implement the following option strings for Linux [{_opt}: MUST, bind mount propagation]")(
        _propagation(_opt, _field, _want))


def _devlink(link, target):
    def check(ctx):
        out = sh(ctx, ctx.bundle(), f"readlink {link}")
        ctx.eq(out.strip(), target, f"target of {link}")
    return check


for _link, _target in [("/dev/fd", "/proc/self/fd"), ("/dev/stdin", "/proc/self/fd/0"),
                       ("/dev/stdout", "/proc/self/fd/1"), ("/dev/stderr", "/proc/self/fd/2")]:
    case(f"runtime_linux.dev_symlink.{_link.rsplit('/', 1)[1]}", RL,
         f"runtimes MUST create the following symlinks if the source file exists after processing mounts [{_target} -> {_link}]")(
        _devlink(_link, _target))
