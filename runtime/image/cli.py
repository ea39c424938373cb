"""pyrunc-unpack's command line: argv -> unpack() -> exit status.

The only place in the image tool that prints: progress (on a terminal),
warnings, and the one-line error before exit status 1.
"""

import argparse
import signal
import sys
import time

from pyrunc.errors import PyruncError

PROG = "pyrunc-unpack"


class _Progress:
    """Per-layer byte counts on one rewritten line, at most ten times a second."""

    def __init__(self, stream):
        self.stream = stream
        self.last = 0.0
        self.label = None

    def __call__(self, label, done, total):
        now = time.monotonic()
        final = total is not None and done >= total
        if label == self.label and now - self.last < 0.1 and not final:
            return
        if label != self.label and self.label is not None:
            self.stream.write("\n")
        self.label, self.last = label, now
        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        self.stream.write(f"\r{label}: {size}")
        self.stream.flush()

    def end(self):
        if self.label is not None:
            self.stream.write("\n")
            self.stream.flush()


def _parser():
    p = argparse.ArgumentParser(
        prog=PROG, description="Unpack an OCI or Docker image into an OCI runtime bundle.")
    p.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                   help="platform to select from an image index (default: this host's)")
    p.add_argument("--insecure", action="store_true",
                   help="registry: allow plain http and unverified tls")
    p.add_argument("--rootless", action="store_true",
                   help="unpack as an unprivileged user and write a rootless config")
    p.add_argument("--tty", action="store_true", help="set process.terminal in config.json")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("source", metavar="SOURCE",
                   help="oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:NAME:TAG], "
                        "docker://[HOST[:PORT]/]REPO[:TAG|@DIGEST], or a path")
    p.add_argument("bundle", metavar="BUNDLE")
    return p


def _terminate(signum, frame):
    # Unwind like Ctrl-C so that the half-made bundle is removed.
    raise KeyboardInterrupt


def main(argv=None):
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    from pyrunc.image.unpack import unpack
    progress = _Progress(sys.stderr) if sys.stderr.isatty() and not args.quiet else None

    def warn(msg):
        if progress:
            progress.end()
            progress.label = None
        print(f"{PROG}: warning: {msg}", file=sys.stderr)

    try:
        unpack(args.source, args.bundle, platform=args.platform, insecure=args.insecure,
               rootless=args.rootless, tty=args.tty, progress=progress, warn=warn)
    except PyruncError as e:
        if progress:
            progress.end()
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if progress:
            progress.end()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    if progress:
        progress.end()
    return 0
