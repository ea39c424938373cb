"""v1 devices controller: the reduced rule set written to devices.deny/devices.allow.

The reset goes first: "a" on devices.deny drops every exception and denies all, then
each allowed device is added; the container is never more permissive than its target.
"""

from .. import files
from ..devices import reduce, rule_text


def apply(path, devices):
    state = reduce(devices)
    if state.default_allow:
        files.write(path, "devices.allow", "a")
        target = "devices.deny"
    else:
        files.write(path, "devices.deny", "a")
        target = "devices.allow"
    for rule in state.rules():
        files.write(path, target, rule_text(rule))
