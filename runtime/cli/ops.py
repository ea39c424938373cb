"""Commands over a running container's cgroup: update, ps, events."""

COMMANDS = {}
