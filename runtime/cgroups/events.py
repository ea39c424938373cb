"""The events verb's stream: stats every INTERVAL seconds and OOM notices as they come.

Each item is one of runc's JSON event objects: {"type": "stats", "id": ID, "data": {...}}
or {"type": "oom", "id": ID}. The stream ends when the container's cgroup is gone.
"""

import time

from .files import CgroupError


def stats_event(mgr, container_id):
    return {"type": "stats", "id": container_id, "data": mgr.stats()}


def events(mgr, container_id, interval=5.0, stats_only=False):
    if not stats_only:
        import gc
        gc.enable()  # a stream for as long as the container runs (see cli.run_and_exit)
    if stats_only:
        yield stats_event(mgr, container_id)
        return
    if interval <= 0:
        raise CgroupError(f"events: --interval: {interval}: must be greater than 0")
    try:
        watcher = mgr.oom_events()
    except CgroupError:
        watcher = None  # no memory controller: stats only
    try:
        due = time.monotonic() + interval
        while mgr.exists():
            left = due - time.monotonic()
            if left > 0:
                count = watcher.wait(left) if watcher else time.sleep(left) or 0
                for _ in range(count):
                    yield {"type": "oom", "id": container_id}
                if watcher and watcher.gone:
                    return
                continue
            try:
                event = stats_event(mgr, container_id)
            except CgroupError:
                if not mgr.exists():
                    return
                raise
            yield event
            due += interval
    finally:
        if watcher:
            watcher.close()
