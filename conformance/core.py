"""Test registry and outcomes.

A case is a function of one argument, the per-run context (see ``context.Ctx``),
registered with ``@case``.  It passes by returning, fails by raising ``Fail``
(``ctx.check`` and friends do that) and skips only by raising ``Skip`` with a
reason that names what the host or the runtime lacks.  Any other exception is a
failure too: a runtime that crashes the check has not shown the behaviour.
"""
from dataclasses import dataclass, field

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


class Fail(Exception):
    """The runtime did not do what the cited sentence requires."""


class Skip(Exception):
    """The check cannot run here; the message says why."""


@dataclass(frozen=True)
class Case:
    name: str               # dotted, e.g. "lifecycle.start.twice"
    func: object
    spec_file: str          # e.g. "runtime.md"
    quote: str              # the sentence checked, shortened
    level: str = "MUST"     # MUST or SHOULD, as the sentence says


@dataclass
class Outcome:
    status: str
    message: str = ""
    seconds: float = 0.0
    log: list = field(default_factory=list)


CASES = []


def case(name, spec_file, quote, level="MUST"):
    """Register ``func`` as the check of ``quote`` from ``spec_file``."""
    def register(func):
        if any(c.name == name for c in CASES):
            raise ValueError(f"duplicate case name {name}")
        CASES.append(Case(name, func, spec_file, quote, level))
        return func
    return register
