"""exec and features."""

import sys

from pyrunc.cli.args import Command, Flag, UsageError
from pyrunc.errors import PyruncError

EXEC_FLAGS = [
    Flag("process,p", "str", "", "path to the process.json"),
    Flag("tty,t", help="allocate a pseudo-TTY"),
    Flag("console-socket", "str", "", "path to an AF_UNIX socket which will receive the pty master"),
    Flag("detach,d", help="detach from the container's process"),
    Flag("pid-file", "str", "", "specify the file to write the process id to"),
    Flag("cwd", "str", "", "current working directory in the container"),
    Flag("env,e", "list", help="set environment variables"),
    Flag("user,u", "str", "", "UID (format: <uid>[:<gid>])"),
    Flag("additional-gids,g", "list", help="additional gids"),
    Flag("cap,c", "list", help="add a capability to the bounding set for the process"),
    Flag("no-new-privs", help="set the no new privileges value for the process"),
    Flag("apparmor", "str", "", "set the apparmor profile for the process"),
    Flag("process-label", "str", "", "set the asm process label for the process"),
    Flag("preserve-fds", "int", 0, "pass N additional file descriptors to the container"),
    Flag("cgroup", "list", help="run the process in an (existing) sub-cgroup: [<controller>:]<cgroup>"),
    Flag("ignore-paused", help="allow exec in a paused container"),
]

# runc's exit status for an exec that could not be started.
EXEC_FAILED = 255


def cmd_exec(g, opts, args, log):
    try:
        return _exec(g, opts, args, log)
    except PyruncError as e:
        # runc's words and status for every exec that did not start.
        err = PyruncError(f"exec failed: {e}")
    except OSError as e:
        msg = e.strerror or str(e)
        err = PyruncError(f"exec failed: {msg[:1].lower()}{msg[1:]}"
                          + (f": {e.filename}" if e.filename else ""))
    err.exit_code = EXEC_FAILED
    raise err


def _exec(g, opts, args, log):
    from pyrunc.exec import ExecOptions, exec_process
    cid, command = args[0], args[1:]
    if command[:1] == ["--"]:
        command = command[1:]
    if not opts.process and not command:
        raise UsageError("args must not be empty: expected <container-id> <command> [args...] "
                         "or --process")
    if opts.preserve_fds < 0:
        raise UsageError("--preserve-fds: must be >= 0")
    o = ExecOptions()
    o.process = opts.process or None
    o.args = command
    o.tty = opts.tty
    o.console_socket = opts.console_socket or None
    o.detach = opts.detach
    o.pid_file = opts.pid_file or None
    o.cwd = opts.cwd or None
    o.env = opts.env
    o.user = opts.user or None
    o.additional_gids = opts.additional_gids
    o.caps = opts.cap
    o.no_new_privs = True if opts.no_new_privs else None
    o.apparmor = opts.apparmor or None
    o.process_label = opts.process_label or None
    o.preserve_fds = opts.preserve_fds
    o.cgroup = opts.cgroup
    o.ignore_paused = opts.ignore_paused
    o.warn = log.warning
    return exec_process(g.root, cid, o)


def cmd_features(g, opts, args, log):
    from pyrunc.features import features
    from pyrunc.oci.jsondump import dumps
    sys.stdout.write(dumps(features(), indent="    ") + "\n")


COMMANDS = {
    "exec": Command("exec", cmd_exec, EXEC_FLAGS, "<container-id> <command> [command options]",
                    "execute new process inside the container", 1, None, stop_at_positional=True),
    "features": Command("features", cmd_features, [], "", "show the enabled features", 0, 0),
}
