"""The resources an ``update`` asks for, from runc's flags or from a resources document.

Zero and empty values mean "leave as is" (Docker sends every field, zeros included), so
they are dropped: the result holds only what is to change, in linux.resources shape.
As in runc, a resources document, when given, is used instead of the flags.
"""

from pyrunc.oci import jsonload
import re

from .files import CgroupError

_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$", re.IGNORECASE)
_UNITS = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}

# flag -> (section, field, parser)
_MEMORY_FLAGS = (("memory", "limit"), ("memory-swap", "swap"), ("memory-reservation", "reservation"))
_UINT_FLAGS = (("cpu-period", "period"), ("cpu-rt-period", "realtimePeriod"), ("cpu-share", "shares"))
_INT_FLAGS = (("cpu-quota", "quota"), ("cpu-rt-runtime", "realtimeRuntime"))

# The fields update may change, per section, as runc's update copies them.
_DOCUMENT_FIELDS = {
    "memory": ("limit", "reservation", "swap", "checkBeforeUpdate"),
    "cpu": ("shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems", "idle"),
    "blockIO": ("weight",),
    "pids": ("limit",),
}


def ram_in_bytes(text, flag):
    """A size with an optional binary suffix ("512m", "1.5g", "100KiB"); -1 is unlimited."""
    text = str(text).strip()
    if text == "-1":
        return -1
    m = _SIZE.match(text)
    if not m:
        raise CgroupError(f"update: --{flag}: invalid value {text!r}: not a size")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower() if m.group(2) else None])


def _int(text, flag, unsigned):
    try:
        v = int(str(text).strip(), 10)
    except ValueError:
        raise CgroupError(f"update: --{flag}: invalid value {text!r}: not an integer") from None
    if unsigned and v < 0:
        raise CgroupError(f"update: --{flag}: invalid value {text!r}: must not be negative")
    return v


def _get(flags, name):
    for key in (name, name.replace("-", "_")):
        v = flags.get(key)
        if v not in (None, ""):
            return v
    return None


def from_flags(flags):
    res = {"memory": {}, "cpu": {}, "blockIO": {}, "pids": {}}
    for flag, field in _MEMORY_FLAGS:
        v = _get(flags, flag)
        if v is not None:
            res["memory"][field] = ram_in_bytes(v, flag)
    for flag, field in _UINT_FLAGS:
        v = _get(flags, flag)
        if v is None and flag == "cpu-share":
            v = _get(flags, "cpu-shares")
        if v is not None:
            res["cpu"][field] = _int(v, flag, True)
    for flag, field in _INT_FLAGS:
        v = _get(flags, flag)
        if v is not None:
            res["cpu"][field] = _int(v, flag, False)
    for flag, field in (("cpuset-cpus", "cpus"), ("cpuset-mems", "mems")):
        v = _get(flags, flag)
        if v is not None:
            res["cpu"][field] = str(v)
    v = _get(flags, "blkio-weight")
    if v is not None:
        w = _int(v, "blkio-weight", True)
        if w and not 10 <= w <= 1000:
            raise CgroupError(f"update: --blkio-weight: {w}: must be between 10 and 1000")
        res["blockIO"]["weight"] = w
    v = _get(flags, "pids-limit")
    if v is not None:
        res["pids"]["limit"] = _int(v, "pids-limit", False)
    return _drop_unset(res)


def from_document(doc):
    if isinstance(doc, (str, bytes)):
        try:
            doc = jsonload.loads(doc)
        except ValueError as e:
            raise CgroupError(f"update: resources: invalid json: {e}") from None
    if not isinstance(doc, dict):
        raise CgroupError("update: resources: must be a json object")
    res = {}
    for section, fields in _DOCUMENT_FIELDS.items():
        src = doc.get(section)
        src = {} if src is None else src
        if not isinstance(src, dict):
            raise CgroupError(f"update: resources: {section}: must be an object")
        out = {}
        for field in fields:
            v = src.get(field)
            if v is None:
                continue
            if field in ("cpus", "mems"):
                if not isinstance(v, str):
                    raise CgroupError(f"update: resources: {section}.{field}: must be a string")
            elif field == "checkBeforeUpdate":
                if not isinstance(v, bool):
                    raise CgroupError(f"update: resources: {section}.{field}: must be a boolean")
            elif not isinstance(v, int) or isinstance(v, bool):
                raise CgroupError(f"update: resources: {section}.{field}: must be an integer")
            out[field] = v
        res[section] = out
    unified = doc.get("unified")
    if unified:
        if not isinstance(unified, dict) or not all(isinstance(v, str) for v in unified.values()):
            raise CgroupError("update: resources: unified: must map file names to strings")
        res["unified"] = dict(unified)
    return _drop_unset(res)


def _drop_unset(res):
    out = {}
    for section, fields in res.items():
        if section == "unified":
            out[section] = fields
            continue
        # burst and idle are meaningful at 0; every other zero means "unchanged".
        kept = {k: v for k, v in fields.items()
                if k in ("burst", "idle") or (v not in (0, "") and v is not False)}
        if kept and set(kept) != {"checkBeforeUpdate"}:
            out[section] = kept
    return out


def update_resources(flags=None, document=None):
    """linux.resources holding only what the update changes.

    FLAGS maps runc's update option names ("memory", "cpu-quota" or "cpu_quota", ...)
    to their string values (None when not given); DOCUMENT is the --resources JSON
    (text or parsed), used instead of the flags when present.
    """
    if document is not None:
        return from_document(document)
    return from_flags(flags or {})
