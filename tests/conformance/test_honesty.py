"""A runtime that does nothing, or fails at everything, passes nothing."""
import os
import shutil

import pytest

from conformance_run import run_suite, table

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("gcc"),
                                reason="the suite needs root and gcc")


@pytest.mark.parametrize("binary", ["/bin/true", "/bin/false"])
def test_do_nothing_runtime_passes_nothing(binary):
    rc, lines, err = run_suite("--runtime", binary, "-j", "4")
    assert rc == 0, err
    rows, sums = table(lines)
    name = os.path.basename(binary)
    passed, failed, skipped = sums[name]
    assert passed == 0, [c for c, r in rows.items() if r[name] == "PASS"]
    assert len(rows) >= 150
    assert passed + failed + skipped == len(rows)
    # Skips name a missing host feature or an optional command, never a blanket excuse.
    assert all(r[name] in ("FAIL", "SKIP") for r in rows.values())
    assert lines[-1] == f"{name}: {passed} passed, {failed} failed, {skipped} skipped"
