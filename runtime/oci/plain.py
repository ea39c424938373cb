"""Plain data records for the plan objects, without the dataclasses module.

The parent builds its plan from these on every create; `dataclasses` pulls in
`inspect` (with ast, dis, tokenize...) and exec()s generated code per class,
measured at 5-20 ms of CPU per start on the test machines.  The plan objects
only need construction by position or keyword, defaults, equality, a repr and
unpacking.  They also stand in for collections.namedtuple, whose import (with
operator, keyword, reprlib) and per-type set-up cost more than a millisecond.
"""

_FACTORIES = (list, dict, set)


class Plain:
    """Subclasses name their fields in `_fields` and defaults in `_defaults`
    (list, dict or set as a default means a fresh empty one)."""

    _fields = ()
    _defaults = {}

    def __init__(self, *args, **kw):
        if len(args) > len(self._fields):
            raise TypeError(f"{type(self).__name__}: too many arguments")
        values = dict(zip(self._fields, args))
        for k, v in kw.items():
            if k not in self._fields or k in values:
                raise TypeError(f"{type(self).__name__}: bad argument {k!r}")
            values[k] = v
        for name in self._fields:
            if name not in values:
                if name not in self._defaults:
                    raise TypeError(f"{type(self).__name__}: missing {name!r}")
                d = self._defaults[name]
                values[name] = d() if d in _FACTORIES else d
        self.__dict__.update(values)

    def __iter__(self):
        # Unpacking by field order, as for the tuples some records replace.
        return iter([self.__dict__[k] for k in self._fields])

    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __repr__(self):
        inner = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._fields)
        return f"{type(self).__name__}({inner})"
