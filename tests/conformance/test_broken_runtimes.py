"""Wrappers around runc that each break one behaviour: the matching cases must
fail for the wrapper and pass for runc, in the same run."""
import os
import shutil

import pytest

from conformance_run import run_suite, table

RUNC = shutil.which("runc")
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not RUNC or not shutil.which("gcc"),
                                reason="needs root, runc and gcc")

WRAPPER = """#!/usr/bin/python3 -I
# A deliberately broken runtime: runc with one behaviour removed ({mode}).
import json, os, subprocess, sys

MODE = {mode!r}
args = sys.argv[1:]


def bundle():
    for i, a in enumerate(args):
        if a in ("--bundle", "-b") and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--bundle="):
            return a.split("=", 1)[1]
    return os.getcwd()


def mutate(c):
    p, lx = c.get("process", {{}}), c.get("linux", {{}})
    if MODE == "nohostname":
        c.pop("hostname", None)
    elif MODE == "nomasked":
        lx.pop("maskedPaths", None)
    elif MODE == "noenv":
        p["env"] = [e for e in p.get("env", []) if e.startswith("PATH=")]
    elif MODE == "writableroot":
        c.get("root", {{}})["readonly"] = False
    elif MODE == "noseccomp":
        lx.pop("seccomp", None)
    elif MODE == "norlimits":
        p.pop("rlimits", None)
    elif MODE == "nohooks":
        c.pop("hooks", None)
    elif MODE == "nodevices":
        lx.pop("devices", None)
    elif MODE == "noresources":
        lx.pop("resources", None)


if "create" in args:
    path = os.path.join(bundle(), "config.json")
    with open(path) as f:
        config = json.load(f)
    mutate(config)
    with open(path, "w") as f:
        json.dump(config, f)
if MODE == "neverstopped" and "state" in args:
    r = subprocess.run([{runc!r}] + args, capture_output=True, text=True)
    sys.stdout.write(r.stdout.replace('"stopped"', '"running"'))
    sys.stderr.write(r.stderr)
    sys.exit(r.returncode)
os.execv({runc!r}, ["runc"] + args)
"""

# mode -> cases that must fail for the wrapper and pass for runc
BROKEN = {
    "nohostname": ["config.hostname"],
    "nomasked": ["linux.masked_paths.file", "linux.masked_paths.directory", "linux.masked_paths.proc"],
    "noenv": ["config.process.env"],
    "neverstopped": ["state.status.stopped", "lifecycle.start.runs_program", "lifecycle.kill.running"],
    "writableroot": ["config.root.readonly"],
    "noseccomp": ["seccomp.action.errno_ret", "seccomp.operator.eq"],
    "norlimits": ["config.process.rlimits.nofile"],
    "nohooks": ["hooks.prestart.called", "hooks.poststop.called"],
    "nodevices": ["devices.char", "devices.fifo"],
    "noresources": ["cgroups.memory.limit", "cgroups.pids.limit"],
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    d = tmp_path_factory.mktemp("wrappers")
    d.chmod(0o755)
    runtimes = ["--runtime", RUNC]
    for mode in BROKEN:
        path = d / f"runc-{mode}"
        path.write_text(WRAPPER.format(mode=mode, runc=RUNC))
        path.chmod(0o755)
        runtimes += ["--runtime", str(path)]
    cases = sorted({c for cs in BROKEN.values() for c in cs})
    rc, lines, err = run_suite(*runtimes, "-k", ",".join(cases), "-j", "2")
    assert rc == 0, err
    return table(lines)


@pytest.mark.parametrize("mode", sorted(BROKEN))
def test_broken_wrapper_is_caught(outcome, mode):
    rows, _ = outcome
    for name in BROKEN[mode]:
        assert rows[name]["runc"] == "PASS", f"{name}: runc itself does not pass"
        assert rows[name][f"runc-{mode}"] == "FAIL", f"{name}: the {mode} wrapper was not caught"
