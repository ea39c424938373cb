"""One handler per verb: parse what argv gave, call the library once, print."""

import os
import sys

from pyrunc.cli.args import Command, Flag, UsageError
from pyrunc.errors import ContainerNotFound, PyruncError

CREATE_FLAGS = [
    Flag("bundle,b", "str", ".", "path to the root of the bundle directory"),
    Flag("console-socket", "str", "", "path to an AF_UNIX socket which will receive the pty master"),
    Flag("pid-file", "str", "", "specify the file to write the process id to"),
    Flag("no-pivot", help="do not use pivot root to jail process inside rootfs"),
    Flag("no-new-keyring", help="do not create a new session keyring for the container"),
    Flag("preserve-fds", "int", 0, "pass N additional file descriptors to the container"),
]
RUN_FLAGS = CREATE_FLAGS + [
    Flag("detach,d", help="detach from the container's process"),
    Flag("keep", help="do not delete the container after it exits"),
    Flag("no-subreaper", help="accepted for compatibility"),
]


def _options(opts, global_opts, log=None):
    from pyrunc.container import Options
    o = Options()
    o.warn = log.warning if log else None
    o.bundle = opts.bundle
    o.pid_file = opts.pid_file or None
    o.console_socket = opts.console_socket or None
    o.no_pivot = opts.no_pivot
    o.no_new_keyring = opts.no_new_keyring
    o.preserve_fds = opts.preserve_fds
    if o.preserve_fds < 0:
        raise UsageError("--preserve-fds: must be >= 0")
    o.detach = getattr(opts, "detach", False)
    o.keep = getattr(opts, "keep", False)
    o.rootless = global_opts.rootless == "true"
    return o


def _bundle_and_id(opts, args):
    """`pyrunc run mybundle`: with no --bundle, a directory holding config.json
    is the bundle and its name is the container id."""
    cid = args[0]
    if opts.bundle == "." and os.path.isfile(os.path.join(cid, "config.json")):
        opts.bundle = cid
        cid = os.path.basename(os.path.abspath(cid))
    return cid


def cmd_create(g, opts, args, log):
    from pyrunc.lifecycle import create
    cid = _bundle_and_id(opts, args)
    container, _ = create(g.root, cid, _options(opts, g, log))
    container.close()


def cmd_run(g, opts, args, log):
    from pyrunc.lifecycle import run
    cid = _bundle_and_id(opts, args)
    return run(g.root, cid, _options(opts, g, log))


def cmd_state(g, opts, args, log):
    from pyrunc.container import Container
    c = Container.load(g.root, args[0], exclusive=False)
    try:
        st = c.oci_state()
    finally:
        c.close()
    from pyrunc.oci.jsondump import dumps
    sys.stdout.write(dumps(st, indent="  ") + "\n")


def cmd_list(g, opts, args, log):
    from pyrunc.container import list_containers
    items = list_containers(g.root)
    if opts.quiet:
        sys.stdout.write("".join(s["id"] + "\n" for s in items))
    elif opts.format == "json":
        from pyrunc.oci.jsondump import dumps
        sys.stdout.write(dumps(items or None) + "\n")
    elif opts.format == "table":
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"] or "root")
                 for s in items]
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for r in rows:
            sys.stdout.write("".join(v.ljust(w + 3) for v, w in zip(r[:-1], widths)) + r[-1] + "\n")
    else:
        raise UsageError(f"invalid format option: {opts.format}")


def parse_signal(text):
    """SIGTERM, TERM, term or 15, as runc accepts them."""
    if text.isdigit():
        num = int(text)
        if 0 < num < 65:
            return num
    else:
        # The C module's constants: signal.py builds an enum of them, which
        # costs `kill` more than the rest of it.
        import _signal
        name = text.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        num = getattr(_signal, name, None) if "_" not in name else None
        if isinstance(num, int) and 0 < num < 65:
            return num
    raise PyruncError(f"unknown signal {text!r}")


def cmd_kill(g, opts, args, log):
    from pyrunc.container import Container
    from pyrunc.container import SIGTERM
    sig = parse_signal(args[1]) if len(args) > 1 else SIGTERM
    c = Container.load(g.root, args[0])
    try:
        c.kill(sig, all=opts.all)
    finally:
        c.close()


def cmd_delete(g, opts, args, log):
    from pyrunc.container import Container
    for cid in args:
        try:
            c = Container.load(g.root, cid)
        except ContainerNotFound:
            if opts.force:
                continue  # engines call delete then delete --force: gone is fine
            raise
        c.delete(force=opts.force, warn=log.warning)


def _on_container(verb):
    """A handler that loads the container named by the first argument and calls
    one of its verbs (start, pause, resume: no options, no output)."""
    def handler(g, opts, args, log):
        from pyrunc.container import Container
        c = Container.load(g.root, args[0])
        try:
            getattr(c, verb)()
        finally:
            c.close()
    return handler


cmd_pause = _on_container("pause")
cmd_resume = _on_container("resume")


def cmd_spec(g, opts, args, log):
    from pyrunc.oci.defaults import default_spec
    path = os.path.join(opts.bundle, "config.json")
    if os.path.exists(path):
        raise PyruncError(f"{path}: file exists: remove it first")
    from pyrunc.oci.jsondump import dumps
    spec = default_spec(rootless=opts.rootless, uid=os.getuid(), gid=os.getgid())
    with open(path, "x") as f:
        f.write(dumps(spec, indent="\t") + "\n")


def cmd_check(g, opts, args, log):
    from pyrunc.container import load_config
    from pyrunc.oci.validate import check
    bundle = args[0] if args else "."
    config = load_config(bundle)
    problems = check(config, "config.json", os.path.abspath(bundle))
    for p in problems:
        sys.stdout.write(f"{p}\n")
    if problems:
        raise PyruncError(f"{bundle}: {len(problems)} problem{'s' if len(problems) > 1 else ''} found")
    sys.stdout.write(f"{bundle}: ok\n")


COMMANDS = {
    "create": Command("create", cmd_create, CREATE_FLAGS, "<container-id>", "create a container",
                      1, 1),
    "start": Command("start", _on_container("start"), [], "<container-id>",
                     "start a created container", 1, 1),
    "run": Command("run", cmd_run, RUN_FLAGS, "<container-id>", "create and start a container",
                   1, 1),
    "state": Command("state", cmd_state, [], "<container-id>", "output the state of a container",
                     1, 1),
    "list": Command("list", cmd_list, [Flag("format,f", "str", "table", "table or json"),
                                       Flag("quiet,q", help="display only container IDs")],
                    "", "list containers started by pyrunc with the given root", 0, 0),
    "kill": Command("kill", cmd_kill, [Flag("all,a", help="send the signal to all processes")],
                    "<container-id> [signal]", "send a signal to the container's init process",
                    1, 2),
    "delete": Command("delete", cmd_delete, [Flag("force,f", help="kill and delete a running container")],
                      "<container-id>...", "delete a container and everything it holds", 1, None),
    "pause": Command("pause", cmd_pause, [], "<container-id>", "suspend all processes", 1, 1),
    "resume": Command("resume", cmd_resume, [], "<container-id>", "resume all processes", 1, 1),
    "spec": Command("spec", cmd_spec, [Flag("bundle,b", "str", ".", "path to the bundle"),
                                       Flag("rootless", help="a spec for a rootless container")],
                    "", "create a new specification file", 0, 0),
    "check": Command("check", cmd_check, [], "[bundle]", "validate a bundle and list every problem",
                     0, 1),
}


# Commands defined in the other modules of this package, loaded only when one
# of them is named (or all are listed): a create need not load exec's code.
ELSEWHERE = {"update": "ops", "ps": "ops", "events": "ops", "exec": "execute",
             "features": "execute"}


def command(name):
    """The Command called NAME, or None."""
    if name not in COMMANDS and name in ELSEWHERE:
        module = __import__(f"pyrunc.cli.{ELSEWHERE[name]}", fromlist=["COMMANDS"])
        COMMANDS.update(module.COMMANDS)
    return COMMANDS.get(name)


def all_commands():
    for name in ELSEWHERE:
        command(name)
    return COMMANDS
