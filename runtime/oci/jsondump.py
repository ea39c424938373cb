"""Write JSON as json.dumps does, without importing `json`.

The json package imports `re` and, through it, `enum`: 8-10 ms on this
runtime's machines, more than the whole of `pyrunc state` needs otherwise, and
engines call `state` (and `kill`, and hooks get the state on stdin) all the
time.  Strings are escaped by `_json`'s own C function, the one json.dumps
uses; the rest is the small part of the encoder the runtime's documents need:
dicts with string keys, lists and tuples, strings, integers, floats, booleans
and None.  The output is byte for byte json.dumps's with the same indent and
separators (tests/unit/test_jsondump.py compares them).
"""

from _json import encode_basestring_ascii as _string


def dumps(value, indent=None, separators=None):
    """json.dumps(value, indent=indent, separators=separators), for plain data."""
    if separators is None:
        separators = (", ", ": ") if indent is None else (",", ": ")
    if isinstance(indent, int) and not isinstance(indent, bool):
        indent = " " * indent
    out = []
    _encode(value, out, indent, separators[0], separators[1], 0)
    return "".join(out)


def _encode(value, out, indent, item_sep, key_sep, level):
    if isinstance(value, str):
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        sep, end = _layout(indent, item_sep, level)
        out.append("{" + sep[len(item_sep):])
        first = True
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"keys must be str, not {type(k).__name__}")
            if not first:
                out.append(sep)
            first = False
            out.append(_string(k) + key_sep)
            _encode(v, out, indent, item_sep, key_sep, level + 1)
        out.append(end + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        sep, end = _layout(indent, item_sep, level)
        out.append("[" + sep[len(item_sep):])
        for i, v in enumerate(value):
            if i:
                out.append(sep)
            _encode(v, out, indent, item_sep, key_sep, level + 1)
        out.append(end + "]")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _layout(indent, item_sep, level):
    """(separator between items, text before the closing bracket)."""
    if indent is None:
        return item_sep, ""
    inner = "\n" + indent * (level + 1)
    return item_sep + inner, "\n" + indent * level


def _float(value):
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)
