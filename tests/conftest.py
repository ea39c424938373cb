"""Shared test set-up: make the in-tree ``runtime/`` importable as ``pyrunc``."""

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _register_pyrunc():
    if "pyrunc" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "pyrunc", os.path.join(ROOT, "runtime", "__init__.py"),
        submodule_search_locations=[os.path.join(ROOT, "runtime")])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["pyrunc"] = mod
    spec.loader.exec_module(mod)


_register_pyrunc()
