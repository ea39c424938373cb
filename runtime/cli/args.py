"""A small table-driven argument parser with runc's (urfave/cli) conventions.

Long flags take one or two dashes (`-root x`, `--root=x`); short aliases one;
booleans accept `--flag=true|false`. It exists because argparse imports `re`,
`gettext` and friends, which costs more start-up than the whole create path.
"""

from pyrunc.errors import PyruncError


class UsageError(PyruncError):
    pass


class Flag:
    """kind: "bool", "str", "int" or "list" (repeatable)."""

    __slots__ = ("names", "dest", "kind", "default", "help", "metavar")

    def __init__(self, names, kind="bool", default=None, help="", dest=None, metavar="value"):
        self.names = names.split(",")
        self.dest = dest or self.names[0].replace("-", "_")
        self.kind = kind
        if default is None:
            default = {"bool": False, "list": []}.get(kind)
        self.default = default
        self.help = help
        self.metavar = metavar


class Command:
    __slots__ = ("name", "flags", "usage", "help", "min_args", "max_args", "stop_at_positional",
                 "handler")

    def __init__(self, name, handler, flags=(), usage="", help="", min_args=0, max_args=0,
                 stop_at_positional=False):
        self.name = name
        self.handler = handler
        self.flags = list(flags)
        self.usage = usage
        self.help = help
        self.min_args = min_args
        self.max_args = max_args  # None: unlimited
        self.stop_at_positional = stop_at_positional


class Namespace:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self):
        return f"Namespace({self.__dict__!r})"


_TRUE = {"true": True, "1": True, "t": True, "false": False, "0": False, "f": False}


def _convert(flag, value, context):
    if flag.kind == "int":
        try:
            return int(value, 0)
        except ValueError:
            raise UsageError(f"invalid value {value!r} for flag -{flag.names[0]}{context}") from None
    return value


def parse(flags, argv, context="", stop_at_positional=False, allow_command=False):
    """Parse argv against flags.  Returns (Namespace, positional args).

    allow_command: stop at the first positional (the command name) and return
    the rest untouched.
    """
    table = {}
    for f in flags:
        for n in f.names:
            table[n] = f
    ns = Namespace(**{f.dest: (list(f.default) if f.kind == "list" else f.default) for f in flags})
    ns.help = False
    positional = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positional.extend(argv[i:])
            break
        if len(arg) < 2 or arg[0] != "-" or (positional and stop_at_positional):
            positional.append(arg)
            if allow_command or stop_at_positional:
                positional.extend(argv[i:])
                break
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        if name in ("h", "help"):
            ns.help = True
            continue
        flag = table.get(name)
        if flag is None:
            raise UsageError(f"flag provided but not defined: -{name}{context}")
        if flag.kind == "bool":
            if eq:
                if value.lower() not in _TRUE:
                    raise UsageError(f"invalid boolean value {value!r} for -{name}{context}")
                setattr(ns, flag.dest, _TRUE[value.lower()])
            else:
                setattr(ns, flag.dest, True)
            continue
        if not eq:
            if i >= len(argv):
                raise UsageError(f"flag needs an argument: -{name}{context}")
            value = argv[i]
            i += 1
        value = _convert(flag, value, context)
        if flag.kind == "list":
            getattr(ns, flag.dest).append(value)
        else:
            setattr(ns, flag.dest, value)
    return ns, positional


def format_flags(flags):
    lines = []
    for f in flags:
        names = ", ".join(("--" if len(n) > 1 else "-") + n + ("" if f.kind == "bool" else f" {f.metavar}")
                          for n in f.names)
        lines.append(f"   {names:<34} {f.help}")
    return "\n".join(lines)
