"""python3 -m conformance --runtime PATH [--runtime PATH ...] [-k PATTERN] [--junit FILE] [-j N]"""
import argparse
import os
import signal
import sys

from . import report
from .runner import Run, select


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m conformance",
                                 description="OCI runtime-spec conformance checks, per runtime binary")
    ap.add_argument("--runtime", action="append", default=[], metavar="PATH",
                    help="runtime binary to test (repeatable)")
    ap.add_argument("-k", dest="pattern", metavar="PATTERN",
                    help="run cases whose name contains PATTERN (comma-separated; 'not X' excludes)")
    ap.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    ap.add_argument("-j", dest="jobs", type=int, default=1, metavar="N", help="parallel cases")
    ap.add_argument("--timeout", type=float, default=20, metavar="SECONDS",
                    help="limit on each runtime call (default 20)")
    ap.add_argument("-v", dest="verbose", action="store_true", help="show every runtime call")
    ap.add_argument("--list", action="store_true", help="list the cases and the sentence each checks")
    args = ap.parse_args(argv)

    cases = select(args.pattern)
    if args.list:
        for c in cases:
            print(f"{c.name}  [{c.spec_file} {c.level}] {c.quote}")
        print(f"{len(cases)} cases")
        return 0
    if not args.runtime:
        ap.error("at least one --runtime PATH is required")
    if os.geteuid() != 0:
        ap.error("the checks create containers: run as root")
    if not cases:
        ap.error(f"no case matches {args.pattern!r}")

    notes = []
    run = Run(args.runtime, args.jobs, notes, args.timeout)
    for n in notes:
        print(n, flush=True)

    def stop(signum, frame):
        # Cases already running finish and clean up (every runtime call has a
        # timeout); the rest are reported as skipped.
        run.stopping = True
        print("interrupted: finishing the running cases", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    total = len(cases) * len(run.runtimes)
    done = []

    def progress(case, rt, outcome):
        done.append(1)
        if sys.stderr.isatty():
            print(f"\r[{len(done)}/{total}] {case.name} {rt.name} {outcome.status}\033[K",
                  end="", file=sys.stderr, flush=True)

    try:
        results = run.execute(cases, progress)
    finally:
        run.close()
    if sys.stderr.isatty():
        print(file=sys.stderr)
    lines = report.table(cases, run.runtimes, results, args.verbose)
    if args.junit:
        report.junit(cases, run.runtimes, results, args.junit)
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
