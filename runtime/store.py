"""The state directory: one directory per container under --root.

<root>/<id>/state        written atomically (temp file + rename), in the
                         interpreter's marshal format: private to pyrunc, and
                         read on every command, where importing json (and so
                         re and enum) would cost more than the rest of `start`
<root>/<id>/exec.fifo    exists from create until start (runc's exec fifo model)
Every command on an id holds flock on the container directory, so concurrent
commands on one container cannot interleave their read-modify-write of state.
"""

import errno
import fcntl
import marshal
import os

from pyrunc.errors import ContainerExists, ContainerNotFound, PyruncError

STATE_FILE = "state"
FIFO = "exec.fifo"


def check_id(container_id):
    """Container ids become directory names: refuse anything that could walk out."""
    if (not container_id or container_id in (".", "..") or "/" in container_id
            or "\0" in container_id or len(container_id) > 1024):
        raise PyruncError(f"invalid container id: {container_id!r}")
    for ch in container_id:
        if not (ch.isalnum() or ch in "_+-.") or not ch.isascii():
            raise PyruncError(f"invalid container id: {container_id!r}")


class ContainerDir:
    def __init__(self, root, container_id, fd):
        self.root = root
        self.id = container_id
        self.path = os.path.join(root, container_id)
        self.fd = fd  # directory fd, holds the flock

    @property
    def fifo(self):
        return os.path.join(self.path, FIFO)

    def read_state(self):
        try:
            with open(os.path.join(self.path, STATE_FILE), "rb") as f:
                return marshal.loads(f.read())
        except FileNotFoundError:
            # Created by a create still in progress, or left by a crash.
            return None

    def write_state(self, state):
        tmp = os.path.join(self.path, f".{STATE_FILE}.tmp")
        data = marshal.dumps(state)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(self.path, STATE_FILE))

    def remove(self):
        for name in os.listdir(self.path):
            try:
                os.unlink(os.path.join(self.path, name))
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.path)
        except FileNotFoundError:
            pass
        self.close()

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _lock(fd, exclusive=True):
    fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)


def create(root, container_id):
    """Make and lock a new container directory; ContainerExists if taken."""
    check_id(container_id)
    os.makedirs(root, mode=0o711, exist_ok=True)
    path = os.path.join(root, container_id)
    try:
        os.mkdir(path, 0o711)
    except FileExistsError:
        raise ContainerExists(container_id) from None
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    _lock(fd)
    return ContainerDir(root, container_id, fd)


def open_dir(root, container_id, exclusive=True):
    """Open and lock an existing container directory; ContainerNotFound if absent."""
    check_id(container_id)
    path = os.path.join(root, container_id)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            raise ContainerNotFound(container_id) from None
        raise
    _lock(fd, exclusive)
    d = ContainerDir(root, container_id, fd)
    if not os.path.exists(path):  # removed while we waited for the lock
        d.close()
        raise ContainerNotFound(container_id)
    return d


def list_ids(root):
    try:
        return sorted(n for n in os.listdir(root) if not n.startswith("."))
    except FileNotFoundError:
        return []
