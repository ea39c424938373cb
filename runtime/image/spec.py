"""Image config -> runtime config.json (image-spec conversion.md, as umoci does).

Starts from the defaults ``pyrunc spec`` writes, then: Entrypoint + Cmd ->
process.args; Env merged over the defaults; WorkingDir -> cwd; User resolved
through the rootfs's /etc/passwd and /etc/group (HOME and supplementary
groups as libcontainer's GetExecUser gives them); labels, then the image's
own fields -> annotations; Volumes -> tmpfs mounts.
"""

import os
import posixpath

from pyrunc.image.errors import ImageError
from pyrunc.oci.defaults import default_spec

A = "org.opencontainers.image."
MAX_DB = 4 << 20


def _set_env(env, item):
    name = item.partition("=")[0]
    for i, old in enumerate(env):
        if old.partition("=")[0] == name:
            env[i] = item
            return
    env.append(item)


def read_db(rootfs, rel):
    """Lines of /etc/passwd or /etc/group, read through the rootfs resolver
    (they may be symlinks, which must not lead to the host's files)."""
    try:
        fd = rootfs.open_file(rel, os.O_RDONLY)
    except OSError:
        return []
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_DB)
    return [line.split(":") for line in data.decode("utf-8", "replace").splitlines()
            if line and not line.startswith("#")]


def _int(text):
    try:
        n = int(text)
        return n if 0 <= n < 2**32 else None
    except ValueError:
        return None


def resolve_user(spec, passwd, group):
    """``user[:group]`` -> (uid, gid, additional gids, home) per GetExecUser."""
    user_arg, _, group_arg = (spec or "").partition(":")
    uid_n, gid_n = _int(user_arg), _int(group_arg)
    uid, gid, home, sgids = 0, 0, "", []
    match = None
    for f in passwd:
        if len(f) < 7:
            continue
        if (not user_arg and _int(f[2]) == 0) or (uid_n is not None and _int(f[2]) == uid_n) \
                or (uid_n is None and user_arg and f[0] == user_arg):
            match = f
            break
    if match:
        uid, gid, home = _int(match[2]) or 0, _int(match[3]) or 0, match[5]
    elif user_arg:
        if uid_n is None:
            raise ImageError(f"config.User: {spec!r}: no user {user_arg!r} in /etc/passwd")
        uid = uid_n
    if group_arg:
        found = [g for g in group if len(g) >= 3 and
                 ((gid_n is not None and _int(g[2]) == gid_n) or (gid_n is None and g[0] == group_arg))]
        if found:
            gid = _int(found[0][2]) or 0
        elif gid_n is None:
            raise ImageError(f"config.User: {spec!r}: no group {group_arg!r} in /etc/group")
        else:
            gid = gid_n
    elif match:
        sgids = [_int(g[2]) for g in group
                 if len(g) >= 4 and _int(g[2]) is not None and match[0] in g[3].split(",")]
    return uid, gid, sgids, home


def _list(value, what):
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ImageError(f"config.{what}: must be a list of strings")
    return value


def runtime_config(image_config, rootfs, rootless=False, tty=False, annotations=None):
    """Build config.json (a dict) for an unpacked image."""
    c = image_config.get("config") or {}
    if not isinstance(c, dict):
        raise ImageError("config.config: must be an object")
    spec = default_spec(rootless=rootless, uid=os.geteuid(), gid=os.getegid())
    proc = spec["process"]
    proc["terminal"] = bool(tty)
    spec["root"] = {"path": "rootfs", "readonly": False}
    if not tty:
        proc["env"] = [e for e in proc["env"] if not e.startswith("TERM=")]
    for item in _list(c.get("Env"), "Env"):
        if "=" not in item or item.startswith("="):
            raise ImageError(f"config.Env: {item!r}: must be NAME=VALUE")
        _set_env(proc["env"], item)
    args = _list(c.get("Entrypoint"), "Entrypoint") + _list(c.get("Cmd"), "Cmd")
    if args:
        proc["args"] = args
    wd = c.get("WorkingDir") or "/"
    proc["cwd"] = posixpath.normpath(posixpath.join("/", wd))
    uid, gid, sgids, home = resolve_user(c.get("User") or "", read_db(rootfs, "etc/passwd"),
                                         read_db(rootfs, "etc/group"))
    proc["user"] = {"uid": uid, "gid": gid}
    if sgids:
        proc["user"]["additionalGids"] = sgids
    if home:
        _set_env(proc["env"], "HOME=" + home)
    ann = dict(annotations or {})
    labels = c.get("Labels") or {}
    if isinstance(labels, dict):
        ann.update({k: str(v) for k, v in labels.items()})
    for key, value in (("os", image_config.get("os")), ("architecture", image_config.get("architecture")),
                       ("variant", image_config.get("variant")),
                       ("os.version", image_config.get("os.version")),
                       ("os.features", ",".join(image_config.get("os.features") or [])),
                       ("author", image_config.get("author")), ("created", image_config.get("created")),
                       ("stopSignal", c.get("StopSignal")),
                       ("exposedPorts", ",".join(sorted(c.get("ExposedPorts") or {})))):
        if value:
            ann[A + key] = str(value)
    if ann:
        spec["annotations"] = ann
    for vol in sorted(c.get("Volumes") or {}):
        spec["mounts"].append({"destination": posixpath.normpath(posixpath.join("/", vol)),
                               "type": "tmpfs", "source": "tmpfs",
                               "options": ["rw", "nosuid", "nodev", "noexec", "relatime"]})
    return spec
