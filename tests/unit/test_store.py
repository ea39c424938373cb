"""The state directory."""

import pytest

from pyrunc import store
from pyrunc.errors import ContainerExists, ContainerNotFound, PyruncError


def test_create_open_remove(tmp_path):
    root = str(tmp_path / "root")
    d = store.create(root, "abc")
    d.write_state({"id": "abc", "pid": 1})
    d.close()
    with pytest.raises(ContainerExists):
        store.create(root, "abc")
    d = store.open_dir(root, "abc")
    assert d.read_state() == {"id": "abc", "pid": 1}
    assert store.list_ids(root) == ["abc"]
    d.remove()
    with pytest.raises(ContainerNotFound, match="container abc does not exist"):
        store.open_dir(root, "abc")
    assert store.list_ids(root) == []


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a\0b", "é", "a b"])
def test_bad_ids(bad, tmp_path):
    with pytest.raises(PyruncError, match="invalid container id"):
        store.create(str(tmp_path), bad)


def test_state_write_is_atomic(tmp_path):
    d = store.create(str(tmp_path), "x")
    d.write_state({"a": 1})
    d.write_state({"a": 2})
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["state"]
    d.remove()
