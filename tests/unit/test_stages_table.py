"""The init's stage tables: every entry a distinct function, none shadowed by
a later definition of the same name (which would silently run twice)."""

import ast
import os

from pyrunc.init import stages

SOURCE = os.path.join(os.path.dirname(stages.__file__), "stages.py")


def test_no_function_is_defined_twice():
    tree = ast.parse(open(SOURCE).read())
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert sorted(set(n for n in names if names.count(n) > 1)) == []


def test_create_waits_for_limits_before_any_hook():
    order = [name for name, _ in stages.CREATE_STAGES]
    assert order.index("cgroup limits") < order.index("createRuntime hooks")
    assert order.index("cgroup") < order.index("cgroupns") < order.index("rootfs")
    assert len({fn for _, fn in stages.CREATE_STAGES}) == len(stages.CREATE_STAGES)


def test_exec_does_not_wait_for_go():
    assert "cgroup limits" not in [name for name, _ in stages.EXEC_STAGES]
