"""Reading and writing cgroup interface files, with errors that name the file and the value.

Every write opens the file afresh with O_TRUNC: cgroupfs takes each write(2) as one
command, and a regular file in a test tree then holds only the last value written.
"""

import errno
import os

from pyrunc.errors import PyruncError


class CgroupError(PyruncError):
    """A cgroup operation failed; the message names the file (and the value written)."""

    def __init__(self, message, path=None, errno=0):
        self.path = path
        self.errno = errno
        super().__init__(message)


def _reason(err):
    return os.strerror(err.errno).lower() if err.errno else str(err).lower()


def write(dirpath, name, value):
    """Write one value to DIRPATH/NAME; a refusal names the file and the value."""
    path = os.path.join(dirpath, name)
    data = str(value).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except OSError as e:
        raise CgroupError(f"cgroup: {path}: cannot open to write {str(value)!r}: {_reason(e)}",
                          path, e.errno) from None
    try:
        os.write(fd, data)
    except OSError as e:
        raise CgroupError(f"cgroup: {path}: writing {str(value)!r}: {_reason(e)}",
                          path, e.errno) from None
    finally:
        os.close(fd)


def read(dirpath, name):
    path = os.path.join(dirpath, name)
    try:
        with open(path, "rb") as f:
            return f.read().decode().strip()
    except OSError as e:
        raise CgroupError(f"cgroup: {path}: reading: {_reason(e)}", path, e.errno) from None


def read_int(dirpath, name):
    """An integer file; "max" (v2's unlimited) reads as None."""
    text = read(dirpath, name)
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        raise CgroupError(f"cgroup: {os.path.join(dirpath, name)}: not an integer: {text!r}",
                          os.path.join(dirpath, name)) from None


def read_keyed(dirpath, name):
    """A flat-keyed file ("key value" lines, e.g. memory.stat, cpu.stat) as a dict of ints."""
    out = {}
    for line in read(dirpath, name).splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def exists(dirpath, name):
    return os.path.exists(os.path.join(dirpath, name))


def maybe(fn, *args, default=0):
    """Read a statistic that an older kernel or an unconfigured host may lack."""
    try:
        return fn(*args)
    except CgroupError as e:
        if e.errno in (errno.ENOENT, errno.ENODEV, errno.EOPNOTSUPP):
            return default
        raise


def not_available(controller, field):
    """The error for a resource that is set but that this host cannot honour."""
    return CgroupError(f"cgroup: linux.resources.{field}: set, but the {controller} "
                       f"controller is not available on this host")
