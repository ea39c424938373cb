#!/usr/bin/python3
"""Compare the container lifecycle cost of pyrunc with runc and crun, as paired runs.

On one busybox bundle (bundles/make-rootfs, the default spec's namespaces and
mounts, process /bin/true, terminal false, stdio /dev/null, --root in a tmp dir,
an absolute cgroupsPath unique per run), per runtime:
  run        `run` in the foreground, wall time;
  lifecycle  create, start, wait for the process to end, delete (-f only if a plain
             delete fails), wall time in total and per step;
  memory     PSS (/proc/PID/smaps_rollup) of a created, not yet started container's
             init process: the process blocked on the exec fifo.
Every iteration runs each runtime once, in rotating order (bench/common.py); the
ratio column is the median of per-iteration ratios against runc. Run as root from
the repository root:

    bench/lifecycle.py [--runs N] [--runtime NAME=PATH ...] [--json FILE]
    bench/lifecycle.py --profile      # import times and a syscall timeline of one create
"""

import argparse
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, Runtime, Workspace, loadavg, paired, parse_runtime, summarize  # noqa: E402

IN_TREE = os.path.join(ROOT, "bin", "pyrunc")
INSTALLED = "/usr/local/bin/pyrunc"
BASELINE = "runc"
DEVNULL = subprocess.DEVNULL


def default_runtimes():
    found = [Runtime("pyrunc", IN_TREE)]
    if os.access(INSTALLED, os.X_OK):
        found.append(Runtime("pyrunc-inst", INSTALLED))
    found += [Runtime("runc", "/usr/sbin/runc"), Runtime("crun", "/usr/bin/crun", "1.0.2")]
    return found


def base_config():
    """pyrunc's default spec (`pyrunc spec`), running /bin/true without a terminal."""
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([IN_TREE, "spec", "--bundle", d], check=True)
        with open(os.path.join(d, "config.json")) as f:
            config = json.load(f)
    config["process"]["args"] = ["/bin/true"]
    config["process"]["terminal"] = False
    return config


class RunFailed(Exception):
    def __init__(self, runtime, verb, message):
        super().__init__(message)
        self.runtime, self.verb = runtime, verb


def call(ws, runtime, *args):
    """Run one runtime command with all stdio on /dev/null; return its wall time in seconds."""
    argv = ws.cli(runtime, *args)
    t0 = time.perf_counter()
    rc = subprocess.run(argv, stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL).returncode
    elapsed = time.perf_counter() - t0
    if rc != 0:
        raise RunFailed(runtime, args[0], f"{' '.join(argv)}: exit status {rc}")
    return elapsed


def diagnose(ws, runtime, verb):
    """Repeat a failed step with stderr captured, so the report says why it failed."""
    bundle, cid = ws.prepare(runtime)
    ws.live.append((runtime, cid))
    log = os.path.join(ws.dir, "diagnose.txt")
    # A file, not a pipe: a created init would hold a pipe open and its reader would block.
    with open(log, "w") as err:
        subprocess.run(ws.cli(runtime, verb, "-b", bundle, cid), stdin=DEVNULL, stdout=DEVNULL,
                       stderr=err, timeout=30)
    with open(log) as f:
        return f.read().strip().splitlines()[-1:] or ["(no message)"]


def one_run(ws):
    def measure(runtime):
        bundle, cid = ws.prepare(runtime)
        ws.live.append((runtime, cid))
        t = call(ws, runtime, "run", "-b", bundle, cid)
        ws.live.pop()
        return t
    return measure


def created_pid(ws, runtime):
    """create a container; return its id, the pid of its init and the wall time of create."""
    bundle, cid = ws.prepare(runtime)
    pid_file = os.path.join(ws.dir, cid + ".pid")
    ws.live.append((runtime, cid))
    elapsed = call(ws, runtime, "create", "-b", bundle, "--pid-file", pid_file, cid)
    with open(pid_file) as f:
        pid = int(f.read())
    os.unlink(pid_file)
    return cid, pid, elapsed


def one_lifecycle(ws):
    def measure(runtime):
        cid, pid, t_create = created_pid(ws, runtime)
        # The init is not our child: a pidfd (pidfd_open(2)) turns readable when it exits.
        pidfd = os.pidfd_open(pid)
        try:
            t_start = call(ws, runtime, "start", cid)
            t0 = time.perf_counter()
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            if not poller.poll(30_000):
                raise RunFailed(runtime, "start", f"{runtime.name}: {cid}: /bin/true still running after 30 s")
            t_wait = time.perf_counter() - t0
        finally:
            os.close(pidfd)
        forced = False
        try:
            t_delete = call(ws, runtime, "delete", cid)
        except RunFailed:
            forced = True
            t_delete = call(ws, runtime, "delete", "-f", cid)
        ws.live.pop()
        return {"create": t_create, "start": t_start, "wait": t_wait, "delete": t_delete,
                "total": t_create + t_start + t_wait + t_delete, "forced": forced}
    return measure


def smaps_rollup(pid):
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            m = re.match(r"(\w+):\s+(\d+) kB", line)
            if m:
                values[m[1]] = int(m[2])
    return values


def one_memory(ws):
    def measure(runtime):
        cid, pid, _ = created_pid(ws, runtime)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        mem = smaps_rollup(pid)
        call(ws, runtime, "delete", "-f", cid)
        ws.live.pop()
        return {"pss_kb": mem["Pss"], "rss_kb": mem["Rss"], "cmdline": cmdline}
    return measure


def series(results, key):
    return {name: [r[key] for r in rows] for name, rows in results.items()}


def table_rows(title, stats, unit, scale):
    out = [f"{title}"]
    for name, s in stats.items():
        ratio = f"{s['ratio']:.2f}x" if s["ratio"] is not None else "-"
        out.append(f"  {name:<12} median {s['median'] * scale:9.1f} {unit}   "
                   f"min {s['min'] * scale:9.1f} {unit}   vs {BASELINE} {ratio:>7}")
    return out


def benchmark(runtimes, runs):
    ws = Workspace(base_config())
    report = {"runs": runs, "runtimes": {r.name: r.path for r in runtimes},
              "baseline": BASELINE, "loadavg_before": loadavg()}
    try:
        # One untimed round first: page cache, .pyc files, cgroup parents.
        paired(runtimes, 1, one_run(ws))
        run = paired(runtimes, runs, one_run(ws))
        life = paired(runtimes, runs, one_lifecycle(ws))
        mem = paired(runtimes, max(3, runs // 4), one_memory(ws))
    except RunFailed as e:
        hint = diagnose(ws, e.runtime, e.verb) if e.verb in ("run", "create") else []
        raise SystemExit(f"lifecycle: {e}" + (f": {hint[0]}" if hint else ""))
    finally:
        ws.cleanup()
    report["loadavg_after"] = loadavg()
    report["run"] = {"stats_s": summarize(run, BASELINE), "samples_s": run}
    report["lifecycle"] = {
        step: {"stats_s": summarize(series(life, step), BASELINE), "samples_s": series(life, step)}
        for step in ("total", "create", "start", "wait", "delete")}
    report["lifecycle"]["forced_delete"] = {n: sum(r["forced"] for r in rows) for n, rows in life.items()}
    report["memory"] = {
        "pss_kb": {"stats": summarize(series(mem, "pss_kb"), BASELINE), "samples": series(mem, "pss_kb")},
        "rss_kb": {"stats": summarize(series(mem, "rss_kb"), BASELINE), "samples": series(mem, "rss_kb")},
        "init_cmdline": {n: rows[0]["cmdline"] for n, rows in mem.items()}}
    return report


def print_report(r):
    lines = [f"{r['runs']} paired iterations, rotating order; load before {r['loadavg_before']}",
             *[f"  {n:<12} {p}" for n, p in r["runtimes"].items()], ""]
    lines += table_rows("(a) run /bin/true (foreground)", r["run"]["stats_s"], "ms", 1e3)
    lines += table_rows("(b) create + start + wait + delete", r["lifecycle"]["total"]["stats_s"], "ms", 1e3)
    for step in ("create", "start", "wait", "delete"):
        lines += ["  " + x for x in table_rows(step, r["lifecycle"][step]["stats_s"], "ms", 1e3)]
    forced = {n: c for n, c in r["lifecycle"]["forced_delete"].items() if c}
    if forced:
        lines.append(f"  delete needed -f: {forced}")
    lines += table_rows("(c) PSS of the created, not started init", r["memory"]["pss_kb"]["stats"], "KiB", 1)
    lines += table_rows("    RSS of the same", r["memory"]["rss_kb"]["stats"], "KiB", 1)
    lines += [f"    {n:<12} init: {c}" for n, c in r["memory"]["init_cmdline"].items()]
    lines.append(f"load after {r['loadavg_after']}")
    print("\n".join(lines))


# --profile ---------------------------------------------------------------

def import_profile(ws):
    """One in-tree create, start and delete, each under -X importtime.

    Prints the 15 most expensive imports (cumulative) of create, 8 of start and delete.
    """
    runtime = Runtime("pyrunc", IN_TREE)
    bundle, cid = ws.prepare(runtime)
    ws.live.append((runtime, cid))
    try:
        for verb, args, top in (("create", ["create", "-b", bundle, cid], 15),
                                ("start", ["start", cid], 8),
                                ("delete", ["delete", "-f", cid], 8)):
            log = os.path.join(ws.dir, f"importtime-{verb}.txt")
            # stderr goes to a file, not a pipe: the created init inherits it and keeps it open.
            with open(log, "w") as err:
                t0 = time.perf_counter()
                rc = subprocess.run(["/usr/bin/python3", "-X", "importtime", "-I", "-S", IN_TREE,
                                     "--root", ws.state_root, *args],
                                    stdin=DEVNULL, stdout=DEVNULL, stderr=err).returncode
                wall = time.perf_counter() - t0
            print_imports(verb, log, rc, wall, top)
    finally:
        subprocess.run(ws.cli(runtime, "delete", "-f", cid), stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
        ws.live.pop()


def print_imports(verb, log, rc, wall, top):
    rows, self_total = [], 0
    with open(log) as f:
        for line in f:
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
            if m:
                rows.append((int(m[2]), int(m[1]), len(m[3]) // 2, m[4]))
                self_total += int(m[1])
    rows.sort(reverse=True)
    print(f"pyrunc {verb} under -X importtime: exit {rc}, wall {wall * 1e3:.1f} ms, "
          f"{len(rows)} imports, {self_total / 1e3:.1f} ms importing in total (self times summed)")
    print(f"  {'cumulative':>10} {'self':>8}  depth module")
    for cum, own, depth, name in rows[:top]:
        print(f"  {cum / 1e3:8.1f}ms {own / 1e3:6.1f}ms  {depth:>5} {name}")
    print()


TRACED = "execve,clone,clone3,fork,vfork,wait4,exit_group,unshare,setns,mount,umount2,pivot_root,mkdir"


def syscall_timeline(ws, runtime):
    """strace one create: process creation, namespaces, mounts, cgroup mkdirs, waits, exits.

    strace -f also follows the created init, which blocks on the exec fifo until
    the container is deleted, so strace cannot be waited for: watch the trace for
    the create command's own exit instead, then delete the container.
    """
    bundle, cid = ws.prepare(runtime)
    trace = os.path.join(ws.dir, f"strace-{runtime.name}.txt")
    pid_file = os.path.join(ws.dir, f"strace-{runtime.name}.pid")
    ws.live.append((runtime, cid))
    tracer = subprocess.Popen(["strace", "-f", "-ttt", "-e", "signal=none", "-o", trace, "-e",
                               "trace=" + TRACED, *ws.cli(runtime, "create", "-b", bundle,
                                                          "--pid-file", pid_file, cid)],
                              stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
    events = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and tracer.poll() is None:
            events = read_trace(trace)
            if events and any(p == events[0][0] and "+++ exited" in t for p, _, t in events):
                break
            time.sleep(0.05)
    finally:
        subprocess.run(ws.cli(runtime, "delete", "-f", cid), stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
        ws.live.pop()
        try:
            tracer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # create never finished: end the traced init ourselves, by its pid.
            tracer.kill()
            tracer.wait()
            if os.path.exists(pid_file):
                with open(pid_file) as f:
                    os.kill(int(f.read()), 9)
    if not events:
        print(f"{runtime.name}: strace recorded nothing")
        return
    top, t0 = events[0][0], events[0][1]
    end = next(t for p, t, text in events if p == top and "+++ exited" in text)
    print(f"{runtime.name} create under strace: {(end - t0) * 1e3:.1f} ms to its exit "
          f"(strace slows every traced call); consecutive calls of one kind are merged")
    shown = [(p, t, text) for p, t, text in events
             if t <= end and "CLONE_THREAD" not in text and "resumed>" not in text]
    i = 0
    while i < len(shown):
        pid, t, text = shown[i]
        call_name = text.split("(")[0]
        j = i
        while j + 1 < len(shown) and shown[j + 1][0] == pid and shown[j + 1][2].split("(")[0] == call_name:
            j += 1
        if j > i:
            text = f"{call_name} x{j - i + 1}, until +{(shown[j][1] - t0) * 1e3:.2f} ms"
        elif len(text) > 100:
            text = text[:97] + "..."
        print(f"  +{(t - t0) * 1e3:8.2f} ms  {pid:>7}  {text}")
        i = j + 1


def read_trace(path):
    events = []
    if not os.path.exists(path):
        return events
    with open(path) as f:
        for line in f:
            m = re.match(r"(\d+)\s+(\d+\.\d+) (.*)", line)
            if m:
                events.append((int(m[1]), float(m[2]), m[3]))
    return events


def interpreter_floor():
    """Wall time of an interpreter that does nothing: the floor under any Python runtime."""
    for argv in (["/usr/bin/python3", "-I", "-S", "-c", "pass"],
                 ["/opt/pyrunc/bin/python3", "-I", "-S", "-c", "pass"],
                 [IN_TREE, "--version"]):
        if not os.access(argv[0], os.X_OK):
            continue
        times = []
        for _ in range(11):
            t0 = time.perf_counter()
            subprocess.run(argv, stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
            times.append(time.perf_counter() - t0)
        times.sort()
        print(f"  {' '.join(argv):<55} median {times[5] * 1e3:6.1f} ms  min {times[0] * 1e3:6.1f} ms")


def profile(runtimes):
    ws = Workspace(base_config())
    print(f"load before {loadavg()}")
    try:
        # warm-up: .pyc files and page cache, so the profile shows steady-state start-up
        for _ in range(2):
            b, cid = ws.prepare(runtimes[0])
            ws.live.append((runtimes[0], cid))
            call(ws, runtimes[0], "run", "-b", b, cid)
            ws.live.pop()
        print("interpreter start-up, 11 runs:")
        interpreter_floor()
        print()
        import_profile(ws)
        for r in runtimes:
            if r.name in ("pyrunc", BASELINE):
                syscall_timeline(ws, r)
                print()
    finally:
        ws.cleanup()
    print(f"load after {loadavg()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20, help="paired iterations (default 20)")
    ap.add_argument("--runtime", action="append", default=[], metavar="NAME=PATH",
                    help="add a runtime, or replace the default of that name")
    ap.add_argument("--json", metavar="FILE", help="also write the results and all samples as JSON")
    ap.add_argument("--profile", action="store_true",
                    help="import times and a syscall timeline of one pyrunc create, then exit")
    args = ap.parse_args()
    if os.geteuid() != 0:
        ap.error("must run as root")
    if args.runs < 1:
        ap.error("--runs must be >= 1")
    runtimes = default_runtimes()
    try:
        for text in args.runtime:
            extra = parse_runtime(text)
            names = [r.name for r in runtimes]
            if extra.name in names:
                runtimes[names.index(extra.name)] = extra
            else:
                runtimes.append(extra)
    except ValueError as e:
        ap.error(str(e))
    if args.profile:
        profile(runtimes)
        return
    report = benchmark(runtimes, args.runs)
    print_report(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
