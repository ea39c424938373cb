"""make_dirs: one mkdir when the parents exist, every missing level otherwise,
and a one-line CgroupError naming the directory it could not make."""

import pytest

from pyrunc.cgroups import CgroupError
from pyrunc.cgroups.manager import make_dirs


def test_leaf_under_existing_parents(tmp_path):
    (tmp_path / "a").mkdir()
    assert make_dirs(str(tmp_path), str(tmp_path / "a" / "b")) == [str(tmp_path / "a" / "b")]
    assert make_dirs(str(tmp_path), str(tmp_path / "a" / "b")) == []  # already there


def test_missing_levels_are_all_made_and_returned(tmp_path):
    made = make_dirs(str(tmp_path), str(tmp_path / "x" / "y" / "z"))
    assert made == [str(tmp_path / "x"), str(tmp_path / "x" / "y"), str(tmp_path / "x" / "y" / "z")]


@pytest.mark.parametrize("where", ["f/leaf", "f/deeper/leaf"])
def test_error_names_the_directory(tmp_path, where):
    (tmp_path / "f").write_text("")
    with pytest.raises(CgroupError) as e:
        make_dirs(str(tmp_path), str(tmp_path / where))
    assert "creating: not a directory" in str(e.value)
    assert str(e.value).startswith(f"cgroup: {tmp_path}/f/")


def test_outside_the_hierarchy_is_refused(tmp_path):
    with pytest.raises(CgroupError, match="not inside the hierarchy"):
        make_dirs(str(tmp_path / "root"), str(tmp_path / "elsewhere"))
