"""Path resolution and removal confined to a root directory.

Every name a layer gives is resolved relative to the rootfs fd, never to the
host: the parent directory through openat2(RESOLVE_IN_ROOT) -- ``..`` stops at
the root and absolute symlinks restart at it (openat2(2)) -- and the last
component is then acted on with *at() calls that do not follow it.  Where
openat2 is missing (ENOSYS, Linux < 5.6, or seccomp) the same rules run as
a walk of one component at a time with O_NOFOLLOW.  This is what defeats
layers that plant ``../`` names, absolute names, or a symlink to a host
directory and then write through it (CVE-2018-15664 and the umoci/runc
class of "symlink-exchange" bugs).
"""

import errno
import os
import posixpath
import stat

from pyrunc.image.errors import ImageError
from pyrunc.linux import openat2 as _o2

_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_RESOLVE = _o2.RESOLVE_IN_ROOT | _o2.RESOLVE_NO_MAGICLINKS
_MAX_LINKS = 255


def clean(name):
    """Lexically clean a member name into a root-relative path ("" = root):
    ``../../x`` and ``/x`` both become ``x``, as umoci's CleanPath does."""
    return posixpath.normpath("/" + name).lstrip("/") if name else ""


class Rootfs:
    """An open root directory; resolves paths beneath it."""

    def __init__(self, path, rootless=False):
        self.path = path
        self.rootless = rootless
        self.fd = os.open(path, _DIR_FLAGS)
        self._have_openat2 = True
        self._cache = {}        # rel dir -> O_PATH fd, see dir_fd()
        self._retired = []

    def close(self):
        self.invalidate()
        self.release()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    # -- a cache of resolved directories -------------------------------------------------

    def dir_fd(self, rel, create=False):
        """Like open_dir, but the fd is borrowed from a cache (do not close it).
        Consecutive entries mostly share a parent; the cache saves a path
        walk per entry.  invalidate() must be called whenever a directory or
        symlink is removed or replaced, since cached paths may pass through it."""
        fd = self._cache.get(rel)
        if fd is None:
            if len(self._cache) >= 512:
                self.invalidate()
                self.release()
            fd = self._cache[rel] = self.open_dir(rel, create)
        return fd

    def invalidate(self):
        # The fds may still be in use by the caller (a borrowed parent):
        # retire them now, close them at the next release().
        self._retired.extend(self._cache.values())
        self._cache.clear()

    def release(self):
        """Close retired cache fds; call between entries, when none is borrowed."""
        for fd in self._retired:
            os.close(fd)
        self._retired.clear()

    # -- resolution ------------------------------------------------------------------

    def open_dir(self, rel, create=False):
        """An O_PATH fd of directory ``rel`` inside the root (caller closes).
        With create, missing components become 0755 directories and
        non-directories in the way are replaced, as umoci's MkdirAll does."""
        if not rel:
            return os.dup(self.fd)
        if self._have_openat2:
            try:
                return _o2.openat2(self.fd, rel, _DIR_FLAGS, resolve=_RESOLVE)
            except OSError as e:
                if e.errno == errno.ENOSYS:
                    self._have_openat2 = False
                elif e.errno not in (errno.ENOENT, errno.ENOTDIR) or not create:
                    raise
        return self._walk(rel, create)

    def open_file(self, rel, flags):
        """Open a file inside the root, symlinks resolved within it."""
        if self._have_openat2:
            try:
                return _o2.openat2(self.fd, rel, flags | os.O_CLOEXEC, resolve=_RESOLVE)
            except OSError as e:
                if e.errno != errno.ENOSYS:
                    raise
                self._have_openat2 = False
        # Fallback: walk to the parent, then follow a final symlink by hand;
        # _walk applies "..", after symlinks, to the real directory.
        parent, base = posixpath.split(rel)
        for _ in range(_MAX_LINKS):
            pfd = self._walk(parent, False)
            try:
                return os.open(base, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
            except OSError as e:
                if e.errno != errno.ELOOP:
                    raise
                target = os.readlink(base, dir_fd=pfd)
            finally:
                os.close(pfd)
            parent, base = posixpath.split(target if target.startswith("/") else parent + "/" + target)
        raise OSError(errno.ELOOP, "too many levels of symbolic links", rel)

    def _walk(self, rel, create):
        """Resolve rel one component at a time from the root, following
        symlinks by reading them and restarting inside the root."""
        parts = [p for p in rel.split("/") if p and p != "."]
        stack = [os.dup(self.fd)]        # fds of the directories walked so far
        links = 0
        try:
            while parts:
                comp = parts.pop(0)
                if comp == "..":
                    if len(stack) > 1:
                        os.close(stack.pop())
                    continue
                try:
                    fd = os.open(comp, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=stack[-1])
                    stack.append(fd)
                    continue
                except OSError as e:
                    err = e
                try:
                    st = os.stat(comp, dir_fd=stack[-1], follow_symlinks=False)
                except FileNotFoundError:
                    st = None
                if st is not None and stat.S_ISLNK(st.st_mode):
                    links += 1
                    if links > _MAX_LINKS:
                        raise OSError(errno.ELOOP, "too many levels of symbolic links", rel)
                    target = os.readlink(comp, dir_fd=stack[-1])
                    if target.startswith("/"):
                        while len(stack) > 1:
                            os.close(stack.pop())
                    parts[:0] = [p for p in target.split("/") if p and p != "."]
                    continue
                if not create:
                    raise err
                if st is not None:
                    # A file where a directory must be: the layer wins (umoci does the same).
                    self.invalidate()
                    remove_all(stack[-1], comp, self.rootless)
                self._mkdir(stack[-1], comp)
                stack.append(os.open(comp, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=stack[-1]))
            return stack.pop()
        finally:
            for fd in stack:
                os.close(fd)

    def _mkdir(self, pfd, name):
        writable(pfd, lambda: os.mkdir(name, 0o700, dir_fd=pfd), self.rootless)
        # Implicit parents: 0755 whatever the umask, owned by the unpacking user.
        os.chmod(name, 0o755, dir_fd=pfd)


def writable(pfd, op, rootless):
    """Run op (which creates or removes in directory pfd); unprivileged, if
    the directory's mode forbids it, lend ourselves u+wx for the call: a layer
    may make a directory read-only before a later entry writes into it."""
    try:
        return op()
    except PermissionError:
        if not rootless:
            raise
    proc = f"/proc/self/fd/{pfd}"
    mode = stat.S_IMODE(os.stat(proc).st_mode)
    os.chmod(proc, mode | 0o700)
    try:
        return op()
    finally:
        os.chmod(proc, mode)


def remove_all(pfd, name, rootless=False):
    """Remove name in directory pfd and everything below it, never following
    a symlink (the walk is fd-relative with O_NOFOLLOW)."""
    try:
        writable(pfd, lambda: os.unlink(name, dir_fd=pfd), rootless)
        return
    except FileNotFoundError:
        return
    except IsADirectoryError:
        pass
    except PermissionError as e:
        if e.errno != errno.EPERM:      # unlink(2) of a directory: EISDIR, or EPERM
            raise
    if rootless:
        os.chmod(f"/proc/self/fd/{pfd}/{name}", 0o700)
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
    try:
        for child in os.scandir(fd):
            remove_all(fd, child.name, rootless)
    finally:
        os.close(fd)
    writable(pfd, lambda: os.rmdir(name, dir_fd=pfd), rootless)


def remove_tree(path):
    """Remove a host path we created (the bundle after a failure), even where
    a rootless layer left directories without write permission."""
    parent, name = os.path.split(os.path.abspath(path))
    pfd = os.open(parent, _DIR_FLAGS)
    try:
        remove_all(pfd, name, rootless=os.geteuid() != 0)
    finally:
        os.close(pfd)
