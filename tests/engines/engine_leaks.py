"""What a scenario may not leave behind, observed around the engine before and after it."""

import os

import engine_host as host

# cgroups an engine creates once and keeps by design (podman's cgroupfs manager puts conmon there)
PERSISTENT_CGROUPS = {"conmon"}


class Snapshot:
    """What exists around an engine before a scenario, to compare with after it."""

    def __init__(self, engine, tmp, cgroup_parent):
        self.mounts = set(host.mounts_under(tmp))
        self.cgroups = host.cgroup_dirs(cgroup_parent)
        self.pids = host.processes_mentioning(tmp) | host.cgroup_pids(cgroup_parent)
        self.states = engine.runtime_entries()


def leaks(engine, before, tmp, cgroup_parent):
    problems = {}
    if engine.containers():
        problems["containers the engine still lists"] = engine.containers()
    states = engine.runtime_entries() - before.states
    if states:
        problems["runtime state"] = sorted(states)
    # the engine's parent itself appears with the first container and stays (runtimes create
    # missing ancestors and remove only the container's own cgroup)
    cgroups = {d for d in host.cgroup_dirs(cgroup_parent) - before.cgroups
               if os.path.basename(d) not in PERSISTENT_CGROUPS and not d.endswith(cgroup_parent)}
    if cgroups:
        problems["cgroups"] = sorted(cgroups)
    mounts = set(host.mounts_under(tmp)) - before.mounts
    if mounts:
        problems["mounts"] = sorted(mounts)
    pids = {p for p in (host.processes_mentioning(tmp) | host.cgroup_pids(cgroup_parent))
            - before.pids if host.live(p)}
    if pids:
        problems["processes"] = sorted(_describe(p) for p in pids)
    return problems


def _describe(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        cmdline = "(gone)"
    return f"{pid}: {cmdline[:200]}"
