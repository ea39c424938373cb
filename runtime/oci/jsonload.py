"""Parse JSON with the standard library's own C scanner, without importing `json`.

json/decoder.py compiles regular expressions when imported, which brings in
`re` and, through it, `enum`: measured at 5-10 ms of every `create`, more than
parsing a config takes.  The parsing itself is done by `_json`'s scanner, which
the json package wraps; this module is the small part of that wrapping the
runtime needs (a value, surrounded by whitespace, and nothing else).
"""

import _json


class _Context:
    # The attributes _json.make_scanner reads, with json.loads' defaults,
    # except that NaN and Infinity (not JSON) are refused.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name):
        raise ValueError(f"{name} is not valid JSON")


_scan = _json.make_scanner(_Context)
_WHITESPACE = " \t\n\r"


def loads(text):
    """Like json.loads; raises ValueError (json.JSONDecodeError on syntax
    errors: the json package is imported on that path only)."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8-sig" if text[:3] == b"\xef\xbb\xbf" else "utf-8")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as e:
        raise ValueError(f"expecting a value at character {e.value}") from None
    except SystemError:
        # _json reports a syntax error through json.decoder.JSONDecodeError,
        # looked up in sys.modules only: on this (error) path, load the json
        # package and let it raise the error with its position.
        import json
        json.loads(text)
        raise
    rest = text[end:].lstrip(_WHITESPACE)
    if rest:
        raise ValueError(f"extra data at character {len(text) - len(rest)}")
    return value
