"""Resolve and create paths inside the container's root without leaving it.

Every lookup goes through openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
relative to an fd of the root: ``..`` stops at the root and an absolute
symlink such as ``rootfs/evil -> /etc`` resolves to ``rootfs/etc``, as if the
rootfs were ``/``.  When something is missing, the path is walked one
component at a time (symlinks followed by hand, only inside the root) and
the missing components are created with mkdirat(2) relative to the fd of
their already resolved parent.  The final target is held as an
O_PATH fd; callers mount onto ``/proc/self/fd/N`` so the kernel acts on the
object that was checked, not on a path an attacker could swap for a symlink
in between (CVE-2021-30465, the symlink-exchange race against runc).
"""

import errno
import os
import stat

from pyrunc.linux.openat2 import (O_DIRECTORY, O_NOFOLLOW, O_PATH, RESOLVE_BENEATH,
                                  RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS,
                                  openat2)

RESOLVE = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
MAX_LINKS = 40      # the kernel's MAXSYMLINKS


def clean(path):
    """The lexical, absolute form of a path inside the root ("a/../b" -> "/b")."""
    parts = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def fd_path(fd):
    """The magic link that names the object open at fd, for mount(2)."""
    return f"/proc/self/fd/{fd}"


def open_in_root(root_fd, path, flags=O_PATH):
    """Open path (resolved inside the root) and return the fd; OSError if missing."""
    rel = clean(path).lstrip("/") or "."
    return openat2(root_fd, rel, flags, 0, RESOLVE)


def real_path(fd):
    """Where fd points, as the kernel names it (used to check a resolved target)."""
    return os.readlink(fd_path(fd))


def _step(fd, part, flags=O_PATH | O_DIRECTORY):
    """Open one component below fd, refusing to follow anything: a symlink
    swapped in after we looked fails with ELOOP instead of being followed."""
    return openat2(fd, part, flags, 0, RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH)


def _walk(root_fd, path, mode, leaf_is_dir, leaf_mode):
    """Resolve path inside the root the way the kernel would with the root
    as "/", creating what is missing (the leaf as a directory or an empty
    file); return an O_PATH fd of the leaf.

    Symlinks are followed by hand, one component at a time and only inside
    the root, so a dangling ``rootfs/evil -> /etc/x`` creates ``rootfs/etc/x``
    (as runc's securejoin does) and nothing outside is ever touched."""
    todo = [p for p in path.split("/") if p]
    resolved = []
    fd = os.dup(root_fd)
    links = 0
    try:
        while todo:
            part = todo.pop(0)
            if part == ".":
                continue
            if part == "..":
                resolved = resolved[:-1]
                nfd = open_in_root(root_fd, "/".join(resolved), O_PATH | O_DIRECTORY)
                os.close(fd)
                fd = nfd
                continue
            leaf = not todo
            try:
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                try:
                    if leaf and not leaf_is_dir:
                        os.close(os.open(part, os.O_CREAT | os.O_EXCL | os.O_WRONLY | O_NOFOLLOW
                                         | os.O_CLOEXEC, leaf_mode, dir_fd=fd))
                    else:
                        os.mkdir(part, leaf_mode if leaf else mode, dir_fd=fd)
                except FileExistsError:
                    pass  # a racing creator: look again
                todo.insert(0, part)
                continue
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
                target = os.readlink(part, dir_fd=fd)
                todo[:0] = [p for p in target.split("/") if p]
                if target.startswith("/"):
                    resolved = []
                    os.close(fd)
                    fd = os.dup(root_fd)
                continue
            if not leaf and not stat.S_ISDIR(st.st_mode):
                raise OSError(errno.ENOTDIR, "not a directory", "/" + "/".join(resolved + [part]))
            nfd = _step(fd, part, O_PATH | (O_DIRECTORY if not leaf else 0))
            os.close(fd)
            fd = nfd
            resolved.append(part)
        return fd
    except BaseException:
        os.close(fd)
        raise


def mkdir_all(root_fd, path, mode=0o755):
    """Create every missing directory of path inside the root; return an
    O_PATH fd of the final directory."""
    try:
        return open_in_root(root_fd, path, O_PATH | O_DIRECTORY)
    except FileNotFoundError:
        path = clean(path)
        fd = _create_leaf(root_fd, path, True, mode)
        return fd if fd is not None else _walk(root_fd, path, mode, True, mode)


def ensure_target(root_fd, path, is_dir, mode=None):
    """Return an O_PATH fd of path inside the root, creating it first when
    missing: a directory (with its parents) or an empty file (mode 0644)."""
    try:
        return open_in_root(root_fd, path)
    except FileNotFoundError:
        pass
    if mode is None:
        mode = 0o755 if is_dir else 0o644
    path = clean(path)
    fd = _create_leaf(root_fd, path, is_dir, mode)
    return fd if fd is not None else _walk(root_fd, path, 0o755, is_dir, mode)


def _create_leaf(root_fd, path, is_dir, mode):
    """The common case of a missing target, in three calls: its parent exists,
    and the name is free.  None sends the caller to the full walk (a missing
    parent, or a dangling symlink in the way, which the walk follows inside
    the root)."""
    parent, name = path.rsplit("/", 1)
    if name in ("", ".", ".."):
        return None
    try:
        pfd = open_in_root(root_fd, parent or "/", O_PATH | O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        try:
            if is_dir:
                os.mkdir(name, mode, dir_fd=pfd)
            else:
                os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | O_NOFOLLOW
                                 | os.O_CLOEXEC, mode, dir_fd=pfd))
        except FileExistsError:
            return None
        return _step(pfd, name, O_PATH | (O_DIRECTORY if is_dir else 0))
    finally:
        os.close(pfd)


def lstat_in_root(root_fd, path):
    """lstat of path's last component, its parents resolved inside the root;
    None when it does not exist."""
    parent, name = os.path.split(clean(path))
    if not name:
        return os.fstat(root_fd)
    try:
        pfd = open_in_root(root_fd, parent, O_PATH | O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        return os.stat(name, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    finally:
        os.close(pfd)
