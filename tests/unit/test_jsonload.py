"""The json-free config parser agrees with json.loads."""

import glob
import json
import os
import subprocess
import sys

import pytest

from pyrunc.oci import jsonload

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = sorted(glob.glob(os.path.join(HERE, "..", "data", "configs", "*", "*.json")))


@pytest.mark.parametrize("path", CORPUS, ids=os.path.basename)
def test_agrees_with_json_on_the_config_corpus(path):
    with open(path, "rb") as f:
        data = f.read()
    assert jsonload.loads(data) == json.loads(data)


@pytest.mark.parametrize("text", ['{"a": [1, 2.5, -3e2, true, false, null, "\\u00e9\\n"]}',
                                  '  [ ]  ', '"x"', '0', '\ufeff{}'.encode("utf-8").decode("utf-8")[1:],
                                  '{"nested": {"k": {"k2": [[{}]]}}}'])
def test_values(text):
    assert jsonload.loads(text) == json.loads(text)


@pytest.mark.parametrize("text", ["", "   ", "{", '{"a": 1} x', "[1,]", "{'a': 1}", "NaN",
                                  '{"a": Infinity}', '"\x01"', "[1] [2]"])
def test_invalid_json_is_a_value_error(text):
    with pytest.raises(ValueError):
        jsonload.loads(text)


def test_bytes_with_bom():
    assert jsonload.loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


def test_does_not_import_json_or_re():
    code = ("import sys; sys.path.insert(0, %r); import conftest; "
            "from pyrunc.oci import jsonload; jsonload.loads('{\"a\": [1]}'); "
            "print(sorted(m for m in ('json', 're', 'enum') if m in sys.modules))") % os.path.dirname(HERE)
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
