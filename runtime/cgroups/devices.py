"""Device access rules: parsing linux.resources.devices and reducing them to one state.

Both drivers start from the same reduction. The rules are applied in order with the
semantics of the v1 devices controller (Documentation/admin-guide/cgroup-v1/devices.rst):
a rule of type "a" resets the default and drops every exception; a rule whose verdict
matches the current default removes access from an exact exception; any other rule
adds an exception. The start state denies everything, and the devices every container
needs are appended last (as runc does), so a config cannot take them away.
"""

from pyrunc.oci.plain import Plain

from .files import CgroupError

WILDCARD = -1


class Rule(Plain):
    _fields = ("allow", "type", "major", "minor", "access")


# Always allowed, after the config's rules: mknod of any node (useless without the
# read/write permission below), the standard character devices and the pty devices.
DEFAULT_RULES = (
    Rule(True, "c", WILDCARD, WILDCARD, "m"),
    Rule(True, "b", WILDCARD, WILDCARD, "m"),
    Rule(True, "c", 1, 3, "rwm"),     # /dev/null
    Rule(True, "c", 1, 5, "rwm"),     # /dev/zero
    Rule(True, "c", 1, 7, "rwm"),     # /dev/full
    Rule(True, "c", 1, 8, "rwm"),     # /dev/random
    Rule(True, "c", 1, 9, "rwm"),     # /dev/urandom
    Rule(True, "c", 5, 0, "rwm"),     # /dev/tty
    Rule(True, "c", 5, 1, "rwm"),     # /dev/console
    Rule(True, "c", 5, 2, "rwm"),     # /dev/ptmx
    Rule(True, "c", 136, WILDCARD, "rwm"),  # /dev/pts/*
)

_ACCESS_ORDER = "rwm"


def _norm_access(access, where):
    access = "rwm" if access is None else access
    if not isinstance(access, str) or any(ch not in "rwm" for ch in access):
        raise CgroupError(f"cgroup: {where}.access: {access!r}: must be letters of \"rwm\"")
    return "".join(ch for ch in _ACCESS_ORDER if ch in access)


def parse_rules(devices):
    """linux.resources.devices as Rules; "u" (unbuffered char) is a char device."""
    rules = []
    for i, d in enumerate(devices or ()):
        where = f"linux.resources.devices[{i}]"
        if not isinstance(d, dict) or not isinstance(d.get("allow"), bool):
            raise CgroupError(f"cgroup: {where}.allow: must be true or false")
        kind = d.get("type") or "a"
        if kind == "u":
            kind = "c"
        if kind not in ("a", "b", "c"):
            raise CgroupError(f"cgroup: {where}.type: {kind!r}: must be a, b or c")
        numbers = []
        for key in ("major", "minor"):
            v = d.get(key)
            if v is None or v == WILDCARD:
                numbers.append(WILDCARD)
            elif isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 32:
                numbers.append(v)
            else:
                raise CgroupError(f"cgroup: {where}.{key}: {v!r}: must be a device number")
        rules.append(Rule(d["allow"], kind, numbers[0], numbers[1], _norm_access(d.get("access"), where)))
    return rules


class DeviceState:
    """The reduced rule set: a default verdict and exceptions keyed by (type, major, minor)."""

    def __init__(self):
        self.default_allow = False
        self.exceptions = {}

    def apply(self, rule):
        if rule.type == "a":
            # The kernel treats any "a" rule as "a *:* rwm": a reset.
            self.default_allow = rule.allow
            self.exceptions = {}
            return
        key = (rule.type, rule.major, rule.minor)
        have = self.exceptions.get(key, "")
        if rule.allow == self.default_allow:
            left = "".join(ch for ch in have if ch not in rule.access)
            if left:
                self.exceptions[key] = left
            else:
                self.exceptions.pop(key, None)
        else:
            self.exceptions[key] = "".join(ch for ch in _ACCESS_ORDER if ch in have + rule.access)

    def rules(self):
        """The exceptions as Rules whose verdict is the opposite of the default."""
        return [Rule(not self.default_allow, t, ma, mi, acc)
                for (t, ma, mi), acc in self.exceptions.items()]


def reduce(devices):
    """The DeviceState for a config's device list plus the always-allowed devices."""
    state = DeviceState()
    for rule in list(parse_rules(devices)) + list(DEFAULT_RULES):
        state.apply(rule)
    return state


def rule_text(rule):
    """The v1 devices.allow/deny line, e.g. "c 1:3 rwm" or "c 136:* rwm"."""
    major = "*" if rule.major == WILDCARD else str(rule.major)
    minor = "*" if rule.minor == WILDCARD else str(rule.minor)
    return f"{rule.type} {major}:{minor} {rule.access}"
