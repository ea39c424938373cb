"""Start-up: pyrunc's modules from one file of compiled code.

Every command is a fresh interpreter, and a create imports about 45 of our
modules.  Through the path finder each costs ~0.2 ms before its code runs
(directory caches, stat and open of the .py and its .pyc, header checks);
from one pre-built file it is one stat, one pread and the unmarshal.

The file, ``_bundle`` in the package directory, is written by ``build`` (at
install, ``python3 -X no_debug_ranges -m pyrunc.boot``: tracebacks lose their
column markers, the code is 9% smaller)::

    b"pyrunc-bundle\\n"  interpreter magic (4 bytes)  index length (8 bytes, little-endian)
    marshal(index)  code...

    index: {module name: (is package, path relative to the package directory,
                          source mtime_ns, source size, code offset, code length)}

It is only ever a cache: a module whose source changed since the build (mtime
or size differ, or it is new) is left to the normal import system, and so is
everything when the file is missing or was built by another interpreter.
"""

import marshal
import os
import sys

HEADER = b"pyrunc-bundle\n"
FILENAME = "_bundle"
_PACKAGE = "pyrunc"
_HERE = os.path.dirname(os.path.abspath(__file__))


def _magic():
    # importlib's MAGIC_NUMBER, without importing importlib.util.
    return sys.modules["_frozen_importlib_external"].MAGIC_NUMBER


class BundleFinder:
    """A meta path finder and loader for the modules in one bundle file."""

    def __init__(self, fd, base, index, package_dir):
        self.fd = fd
        self.base = base
        self.index = index
        self.package_dir = package_dir
        self._spec_type = type(sys.__spec__)

    def find_spec(self, name, path=None, target=None):
        entry = self.index.get(name)
        if entry is None:
            return None
        is_pkg, rel, mtime_ns, size = entry[:4]
        origin = os.path.join(self.package_dir, rel)
        try:
            st = os.stat(origin)
        except OSError:
            return None
        if st.st_mtime_ns != mtime_ns or st.st_size != size:
            return None  # edited since the build: compile it the usual way
        spec = self._spec_type(name, self, origin=origin, is_package=is_pkg)
        if is_pkg:
            spec.submodule_search_locations = [os.path.dirname(origin)]
        # has_location stays False: with it importlib computes a __cached__
        # path for every module (exec_module sets __file__ instead).
        return spec

    @staticmethod
    def create_module(spec):
        return None

    def exec_module(self, module):
        offset, length = self.index[module.__name__][4:]
        code = marshal.loads(os.pread(self.fd, length, self.base + offset))
        module.__file__ = module.__spec__.origin
        exec(code, module.__dict__)


def install(package_dir=_HERE):
    """Put the bundle's finder first on sys.meta_path; False when there is no
    usable bundle (then imports go the usual way)."""
    try:
        fd = os.open(os.path.join(package_dir, FILENAME), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        head = os.pread(fd, len(HEADER) + 12, 0)
        if head[:len(HEADER)] != HEADER or head[len(HEADER):len(HEADER) + 4] != _magic():
            os.close(fd)
            return False
        n = int.from_bytes(head[len(HEADER) + 4:], "little")
        index = marshal.loads(os.pread(fd, n, len(HEADER) + 12))
    except (OSError, ValueError, EOFError, TypeError):
        os.close(fd)
        return False
    sys.meta_path.insert(0, BundleFinder(fd, len(HEADER) + 12 + n, index, package_dir))
    return True


def _module_name(rel):
    parts = rel[:-3].split(os.sep)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([_PACKAGE] + parts)


def build(package_dir=_HERE):
    """Compile every module under package_dir into its bundle; returns the path."""
    index, chunks, offset = {}, [], 0
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for f in sorted(filenames):
            if not f.endswith(".py"):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, package_dir)
            with open(path, "rb") as src:
                st = os.fstat(src.fileno())
                # optimize=2 drops docstrings (7% of the code to unmarshal); it would
                # also drop asserts, and pyrunc's code has none (tests/unit/test_boot.py).
                code = marshal.dumps(compile(src.read(), path, "exec", dont_inherit=True,
                                             optimize=2))
            index[_module_name(rel)] = (f == "__init__.py", rel, st.st_mtime_ns, st.st_size,
                                        offset, len(code))
            chunks.append(code)
            offset += len(code)
    body = marshal.dumps(index)
    out = os.path.join(package_dir, FILENAME)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(HEADER + _magic() + len(body).to_bytes(8, "little") + body)
        f.writelines(chunks)
    os.rename(tmp, out)
    return out


if __name__ == "__main__":
    # In a checkout, the generated validator first, so that the bundle holds it.
    from pyrunc.oci import schema
    schema.load()
    print(build(os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else _HERE))
