"""create / start / state / kill / delete / list and run, end to end."""

import json
import os
import signal
import time

import pytest


def wait_status(rt, cid, status, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = rt.state(cid)
        if st["status"] == status:
            return st
        time.sleep(0.02)
    raise AssertionError(f"{cid} never reached {status}: {st}")


def test_run_foreground_prints_and_exits(rt):
    p = rt.run(args=["sh", "-c", "echo hello from $(hostname)"])
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hello from pyrunc\n"
    assert not os.path.isdir(rt.root) or os.listdir(rt.root) == []


def test_run_returns_exit_status(rt):
    assert rt.run(args=["sh", "-c", "exit 7"]).returncode == 7


def test_run_reports_signal_death_as_128_plus(rt):
    import subprocess
    b = rt.bundle(args=["sh", "-c", "echo up; sleep 30"])
    cid = rt.new_id()
    proc = subprocess.Popen(rt.cmd("run", "--bundle", b, cid), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "up\n"
    assert rt("kill", cid, "KILL").returncode == 0
    proc.communicate(timeout=20)
    assert proc.returncode == 128 + 9


def test_create_start_delete(rt):
    b = rt.bundle(args=["sh", "-c", "echo started > /tmp/x; sleep 30"])
    cid = rt.new_id()
    pidfile = os.path.join(rt.tmp, "pid")
    p = rt("create", "--bundle", b, "--pid-file", pidfile, cid)
    assert p.returncode == 0, p.stderr
    st = rt.state(cid)
    assert st["status"] == "created"
    assert st["id"] == cid and st["bundle"] == b
    assert st["pid"] == int(open(pidfile).read())
    assert st["ociVersion"] and st["created"].endswith("Z")
    # created: the init waits; the user's program has not run yet
    assert open(f"/proc/{st['pid']}/cmdline", "rb").read().split(b"\0")[0] != b"sleep"
    assert rt("start", cid).returncode == 0
    st = wait_status(rt, cid, "running")
    cmd = open(f"/proc/{st['pid']}/cmdline", "rb").read().split(b"\0")
    assert cmd[0] == b"sleep", cmd  # pid 1 is the user's program, no Python left
    p = rt("delete", cid)
    assert p.returncode != 0 and "not stopped" in p.stderr
    assert rt("kill", cid, "KILL").returncode == 0
    wait_status(rt, cid, "stopped")
    assert rt.state(cid)["pid"] == 0
    assert rt("delete", cid).returncode == 0
    assert rt("state", cid).returncode == 1


@pytest.mark.parametrize("sig", ["TERM", "SIGTERM", "15", "term"])
def test_kill_signal_forms(rt, sig):
    # pid 1 of a namespace only gets the signals it handles: trap TERM.
    b = rt.bundle(args=["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"])
    cid = rt.new_id()
    rt("run", "-d", "--bundle", b, cid, check=True)
    assert rt("kill", cid, sig).returncode == 0
    wait_status(rt, cid, "stopped")


def test_kill_unknown_signal(rt):
    b = rt.bundle(args=["sleep", "30"])
    cid = rt.new_id()
    rt("run", "-d", "--bundle", b, cid, check=True)
    p = rt("kill", cid, "BOGUS")
    assert p.returncode == 1 and "unknown signal" in p.stderr


def test_kill_stopped_says_not_running(rt):
    b = rt.bundle(args=["true"])
    cid = rt.new_id()
    rt("run", "-d", "--bundle", b, cid, check=True)
    wait_status(rt, cid, "stopped")
    p = rt("kill", cid, "KILL")
    assert p.returncode == 1 and "container not running" in p.stderr


def test_start_twice_fails(rt):
    b = rt.bundle(args=["sleep", "30"])
    cid = rt.new_id()
    rt("create", "--bundle", b, cid, check=True)
    rt("start", cid, check=True)
    p = rt("start", cid)
    assert p.returncode == 1 and "running" in p.stderr


def test_delete_created_container(rt):
    b = rt.bundle(args=["sleep", "30"])
    cid = rt.new_id()
    rt("create", "--bundle", b, cid, check=True)
    pid = rt.state(cid)["pid"]
    assert rt("delete", cid).returncode == 0
    assert not os.path.exists(f"/proc/{pid}/stat") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_delete_force_running(rt):
    b = rt.bundle(args=["sleep", "30"])
    cid = rt.new_id()
    rt("run", "-d", "--bundle", b, cid, check=True)
    assert rt("delete", "--force", cid).returncode == 0
    assert rt("state", cid).returncode == 1


def test_delete_missing(rt):
    p = rt("delete", "nope")
    assert p.returncode == 1 and "does not exist" in p.stderr
    assert rt("delete", "--force", "nope").returncode == 0


def test_state_missing(rt):
    p = rt("state", "nope")
    assert p.returncode == 1 and "does not exist" in p.stderr


def test_duplicate_id(rt):
    b = rt.bundle(args=["sleep", "30"])
    cid = rt.new_id()
    rt("create", "--bundle", b, cid, check=True)
    p = rt("create", "--bundle", b, cid)
    assert p.returncode == 1 and "exists" in p.stderr
    assert rt.state(cid)["status"] == "created"


@pytest.mark.parametrize("bad", ["../x", "a/b", ".", ""])
def test_invalid_id(rt, bad):
    b = rt.bundle(args=["true"])
    p = rt("create", "--bundle", b, bad)
    assert p.returncode == 1 and "invalid container id" in p.stderr


def test_list(rt):
    b = rt.bundle(args=["sleep", "30"])
    ids = [rt.new_id(), rt.new_id()]
    for cid in ids:
        rt("create", "--bundle", b, cid, check=True)
    p = rt("list", "--format", "json", check=True)
    items = json.loads(p.stdout)
    assert sorted(i["id"] for i in items) == sorted(ids)
    assert {i["status"] for i in items} == {"created"}
    q = rt("list", "-q", check=True).stdout.split()
    assert sorted(q) == sorted(ids)
    table = rt("list", check=True).stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert len(table) == 3


def test_list_empty_json_is_null(rt):
    assert rt("list", "--format", "json", check=True).stdout.strip() == "null"


def test_run_bundle_directory_argument(rt, tmp_path):
    cfg = rt.config(args=["echo", "by-dir"])
    b = rt.bundle(cfg, name="mybundle")
    rt.ids.append("mybundle")
    p = rt("run", b)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "by-dir\n"


def test_run_detached_and_keep(rt):
    b = rt.bundle(args=["sh", "-c", "exit 3"])
    cid = rt.new_id()
    p = rt("run", "--keep", "--bundle", b, cid)
    assert p.returncode == 3
    assert rt.state(cid)["status"] == "stopped"
    assert rt("delete", cid).returncode == 0


def test_run_forwards_signals(rt):
    import subprocess
    b = rt.bundle(args=["sh", "-c", "trap 'echo got-term; exit 5' TERM; echo ready; while :; do sleep 0.1; done"])
    cid = rt.new_id()
    proc = subprocess.Popen(rt.cmd("run", "--bundle", b, cid), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 5
    assert "got-term" in out


def test_version_and_help(rt):
    p = rt("--version", check=True)
    lines = p.stdout.splitlines()
    assert lines[0].startswith("pyrunc version ")
    assert any(line.startswith("commit: ") for line in lines)
    assert "spec: 1.3.0" in lines
    for cmd in ("create", "start", "run", "state", "kill", "delete", "list", "spec"):
        h = rt(cmd, "--help")
        assert h.returncode == 0 and "USAGE" in h.stdout, cmd


def test_unknown_flag_and_command(rt):
    p = rt("create", "--nope", "x")
    assert p.returncode == 1 and "flag provided but not defined: -nope" in p.stderr
    p = rt("frobnicate")
    assert p.returncode == 1 and "no such command" in p.stderr


def test_flag_equals_forms(rt):
    b = rt.bundle(args=["echo", "eq"])
    cid = rt.new_id()
    p = rt("run", f"--bundle={b}", cid)
    assert p.returncode == 0 and p.stdout == "eq\n"


def test_json_log_on_error(rt, tmp_path):
    log = tmp_path / "log.json"
    p = rt("--log", str(log), "--log-format=json", "state", "nope")
    assert p.returncode == 1
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["level"] == "error" and "does not exist" in last["msg"] and last["time"]


def test_spec_writes_default(tmp_path, rt):
    p = rt("spec", "--bundle", str(tmp_path))
    assert p.returncode == 0
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["ociVersion"] == "1.3.0" and cfg["process"]["args"] == ["sh"]
    p = rt("spec", "--bundle", str(tmp_path))
    assert p.returncode == 1 and "exists" in p.stderr
    p = rt("spec", "--rootless", "--bundle", str(tmp_path / "nope"))
    assert p.returncode == 1
