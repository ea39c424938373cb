"""OOM notifications for the events loop: something to poll, with a count per wake-up.

v1: an eventfd registered through cgroup.event_control against memory.oom_control
(Documentation/admin-guide/cgroup-v1/memory.rst, "Memory thresholds"/"OOM control");
the kernel signals it on every OOM in the group and once more when the group is removed.
v2: memory.events is a kernfs file that raises POLLPRI when it changes
(Documentation/admin-guide/cgroup-v2.rst, "memory.events"); the "oom" counter says how
many times the group hit its limit and invoked the OOM killer.
"""

import os
import select

from . import files
from .files import CgroupError


class V1OomWatcher:
    def __init__(self, memory_path):
        self.path = memory_path
        self.gone = False
        self._efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        oc = None
        try:
            try:
                oc = os.open(os.path.join(memory_path, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
            except OSError as e:
                raise CgroupError(f"cgroup: {memory_path}/memory.oom_control: opening: "
                                  f"{os.strerror(e.errno).lower()}", e.filename, e.errno) from None
            files.write(memory_path, "cgroup.event_control", f"{self._efd} {oc}")
        except BaseException:
            os.close(self._efd)
            raise
        finally:
            if oc is not None:
                os.close(oc)  # the kernel holds its own reference once registered

    def fileno(self):
        return self._efd

    def wait(self, timeout):
        """Block up to TIMEOUT seconds; the number of OOM events since the last call."""
        if self.gone:
            return 0
        p = select.poll()
        p.register(self._efd, select.POLLIN)
        if not p.poll(max(0, int(timeout * 1000))):
            return 0
        try:
            count = os.eventfd_read(self._efd)
        except BlockingIOError:
            return 0
        # The final signal on rmdir is not an OOM.
        if not os.path.isdir(self.path):
            self.gone = True
            count -= 1
        return max(count, 0)

    def close(self):
        if self._efd >= 0:
            os.close(self._efd)
            self._efd = -1


class V2OomWatcher:
    def __init__(self, path):
        self.path = path
        self.gone = False
        try:
            self._fd = os.open(os.path.join(path, "memory.events"), os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise CgroupError(f"cgroup: {path}/memory.events: opening: "
                              f"{os.strerror(e.errno).lower()}", e.filename, e.errno) from None
        self._last = self._count()

    def _count(self):
        try:
            text = os.pread(self._fd, 4096, 0).decode()
        except OSError:
            self.gone = True
            return self._last
        values = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
        return int(values.get("oom", 0))

    def fileno(self):
        return self._fd

    def wait(self, timeout):
        if self.gone:
            return 0
        p = select.poll()
        p.register(self._fd, select.POLLPRI | select.POLLERR)
        p.poll(max(0, int(timeout * 1000)))
        if not os.path.isdir(self.path):
            self.gone = True
            return 0
        now = self._count()
        new, self._last = max(0, now - self._last), now
        return new

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
