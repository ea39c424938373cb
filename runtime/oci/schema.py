"""Load the validator generated from spec/ (see schemagen), regenerating it in a source tree.

An installed pyrunc carries schema_gen.py, written by setup.py's build step.
Run from a checkout (bin/pyrunc, the tests), the module is regenerated here
when it is missing or older than spec/*.json or the generator: a few stat
calls on each start, and a generation of about 15 ms when something changed.
"""

import os
import sys

_HERE = os.path.dirname(os.path.realpath(__file__))
_GENERATED = os.path.join(_HERE, "schema_gen.py")
_GENERATOR = os.path.join(_HERE, "schemagen.py")
_MODULE = __name__.rpartition(".")[0] + ".schema_gen"


def _source_spec_dir():
    """spec/ of the checkout this file lives in, or None when installed."""
    root = os.path.dirname(os.path.dirname(_HERE))
    spec = os.path.join(root, "spec")
    if os.path.isfile(os.path.join(spec, "config-schema.json")) and os.path.isfile(
            os.path.join(root, "pyproject.toml")):
        return spec
    return None


def _is_stale(spec_dir):
    try:
        generated = os.stat(_GENERATED).st_mtime_ns
    except FileNotFoundError:
        return True
    newest = os.stat(_GENERATOR).st_mtime_ns
    with os.scandir(spec_dir) as entries:
        for entry in entries:
            if entry.name.endswith(".json"):
                newest = max(newest, entry.stat().st_mtime_ns)
    return newest > generated


def _regenerate(spec_dir):
    from pyrunc.oci import schemagen

    try:
        schemagen.write(spec_dir, _GENERATED)
        import importlib
        importlib.invalidate_caches()
        sys.modules.pop(_MODULE, None)
        return
    except OSError:
        # A read-only checkout: build the module in memory for this process.
        module = type(sys)(_MODULE)
        module.__file__ = _GENERATED
        exec(compile(schemagen.generate(spec_dir), _GENERATED, "exec"), module.__dict__)
        sys.modules[_MODULE] = module


def load():
    """Return the generated validator module (validate_config, validate_state, validate_features)."""
    spec_dir = _source_spec_dir()
    if spec_dir is not None and _is_stale(spec_dir):
        _regenerate(spec_dir)
    try:
        # __import__, not importlib.import_module: importing importlib (and
        # warnings) costs more than the lookup.
        return __import__(_MODULE, fromlist=["validate_config"])
    except ImportError as e:
        if e.name != _MODULE:
            raise
        raise RuntimeError(
            f"{_GENERATED} is missing: generate it with 'python3 -m pyrunc.oci.schemagen' "
            "or reinstall pyrunc") from None
