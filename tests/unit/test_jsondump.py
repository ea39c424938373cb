"""pyrunc.oci.jsondump against json.dumps: the same bytes for the same data,
indent and separators, and the same refusals."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrunc.oci.jsondump import dumps

LAYOUTS = [dict(), dict(indent="  "), dict(indent="\t"), dict(indent=4),
           dict(separators=(",", ":")), dict(indent="    ", separators=(",", ": "))]

scalars = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=False) | st.text())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.tuples(inner, inner)
                      | st.dictionaries(st.text(), inner, max_size=5), max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(values)
def test_same_as_json_dumps(value):
    for layout in LAYOUTS:
        assert dumps(value, **layout) == json.dumps(value, **layout)


@pytest.mark.parametrize("value", [
    {}, [], {"a": {}}, {"a": []}, [[[]]], "é\u2028\x00\"\\", {"état": ["ü", 1.5, -0.0, 1e300]},
    {"ociVersion": "1.3.0", "id": "c", "status": "created", "pid": 42, "annotations": {}},
    float("nan"), float("inf"), float("-inf"), [math.pi, 10**20, True, False, None],
])
def test_documents(value):
    for layout in LAYOUTS:
        assert dumps(value, **layout) == json.dumps(value, **layout)


@pytest.mark.parametrize("bad", [{1: "int key"}, {"set": {1, 2}}, object(), b"bytes"])
def test_refuses_what_it_cannot_write(bad):
    with pytest.raises(TypeError):
        dumps(bad)
