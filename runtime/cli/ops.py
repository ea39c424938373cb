"""Commands over a running container's cgroup: update, ps, events.

Imported by every pyrunc invocation (commands.py merges COMMANDS): module level stays
light, anything heavier loads inside the handler that needs it.
"""

import sys

from pyrunc.cli.args import Command, Flag, UsageError
from pyrunc.errors import PyruncError

# (flag, help); each takes a string that pyrunc.cgroups.update parses, so that a bad
# value is reported with the flag's own name.
_UPDATE_VALUES = (
    ("memory", "memory limit: bytes, or a size such as 512m or 2g; -1 removes it"),
    ("memory-swap", "limit on memory plus swap; -1 removes it"),
    ("memory-reservation", "soft memory limit, enforced under memory pressure"),
    ("kernel-memory", "accepted for compatibility and ignored (no kernel memory limits here)"),
    ("kernel-memory-tcp", "accepted for compatibility and ignored, like --kernel-memory"),
    ("cpu-share,cpu-shares", "relative cpu weight"),
    ("cpu-quota", "microseconds of cpu time allowed in each period; -1 removes the cap"),
    ("cpu-period", "length of the cfs bandwidth period in microseconds"),
    ("cpu-rt-period", "length of the realtime period in microseconds"),
    ("cpu-rt-runtime", "microseconds of realtime cpu time allowed in each realtime period"),
    ("cpuset-cpus", "cpus the container may run on, e.g. 0-2,4"),
    ("cpuset-mems", "memory nodes the container may allocate from"),
    ("pids-limit", "most processes and threads the container may hold; -1 removes it"),
    ("blkio-weight", "relative block io weight, 10 to 1000"),
    ("l3-cache-schema", "intel rdt l3 cache allocation (refused: not supported)"),
    ("mem-bw-schema", "intel rdt memory bandwidth allocation (refused: not supported)"),
)
UPDATE_FLAGS = [Flag("resources,r", "str", "",
                     "path to a file with the linux.resources to apply, or - for stdin")]
UPDATE_FLAGS += [Flag(names, "str", "", help) for names, help in _UPDATE_VALUES]


def _read_resources(source):
    try:
        if source == "-":
            return sys.stdin.read()
        with open(source) as f:
            return f.read()
    except OSError as e:
        raise PyruncError(f"update: --resources: {source}: {e.strerror.lower()}") from None


def cmd_update(g, opts, args, log):
    from pyrunc.cgroups import update_resources
    from pyrunc.cgroups.update import ram_in_bytes
    from pyrunc.container import Container
    flags = {f.names[0]: getattr(opts, f.dest) or None for f in UPDATE_FLAGS[1:]}
    for name in ("l3-cache-schema", "mem-bw-schema"):
        if flags[name]:
            raise PyruncError(f"update: --{name}: intel rdt is not supported on this host")
    document = _read_resources(opts.resources) if opts.resources else None
    resources = update_resources(flags, document)
    for name in ("kernel-memory", "kernel-memory-tcp"):
        if flags[name] and document is None:
            ram_in_bytes(flags[name], name)  # a bad value is still an error
            log.warning(f"update: --{name}: ignored, kernel memory limits are not supported")
    c = Container.load(g.root, args[0])
    try:
        c.update(resources)
    finally:
        c.close()


def cmd_ps(g, opts, args, log):
    from pyrunc.container import Container
    if opts.format not in ("table", "json"):
        raise UsageError(f"invalid format option: {opts.format}")
    c = Container.load(g.root, args[0], exclusive=False)
    try:
        pids = c.ps()
    finally:
        c.close()
    if opts.format == "json":
        from pyrunc.oci.jsondump import dumps
        sys.stdout.write(dumps(pids) + "\n")
        return
    sys.stdout.write(ps_table(pids, args[1:] or ["-ef"]))


def ps_table(pids, ps_args):
    """The host's `ps PS_ARGS`, keeping the header and the lines of PIDS."""
    import subprocess
    try:
        out = subprocess.run(["ps"] + list(ps_args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    except OSError as e:
        raise PyruncError(f"ps: cannot run ps: {e.strerror.lower()}") from None
    if out.returncode != 0:
        detail = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[0]
        raise PyruncError(f"ps: ps {' '.join(ps_args)} failed: {detail}")
    lines = out.stdout.splitlines()
    if not lines:
        raise PyruncError("ps: ps printed nothing")
    header = lines[0].split()
    if "PID" not in header:
        raise PyruncError(f"ps: no PID column in the output of ps {' '.join(ps_args)}")
    col = header.index("PID")
    wanted = set(pids)
    kept = [lines[0]]
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            kept.append(line)
    return "".join(line + "\n" for line in kept)


_DURATION_UNITS = (("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("μs", 1e-6), ("ms", 1e-3),
                   ("s", 1.0), ("m", 60.0), ("h", 3600.0))


def parse_duration(text, flag="interval"):
    """A Go duration ("5s", "100ms", "1m30s", "1.5h"), as runc's flags take it; seconds."""
    bad = UsageError(f"invalid value {text!r} for flag -{flag}: not a duration")
    s = text.strip()
    sign = -1.0 if s.startswith("-") else 1.0
    s = s.lstrip("+-")
    if s == "0":
        return 0.0
    if not s:
        raise bad
    total = 0.0
    while s:
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        number, s = s[:i], s[i:]
        if not number or number == "." or number.count(".") > 1:
            raise bad
        for unit, scale in _DURATION_UNITS:
            # the longest unit first where prefixes clash: "ms" before "m"
            if s.startswith(unit) and not (unit == "m" and s.startswith("ms")):
                total += float(number) * scale
                s = s[len(unit):]
                break
        else:
            raise bad
    return sign * total


def cmd_events(g, opts, args, log):
    from pyrunc.container import Container
    from pyrunc.oci.jsondump import dumps
    interval = parse_duration(opts.interval)
    if interval <= 0 and not opts.stats:
        raise UsageError(f"invalid value {opts.interval!r} for flag -interval: "
                         f"must be greater than 0")
    c = Container.load(g.root, args[0], exclusive=False)
    try:
        stream = c.events(interval, opts.stats)
    finally:
        c.close()
    for event in stream:
        sys.stdout.write(dumps(event, separators=(",", ":")) + "\n")
        sys.stdout.flush()


COMMANDS = {
    "update": Command("update", cmd_update, UPDATE_FLAGS, "<container-id>",
                      "change the resource limits of a container", 1, 1),
    "ps": Command("ps", cmd_ps,
                  [Flag("format,f", "str", "table", "table (the host's ps) or json (pids)")],
                  "<container-id> [ps options]", "list the processes in a container's cgroup",
                  1, None, stop_at_positional=True),
    "events": Command("events", cmd_events,
                      [Flag("interval", "str", "5s",
                            "time between statistics, as a go duration (5s, 100ms)"),
                       Flag("stats", help="print the statistics once and exit")],
                      "<container-id>", "stream resource statistics and oom notices as json lines",
                      1, 1),
}
"""Registered into pyrunc.cli.commands.COMMANDS."""

