"""pyrunc's command line: argv -> one library call -> output and exit code.

The only place that prints, reads argv or picks an exit code.
"""

import os
import sys

from pyrunc import __version__
from pyrunc.cli.args import Flag, UsageError, format_flags, parse
from pyrunc.errors import PyruncError

GLOBAL_FLAGS = [
    Flag("root", "str", "/run/pyrunc", "root directory for storage of container state"),
    Flag("log", "str", "", "set the log file to write pyrunc logs to (default is stderr)"),
    Flag("log-format", "str", "text", "set the log format ('text' (default), or 'json')"),
    Flag("debug", help="enable debug logging"),
    Flag("systemd-cgroup", help="enable systemd cgroup support (not supported yet)"),
    Flag("rootless", "str", "auto", "ignore cgroup permission errors ('true', 'false', or 'auto')"),
    Flag("criu", "str", "criu", "path to the criu binary (checkpoint/restore is not supported)"),
    Flag("version,v", help="print the version"),
]


class Log:
    """runc-compatible logging: text `time=... level=... msg=...` or JSON lines
    `{"level","msg","time"}` to --log (engines read the last error line there)."""

    def __init__(self, path="", fmt="text", debug=False):
        self.path = path
        self.fmt = fmt
        self.debug_on = debug

    def _write(self, level, msg):
        import time
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if self.fmt == "json":
            from pyrunc.oci.jsondump import dumps
            line = dumps({"level": level, "msg": msg, "time": now}) + "\n"
        else:
            line = f'time="{now}" level={level} msg="{msg}"\n'
        if self.path:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
                try:
                    os.write(fd, line.encode())
                finally:
                    os.close(fd)
                return
            except OSError:
                pass
        sys.stderr.write(line)

    def error(self, msg):
        if self.path:
            self._write("error", msg)
        sys.stderr.write(f"pyrunc: {msg}\n")

    def warning(self, msg):
        self._write("warning", msg)

    def debug(self, msg):
        if self.debug_on:
            self._write("debug", msg)


def _commands():
    from pyrunc.cli import commands
    return commands


def usage(cmds):
    lines = ["NAME:", "   pyrunc - an OCI container runtime", "", "USAGE:",
             "   pyrunc [global options] command [command options] [arguments...]", "",
             "COMMANDS:"]
    for name, c in cmds.items():
        lines.append(f"   {name:<10} {c.help}")
    lines += ["", "GLOBAL OPTIONS:", format_flags(GLOBAL_FLAGS)]
    return "\n".join(lines) + "\n"


def command_usage(c):
    return (f"NAME:\n   pyrunc {c.name} - {c.help}\n\nUSAGE:\n   pyrunc {c.name} [command options] "
            f"{c.usage}\n\nOPTIONS:\n{format_flags(c.flags)}\n")


def version_text():
    from pyrunc import OCI_VERSION
    return (f"pyrunc version {__version__}\ncommit: {__version__}\nspec: {OCI_VERSION}\n"
            f"python: {sys.version.split()[0]}\n")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    log = Log()
    try:
        g, rest = parse(GLOBAL_FLAGS, argv, allow_command=True)
        if g.log_format not in ("text", "json"):
            raise UsageError(f"invalid log-format: {g.log_format}")
        log = Log(g.log, g.log_format, g.debug)
        if g.version:
            sys.stdout.write(version_text())
            return 0
        cmds = _commands()
        if g.help or not rest:
            sys.stdout.write(usage(cmds.all_commands()))
            return 0 if g.help else 1
        if g.systemd_cgroup:
            raise PyruncError("--systemd-cgroup: the systemd cgroup driver is not supported yet")
        name = rest[0]
        c = cmds.command(name)
        if c is None:
            raise UsageError(f"no such command: {name}")
        opts, args = parse(c.flags, rest[1:], context=f" (in {name})",
                           stop_at_positional=c.stop_at_positional)
        if opts.help:
            sys.stdout.write(command_usage(c))
            return 0
        if len(args) < c.min_args or (c.max_args is not None and len(args) > c.max_args):
            raise UsageError(f"{name}: expected {c.usage}; see 'pyrunc {name} --help'")
        log.debug(f"{name} {' '.join(args)}")
        return c.handler(g, opts, args, log) or 0
    except PyruncError as e:
        log.error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        # An unexpected system error: still one line, with the call and path.
        msg = e.strerror or str(e)
        if e.filename:
            msg = f"{msg}: {e.filename}"
        log.error(msg.lower() if msg[:1].isupper() else msg)
        return 1
    except Exception as e:  # noqa: BLE001 - a bug still reaches the user as one line
        if log.debug_on:
            import traceback
            log.debug(traceback.format_exc().replace("\n", " | "))
        log.error(f"internal error: {e.__class__.__name__}: {e}")
        return 1


def run_and_exit(argv=None):
    """The launchers' entry: main(), then leave without interpreter finalization.

    Tearing down the modules a create loads (ctypes above all) costs 5-10 ms per
    call; nothing of ours needs it: every file is written through `with` or
    os.write, and stdio is flushed here.
    """
    # No cyclic garbage collection in a short-lived command: a create runs a
    # dozen collections over objects that all live until exit.  Long waits
    # (`run` in the foreground, `events`) switch it back on.
    import gc
    gc.disable()
    code = main(argv)
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        code = code or 1
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)

