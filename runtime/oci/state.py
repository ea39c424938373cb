"""Container status: how it is derived and which operations each status allows.

Status is never stored: it is read from the world each time (runc does the same),
so a crashed or killed container is never reported as running.
"""

import time

CREATING, CREATED, RUNNING, PAUSED, STOPPED = "creating", "created", "running", "paused", "stopped"

# operation -> statuses in which it is allowed
ALLOWED = {
    "start": (CREATED,),
    "kill": (CREATED, RUNNING, PAUSED),
    "delete": (STOPPED,),
    "pause": (RUNNING, CREATED),
    "resume": (PAUSED,),
    "exec": (CREATED, RUNNING),
    "update": (CREATED, RUNNING, PAUSED),
    "ps": (CREATED, RUNNING, PAUSED),
    "events": (CREATED, RUNNING, PAUSED),
}


def allowed(operation, status):
    return status in ALLOWED[operation]


def proc_start_time(pid):
    """Start time of pid in clock ticks (field 22 of /proc/PID/stat), or None if
    the process is gone or a zombie.  Stored at create so that a recycled pid is
    never mistaken for the container's init."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def is_alive(pid, start_time):
    return pid > 0 and proc_start_time(pid) == start_time


def timestamp():
    """RFC 3339 with nanoseconds, UTC, as runc writes `created`."""
    ns = time.time_ns()
    t = time.gmtime(ns // 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{ns % 1_000_000_000:09d}Z"
