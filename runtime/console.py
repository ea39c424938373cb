"""Terminals: the container's pty comes from its own devpts instance, and its
master end is sent over a unix socket with SCM_RIGHTS (runc's console-socket
contract: one message whose data is the pty's name and whose one fd is the master).
"""

import fcntl
import os
import socket
import struct
import termios

TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431


def connect(path):
    """Connect to a --console-socket path; the fd goes to the init process."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise OSError(e.errno, f"console socket: {e.strerror}", path) from None
    return s


def open_pty(size=None):
    """In the container, after pivot_root: return (master_fd, slave_fd, slave_path)."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    n = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"))[0]
    path = f"/dev/pts/{n}"
    slave = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    if size and size[0] and size[1]:
        set_size(slave, *size)
    return master, slave, path


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_size(fd):
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def send_master(sock, master, name):
    socket.send_fds(sock, [name.encode()], [master])


def recv_master(sock):
    _, fds, _, _ = socket.recv_fds(sock, 4096, 1)
    if not fds:
        raise OSError(0, "console socket: no file descriptor received")
    return fds[0]


def make_controlling(slave):
    """The slave becomes stdin/out/err and the controlling terminal of the new session."""
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
