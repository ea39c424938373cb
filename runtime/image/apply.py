"""Apply one layer's tar entries to a rootfs (OCI image-spec, layer.md).

Per entry: resolve the parent inside the root (creating it if needed), remove
whatever is in the way unless a directory meets a directory, create the
entry, then restore its metadata in the order the kernel requires: owner,
then mode (chown(2) clears set-user-ID bits), then xattrs, then times.
Whiteouts remove only what lower layers made: paths this layer created are
kept (layer.md, "Whiteouts").  Hardlink targets are resolved inside the
root too, so a link can never reach a host file.
"""

import errno
import os
import posixpath
import stat

from pyrunc.image import tarstream as T
from pyrunc.image.errors import ImageError
from pyrunc.image.rootfs import clean, remove_all, writable

WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"
ROOTLESS_XATTR = "user.rootlesscontainers"
_NOOP_ID = 0xFFFFFFFF


def rootless_payload(uid, gid):
    """The rootless-containers protobuf (message Resource { uint32 uid = 1;
    uint32 gid = 2; }) umoci stores for an owner it cannot chown to; 0
    becomes the no-op id, and (0, 0) needs no xattr at all."""
    if uid == 0 and gid == 0:
        return None

    def varint(n):
        out = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)

    return (b"\x08" + varint(uid or _NOOP_ID)) + (b"\x10" + varint(gid or _NOOP_ID))


class LayerApplier:
    """Applies the entries of one layer; warn(message) receives the
    non-fatal notes (skipped devices, unsupported xattrs)."""

    def __init__(self, rootfs, name, warn):
        self.root = rootfs
        self.name = name
        self.warn = warn
        self.rootless = rootfs.rootless
        self.upper = set()          # paths (and their parents) this layer made
        self.dir_times = {}         # rel dir -> (atime_ns, mtime_ns), restored last
        self._xattr_warned = False

    def apply(self, stream):
        for entry in T.entries(stream, self.name):
            self.root.release()
            rel = clean(entry.name)
            try:
                self._entry(entry, rel, stream)
            except OSError as e:
                raise ImageError(f"{self.name}: {entry.name}: {e.strerror or e}") from None
        self._restore_dir_times()

    # -- entries ------------------------------------------------------------------

    def _entry(self, e, rel, stream):
        parent, base = posixpath.split(rel)
        if base.startswith(WH_PREFIX):
            self._whiteout(parent, base)
            return
        if not rel:
            if e.type != T.DIR:
                raise ImageError(f"{self.name}: {e.name}: refusing to replace the root directory")
            fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.root.fd)
            try:
                self._meta_fd(fd, e)
            finally:
                os.close(fd)
            self.dir_times[""] = (e.atime_ns, e.mtime_ns)
            return
        pfd = self.root.dir_fd(parent, create=True)
        self._note_parent(pfd, parent)
        self._create(pfd, base, e, rel, stream)
        p = rel
        while p and p not in self.upper:
            self.upper.add(p)
            p = posixpath.dirname(p)

    def _note_parent(self, pfd, parent):
        # Creating entries bumps the parent's mtime; put back the one it had
        # (or that this layer gives it) once the layer is done, as tar does.
        if parent not in self.dir_times:
            st = os.stat(pfd)
            self.dir_times[parent] = (st.st_atime_ns, st.st_mtime_ns)

    def _make(self, pfd, base, op, keep_dir=False):
        """Create with op; if the name is taken, remove what is there and
        retry -- replace, never write through: a symlink or hardlink planted
        by a lower layer is unlinked first, so the new entry cannot reach what
        it pointed at (O_EXCL and mkdirat/symlinkat/linkat/mknodat never
        follow a final symlink).  keep_dir: an existing directory stays (a
        directory entry over a directory only updates its metadata)."""
        try:
            return writable(pfd, op, self.rootless)
        except FileExistsError:
            pass
        st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        if keep_dir and stat.S_ISDIR(st.st_mode):
            return None
        if stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
            self.root.invalidate()      # cached paths may pass through it
        remove_all(pfd, base, self.rootless)
        return writable(pfd, op, self.rootless)

    def _create(self, pfd, base, e, rel, stream):
        t = e.type
        if t == T.REG:
            fd = self._make(pfd, base, lambda: os.open(
                base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                dir_fd=pfd))
            try:
                if e.size:
                    stream.copy_to(fd, e.size)
                self._meta_fd(fd, e)
                os.utime(fd, ns=(e.atime_ns, e.mtime_ns))
            finally:
                os.close(fd)
        elif t == T.DIR:
            self._make(pfd, base, lambda: os.mkdir(base, 0o700, dir_fd=pfd), keep_dir=True)
            fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
            try:
                self._meta_fd(fd, e)
            finally:
                os.close(fd)
            self.dir_times[rel] = (e.atime_ns, e.mtime_ns)
        elif t == T.SYMLINK:
            self._make(pfd, base, lambda: os.symlink(e.linkname, base, dir_fd=pfd))
            self._meta_path(pfd, base, e, symlink=True)
        elif t == T.LINK:
            self._hardlink(pfd, base, e)
        elif t in (T.CHR, T.BLK):
            if self.rootless:
                self.warn(f"{self.name}: {e.name}: skipping device node {e.devmajor}:{e.devminor} (rootless)")
                return
            kind = stat.S_IFCHR if t == T.CHR else stat.S_IFBLK
            dev = os.makedev(e.devmajor, e.devminor)
            self._make(pfd, base, lambda: os.mknod(base, kind | 0o600, dev, dir_fd=pfd))
            self._meta_path(pfd, base, e)
        elif t == T.FIFO:
            self._make(pfd, base, lambda: os.mkfifo(base, 0o600, dir_fd=pfd))
            self._meta_path(pfd, base, e)

    def _hardlink(self, pfd, base, e):
        target = clean(e.linkname)
        if not target:
            raise ImageError(f"{self.name}: {e.name}: hardlink to the root directory")
        tparent, tbase = posixpath.split(target)
        missing = ImageError(f"{self.name}: {e.name}: hardlink target {e.linkname}: does not exist")
        try:
            tfd = self.root.dir_fd(tparent)
            os.stat(tbase, dir_fd=tfd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            raise missing from None
        # linkat(2) without AT_SYMLINK_FOLLOW links a symlink itself, so a
        # link "to" a symlink never resolves to the host.
        try:
            self._make(pfd, base, lambda: os.link(tbase, base, src_dir_fd=self.root.dir_fd(tparent),
                                                   dst_dir_fd=pfd, follow_symlinks=False))
        except FileNotFoundError:
            raise missing from None

    # -- metadata -------------------------------------------------------------------

    def _xattrs(self, e):
        xattrs = dict(e.xattrs)
        if ROOTLESS_XATTR in xattrs:
            self.warn(f"{self.name}: {e.name}: ignoring {ROOTLESS_XATTR} xattr stored in the layer"
                      if self.rootless else
                      f"{self.name}: {e.name}: suspicious {ROOTLESS_XATTR} xattr in the layer")
            if self.rootless:
                del xattrs[ROOTLESS_XATTR]
        if self.rootless:
            payload = rootless_payload(e.uid, e.gid)
            if payload:
                xattrs[ROOTLESS_XATTR] = payload
        return xattrs

    def _set_xattr(self, setter, key, value, e):
        try:
            setter(key, value)
        except OSError as err:
            if err.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
                if not self._xattr_warned:
                    self.warn(f"{self.name}: {e.name}: xattr {key}: not supported here, ignored")
                    self._xattr_warned = True
            elif self.rootless and err.errno == errno.EPERM:
                self.warn(f"{self.name}: {e.name}: xattr {key}: not permitted (rootless), ignored")
            else:
                raise

    def _meta_fd(self, fd, e):
        # Owner first: chown(2) clears set-user-ID bits and security.capability.
        # Unprivileged, xattrs go before the mode: setting a user.* xattr needs
        # write permission, which the final mode may not grant.
        if not self.rootless:
            os.fchown(fd, e.uid, e.gid)
            os.fchmod(fd, e.mode)
        for key, value in self._xattrs(e).items():
            self._set_xattr(lambda k, v: os.setxattr(fd, k, v), key, value, e)
        if self.rootless:
            os.fchmod(fd, e.mode)

    def _meta_path(self, pfd, base, e, symlink=False):
        # Same order as _meta_fd.  chmod follows a final symlink and Linux has
        # no lchmod, so it is only done on what we just made and is not one.
        if not self.rootless:
            os.chown(base, e.uid, e.gid, dir_fd=pfd, follow_symlinks=False)
            if not symlink:
                os.chmod(base, e.mode, dir_fd=pfd)
        xattrs = self._xattrs(e)
        if xattrs:
            path = f"/proc/self/fd/{pfd}/{base}"
            for key, value in xattrs.items():
                self._set_xattr(lambda k, v: os.setxattr(path, k, v, follow_symlinks=False),
                                key, value, e)
        if self.rootless and not symlink:
            os.chmod(base, e.mode, dir_fd=pfd)
        os.utime(base, ns=(e.atime_ns, e.mtime_ns), dir_fd=pfd, follow_symlinks=False)

    def _restore_dir_times(self):
        for rel, times in self.dir_times.items():
            try:
                fd = self.root.open_dir(rel)
            except OSError:
                continue        # removed or replaced later in the layer
            try:
                os.utime(f"/proc/self/fd/{fd}", ns=times)
            finally:
                os.close(fd)

    # -- whiteouts --------------------------------------------------------------------

    def _whiteout(self, parent, base):
        if base != WH_OPAQUE and base.startswith(WH_PREFIX + WH_PREFIX):
            return                  # other AUFS metadata (.wh..wh.plnk ...): not content
        self.root.invalidate()      # whatever it removes may be on a cached path
        try:
            pfd = self.root.open_dir(parent)
        except (FileNotFoundError, NotADirectoryError):
            return                  # nothing below to hide
        try:
            self._note_parent(pfd, parent)
            if base == WH_OPAQUE:
                dfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=pfd)
                try:
                    self._prune(dfd, parent)
                finally:
                    os.close(dfd)
            else:
                name = base[len(WH_PREFIX):]
                if not name or "/" in name or name in (".", ".."):
                    raise ImageError(f"{self.name}: {posixpath.join(parent, base)}: invalid whiteout")
                self._hide(pfd, name, posixpath.join(parent, name))
        finally:
            os.close(pfd)

    def _hide(self, pfd, name, rel):
        if rel not in self.upper:
            remove_all(pfd, name, self.rootless)
            return
        # This layer made rel (or something under it): keep what it made.
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
        except OSError:
            return
        try:
            self._prune(fd, rel)
        finally:
            os.close(fd)

    def _prune(self, dfd, rel):
        """Opaque directory: remove every child that lower layers made."""
        with os.scandir(dfd) as it:
            names = [c.name for c in it]
        for child in names:
            self._hide(dfd, child, posixpath.join(rel, child) if rel else child)
