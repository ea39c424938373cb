"""Hand the seccomp listener fd to the agent at ``linux.seccomp.listenerPath``.

The message is the runtime-spec's container process state (config-linux.md,
"The Container Process State"): one JSON document on a unix stream socket,
the listener fd in the same sendmsg(2) as SCM_RIGHTS, its name at the same
index in ``fds`` -- as runc does.
"""

import array
from pyrunc.oci.jsondump import dumps
import socket

from pyrunc.errors import SetupError

SECCOMP_FD_NAME = "seccompFd"


def process_state(state, metadata=""):
    msg = {"ociVersion": state.get("ociVersion", ""), "fds": [SECCOMP_FD_NAME],
           "pid": state.get("pid", 0)}
    if metadata:
        msg["metadata"] = metadata
    msg["state"] = state
    return msg


def send_listener(listener_path, listener_fd, state, metadata=""):
    """Connect to listener_path and send the process state with listener_fd."""
    data = dumps(process_state(state, metadata), separators=(",", ":")).encode()
    fds = array.array("i", [listener_fd])
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(listener_path)
            sent = sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            if sent < len(data):
                sock.sendall(data[sent:])
    except OSError as e:
        raise SetupError("seccomp", f"send seccomp fd to agent {listener_path}: {e.strerror}",
                         e.errno, listener_path) from e
