"""The command line: rows, the summary line per runtime, -k, --junit, --list."""
import os
import shutil
import xml.etree.ElementTree as ET

import pytest

from conformance_run import SUMMARY, run_suite, table

needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runc") or not shutil.which("gcc"),
                                reason="needs root, runc and gcc")


def test_list_cites_a_spec_sentence_for_every_case():
    rc, lines, err = run_suite("--list")
    assert rc == 0, err
    cases = lines[:-1]
    assert lines[-1] == f"{len(cases)} cases"
    assert len(cases) >= 150
    names = [ln.split()[0] for ln in cases]
    assert len(set(names)) == len(names)
    for ln in cases:
        name, cite = ln.split("  ", 1)
        spec, level = cite[1:].split("]", 1)[0].split()
        assert spec in ("runtime.md", "runtime-linux.md", "config.md", "config-linux.md", "features.md",
                        "features-linux.md"), ln
        assert level in ("MUST", "SHOULD"), ln
        assert len(cite.split("]", 1)[1].strip()) > 10, ln


def test_filter_selects_by_name():
    rc, lines, _ = run_suite("--list", "-k", "seccomp.operator")
    assert rc == 0
    assert lines[-1] == "7 cases"
    assert all(ln.startswith("seccomp.operator.") for ln in lines[:-1])
    rc, lines, _ = run_suite("--list", "-k", "seccomp.operator,not masked_eq")
    assert lines[-1] == "6 cases"


def test_no_runtime_is_a_usage_error():
    rc, _, err = run_suite("-k", "state.id")
    assert rc == 2 and "--runtime" in err


@needs_root
def test_table_summary_and_junit(tmp_path):
    junit = tmp_path / "report.xml"
    rc, lines, err = run_suite("--runtime", "runc", "--runtime", "/bin/true", "-k", "state.id,hostname",
                               "--junit", str(junit))
    assert rc == 0, err
    rows, sums = table(lines)
    assert set(rows) == {"state.id", "config.hostname", "namespaces.uts.hostname_in_new_ns"}
    assert all(r["runc"] == "PASS" and r["true"] == "FAIL" for r in rows.values())
    assert [SUMMARY.match(ln)["name"] for ln in lines[-2:]] == ["runc", "true"]
    assert sums == {"runc": (3, 0, 0), "true": (0, 3, 0)}
    # Failures carry their reason in the details block.
    assert any(ln.strip().startswith("state.id [true] FAIL:") for ln in lines)

    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root}
    assert set(suites) == {"runc", "true"}
    assert suites["true"].get("failures") == "3" and len(suites["true"]) == 3
    tc = suites["true"].find("testcase[@name='state.id']")
    assert tc.find("failure") is not None
    assert "runtime.md" in tc.find("properties/property").get("value")


@needs_root
def test_a_hanging_runtime_cannot_hang_the_suite(tmp_path):
    import time
    hang = tmp_path / "hang"
    hang.write_text("#!/bin/sh\nexec sleep 60\n")
    hang.chmod(0o755)
    tmp_path.chmod(0o755)
    t0 = time.monotonic()
    rc, lines, err = run_suite("--runtime", str(hang), "--timeout", "1", "-k", "state.id,start.missing_id")
    assert rc == 0, err
    assert time.monotonic() - t0 < 40
    rows, sums = table(lines)
    assert sums["hang"] == (0, 2, 0)
    assert any("timed out" in ln for ln in lines)
