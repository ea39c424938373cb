"""Build hook: generate the config validator from spec/ into the built package.

Everything else about the package is in pyproject.toml.  The generator is
loaded by file path because pyrunc is not importable while it is being built.
"""

import importlib.util
import os

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))


def _schemagen():
    path = os.path.join(ROOT, "runtime", "oci", "schemagen.py")
    spec = importlib.util.spec_from_file_location("_pyrunc_schemagen", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithValidator(build_py):
    """build_py, then write pyrunc/oci/schema_gen.py generated from spec/*.json."""

    def run(self):
        super().run()
        if self.dry_run:
            return
        out = os.path.join(self.build_lib, "pyrunc", "oci", "schema_gen.py")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        _schemagen().write(os.path.join(ROOT, "spec"), out)

    def get_outputs(self, include_bytecode=1):
        out = os.path.join(self.build_lib, "pyrunc", "oci", "schema_gen.py")
        outputs = super().get_outputs(include_bytecode)
        return outputs if out in outputs else outputs + [out]


setup(cmdclass={"build_py": BuildPyWithValidator})
