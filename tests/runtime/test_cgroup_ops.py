"""update, ps, events, kill --all, delete --force and pause/resume over the container's
cgroup, end to end, read back from the cgroup files on the host."""

import json
import os
import signal
import subprocess
import time

import pytest

MOUNT = "/sys/fs/cgroup"
UNIFIED = os.path.exists(os.path.join(MOUNT, "cgroup.controllers"))
# Three processes: the init shell and two children that outlive nothing on their own.
THREE = ["sh", "-c", "sleep 300 & sleep 300 & wait"]


def cgfile(cgroup, controller, v1, v2=None):
    if UNIFIED:
        return os.path.join(MOUNT, cgroup.lstrip("/"), v2 or v1)
    return os.path.join(MOUNT, controller, cgroup.lstrip("/"), v1)


def cgread(cgroup, controller, v1, v2=None):
    with open(cgfile(cgroup, controller, v1, v2)) as f:
        return f.read().strip()


def procs(cgroup):
    with open(cgfile(cgroup, "pids", "cgroup.procs")) as f:
        return sorted(int(p) for p in f.read().split())


def wait_for(predicate, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def start(rt, args=THREE, resources=None, nprocs=3):
    """A detached running container; returns (id, cgroupsPath, config)."""
    cfg = rt.config(args)
    if resources:
        cfg["linux"]["resources"] = resources
    cid = rt.new_id()
    rt("run", "-d", "--bundle", rt.bundle(cfg), cid, check=True)
    cg = cfg["linux"]["cgroupsPath"]
    wait_for(lambda: len(procs(cg)) >= nprocs, f"{nprocs} processes in {cg}")
    return cid, cg, cfg


def saved_resources(rt, cid):
    from pyrunc import store
    d = store.open_dir(rt.root, cid, exclusive=False)
    try:
        return d.read_state()["config"]["linux"]["resources"]
    finally:
        d.close()


def one_line_error(p):
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    return lines[0]


# -- update ----------------------------------------------------------------------------

def test_update_flags_apply_and_persist(rt):
    cid, cg, _ = start(rt, resources={"memory": {"limit": 64 << 20}, "pids": {"limit": 100}})
    p = rt("update", "--memory", "96m", "--memory-reservation", "32m", "--pids-limit", "50",
           "--cpu-shares", "512", "--cpu-period", "100000", "--cpu-quota", "20000", cid)
    assert p.returncode == 0, p.stderr
    assert int(cgread(cg, "memory", "memory.limit_in_bytes", "memory.max")) == 96 << 20
    assert cgread(cg, "pids", "pids.max") == "50"
    if not UNIFIED:
        assert cgread(cg, "cpu", "cpu.shares") == "512"
        assert cgread(cg, "cpu", "cpu.cfs_quota_us") == "20000"
        assert cgread(cg, "cpu", "cpu.cfs_period_us") == "100000"
        assert int(cgread(cg, "memory", "memory.soft_limit_in_bytes")) == 32 << 20
    else:
        assert cgread(cg, "cpu", "cpu.max") == "20000 100000"
    saved = saved_resources(rt, cid)
    assert saved["memory"]["limit"] == 96 << 20 and saved["memory"]["reservation"] == 32 << 20
    assert saved["pids"] == {"limit": 50}
    assert saved["cpu"] == {"shares": 512, "period": 100000, "quota": 20000}
    # A second update changes one field and keeps the others, in the cgroup and the state.
    assert rt("update", "--pids-limit", "-1", cid).returncode == 0
    assert cgread(cg, "pids", "pids.max") == "max"
    saved = saved_resources(rt, cid)
    assert saved["pids"] == {"limit": -1} and saved["cpu"]["quota"] == 20000
    assert int(cgread(cg, "memory", "memory.limit_in_bytes", "memory.max")) == 96 << 20


def test_update_resources_from_stdin_ignores_zero_fields(rt):
    # Docker sends every field of its resources struct, zeros meaning "unchanged".
    cid, cg, _ = start(rt, resources={"cpu": {"shares": 300}, "pids": {"limit": 100}})
    doc = {"memory": {"limit": 80 << 20, "reservation": 0, "swap": 0, "kernel": 0},
           "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0,
                   "realtimePeriod": 0, "cpus": "", "mems": ""},
           "blockIO": {"weight": 0}, "pids": {"limit": 42}}
    p = rt("update", "--resources", "-", cid, input=json.dumps(doc))
    assert p.returncode == 0, p.stderr
    assert int(cgread(cg, "memory", "memory.limit_in_bytes", "memory.max")) == 80 << 20
    assert cgread(cg, "pids", "pids.max") == "42"
    if not UNIFIED:
        assert cgread(cg, "cpu", "cpu.shares") == "300"  # the zero left it alone
    saved = saved_resources(rt, cid)
    assert saved["cpu"] == {"shares": 300} and saved["pids"] == {"limit": 42}


def test_update_resources_from_file(rt, tmp_path):
    # Podman's form: --resources=PATH.
    cid, cg, _ = start(rt)
    f = tmp_path / "res.json"
    f.write_text(json.dumps({"pids": {"limit": 33}, "cpu": {"cpus": "0", "mems": "0"}}))
    p = rt("update", f"--resources={f}", cid)
    assert p.returncode == 0, p.stderr
    assert cgread(cg, "pids", "pids.max") == "33"
    assert cgread(cg, "cpuset", "cpuset.cpus") == "0"
    for pid in procs(cg):
        with open(f"/proc/{pid}/status") as st:
            assert "Cpus_allowed_list:\t0\n" in st.read()


def test_update_missing_container(rt):
    msg = one_line_error(rt("update", "--memory", "10m", "nosuchcontainer"))
    assert "nosuchcontainer" in msg and "does not exist" in msg


@pytest.mark.parametrize("flag,value", [
    ("--memory", "lots"), ("--memory-swap", "12x"), ("--cpu-quota", "fast"),
    ("--cpu-period", "-5"), ("--pids-limit", "1.5"), ("--blkio-weight", "5"),
    ("--cpu-share", "many"),
])
def test_update_bad_flag_value(rt, flag, value):
    cid, _, _ = start(rt, args=["sleep", "300"], nprocs=1)
    msg = one_line_error(rt("update", flag, value, cid))
    assert flag in msg and value.lstrip("-") in msg, msg


def test_update_value_the_kernel_refuses(rt):
    cid, cg, _ = start(rt, args=["sleep", "300"], nprocs=1)
    msg = one_line_error(rt("update", "--cpuset-cpus", "4095", cid))
    assert cgfile(cg, "cpuset", "cpuset.cpus") in msg and "'4095'" in msg, msg
    # A limit below what the group uses (v1 answers EBUSY); the old limit stays.
    before = cgread(cg, "memory", "memory.limit_in_bytes", "memory.max")
    if not UNIFIED:
        msg = one_line_error(rt("update", "--memory", "4096", cid))
        assert "memory.limit_in_bytes" in msg and "4096" in msg, msg
        assert cgread(cg, "memory", "memory.limit_in_bytes") == before
    blkio = cgfile(cg, "blkio", "blkio.weight")
    bfq = cgfile(cg, "blkio", "blkio.bfq.weight")
    if not UNIFIED and not os.path.exists(blkio) and not os.path.exists(bfq):
        # No io scheduler with weights (this host's kernel): said, with the file named.
        msg = one_line_error(rt("update", "--blkio-weight", "500", cid))
        assert blkio in msg and "weight" in msg, msg


def test_update_bad_resources_document(rt, tmp_path):
    cid, _, _ = start(rt, args=["sleep", "300"], nprocs=1)
    msg = one_line_error(rt("update", "--resources", "-", cid, input="{not json"))
    assert "invalid json" in msg
    msg = one_line_error(rt("update", "--resources", "-", cid, input='{"pids": {"limit": "9"}}'))
    assert "pids.limit" in msg
    missing = tmp_path / "none.json"
    msg = one_line_error(rt("update", "--resources", str(missing), cid))
    assert str(missing) in msg and "no such file" in msg


def test_update_intel_rdt_flags_refused(rt):
    cid, _, _ = start(rt, args=["sleep", "300"], nprocs=1)
    msg = one_line_error(rt("update", "--l3-cache-schema", "L3:0=f", cid))
    assert "--l3-cache-schema" in msg


def test_update_kernel_memory_is_ignored_with_a_warning(rt):
    cid, cg, _ = start(rt, args=["sleep", "300"], nprocs=1)
    before = cgread(cg, "pids", "pids.max")
    p = rt("update", "--kernel-memory", "50m", "--kernel-memory-tcp", "10m", cid)
    assert p.returncode == 0, p.stderr
    assert "--kernel-memory: ignored" in p.stderr and "--kernel-memory-tcp: ignored" in p.stderr
    assert cgread(cg, "pids", "pids.max") == before
    msg = one_line_error(rt("update", "--kernel-memory", "huge", cid))
    assert "--kernel-memory" in msg and "'huge'" in msg


def test_update_created_container_and_no_change(rt):
    cfg = rt.config(["sleep", "300"])
    cid = rt.new_id()
    rt("create", "--bundle", rt.bundle(cfg), cid, check=True)
    cg = cfg["linux"]["cgroupsPath"]
    assert rt("update", "--pids-limit", "9", cid).returncode == 0
    assert cgread(cg, "pids", "pids.max") == "9"
    assert rt("update", cid).returncode == 0  # nothing asked, nothing changed
    assert cgread(cg, "pids", "pids.max") == "9"
    assert rt.state(cid)["status"] == "created"


def test_update_stopped_container(rt):
    cid, cg, _ = start(rt, args=["sleep", "300"], nprocs=1)
    rt("kill", cid, "KILL", check=True)
    wait_for(lambda: rt.state(cid)["status"] == "stopped", "stopped")
    before = cgread(cg, "pids", "pids.max")
    msg = one_line_error(rt("update", "--pids-limit", "7", cid))
    assert msg == "pyrunc: container not running"
    assert cgread(cg, "pids", "pids.max") == before


# -- ps ----------------------------------------------------------------------------------

def test_ps_json_lists_every_pid_of_the_cgroup(rt):
    cid, cg, _ = start(rt)
    p = rt("ps", "--format", "json", cid)
    assert p.returncode == 0, p.stderr
    pids = json.loads(p.stdout)
    assert pids == procs(cg) and len(pids) == 3
    assert rt.state(cid)["pid"] in pids


def test_ps_table_default_and_with_args(rt):
    cid, cg, _ = start(rt)
    p = rt("ps", cid)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split()[:2] == ["UID", "PID"]
    assert sorted(int(line.split()[1]) for line in lines[1:]) == procs(cg)
    p = rt("ps", cid, "-o", "pid,comm")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["PID", "COMMAND"]
    assert sorted(line.split()[1] for line in lines[1:]) == ["sh", "sleep", "sleep"]
    msg = one_line_error(rt("ps", cid, "-o", "comm"))
    assert "no PID column" in msg
    msg = one_line_error(rt("ps", cid, "--no-such-option"))
    assert msg.startswith("pyrunc: ps: ps --no-such-option failed: "), msg


def test_ps_errors(rt):
    cid, _, _ = start(rt, args=["sleep", "300"], nprocs=1)
    assert "invalid format" in one_line_error(rt("ps", "--format", "yaml", cid))
    rt("kill", cid, "KILL", check=True)
    wait_for(lambda: rt.state(cid)["status"] == "stopped", "stopped")
    assert one_line_error(rt("ps", cid)) == "pyrunc: container not running"
    assert one_line_error(rt("ps", "--format", "json", cid)) == "pyrunc: container not running"
    assert "does not exist" in one_line_error(rt("ps", "nosuch"))


# -- events ------------------------------------------------------------------------------

def test_events_stats_once(rt):
    cid, _, _ = start(rt, resources={"memory": {"limit": 64 << 20}, "pids": {"limit": 77}})
    p = rt("events", "--stats", cid, timeout=20)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1
    ev = json.loads(lines[0])
    assert ev["type"] == "stats" and ev["id"] == cid
    data = ev["data"]
    assert data["pids"]["current"] == 3 and data["pids"]["limit"] == 77
    assert data["memory"]["usage"]["limit"] == 64 << 20 and data["memory"]["usage"]["usage"] > 0
    assert "cpu" in data


def test_events_stream_every_interval_and_ends_with_the_container(rt):
    cid, _, _ = start(rt)
    proc = subprocess.Popen(rt.cmd("events", "--interval", "100ms", cid),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        first = json.loads(proc.stdout.readline())
        second = json.loads(proc.stdout.readline())
        assert time.monotonic() - t0 < 5
        assert first["type"] == second["type"] == "stats" and second["id"] == cid
        assert rt("delete", "--force", cid).returncode == 0
        proc.wait(timeout=15)
        rest = proc.stdout.read()
        assert proc.returncode == 0, proc.stderr.read()
        assert all(json.loads(line)["type"] == "stats" for line in rest.splitlines())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_events_reports_oom(rt):
    # The init waits for a signal file, then a child outgrows the limit and is killed;
    # the init survives, so the stream sees the OOM before the container ends.
    script = ("while [ ! -e /tmp/go ]; do sleep 0.05; done; "
              "head -c 64m /dev/zero | tail > /dev/null; sleep 300")
    cid, cg, _ = start(rt, args=["sh", "-c", script],
                       resources={"memory": {"limit": 16 << 20, "swap": 16 << 20}}, nprocs=1)
    proc = subprocess.Popen(rt.cmd("events", "--interval", "200ms", cid),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The stream registers for notifications before its first statistics.
        line = proc.stdout.readline()
        assert json.loads(line)["type"] == "stats", (line, proc.stderr.read())
        init = rt.state(cid)["pid"]
        open(f"/proc/{init}/root/tmp/go", "w").close()
        deadline = time.monotonic() + 20
        seen = []
        while time.monotonic() < deadline:
            event = json.loads(proc.stdout.readline())
            seen.append(event["type"])
            if event["type"] == "oom":
                assert event == {"type": "oom", "id": cid}
                break
        else:
            raise AssertionError(f"no oom event: {seen}")
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    # The notification comes when the cgroup runs out of memory; the kill that
    # resolves it is counted a moment later.
    deadline = time.monotonic() + 5
    while True:
        oom = dict(line.split() for line in cgread(cg, "memory", "memory.oom_control",
                                                     "memory.events").splitlines())
        if int(oom["oom_kill"]) >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert int(oom["oom_kill"]) >= 1, oom


@pytest.mark.parametrize("text,seconds", [
    ("5s", 5.0), ("100ms", 0.1), ("1m30s", 90.0), ("1.5h", 5400.0), ("250us", 250e-6),
    ("2µs", 2e-6), ("10ns", 1e-8), ("0", 0.0), ("+3s", 3.0), ("-1s", -1.0),
])
def test_parse_duration_go_syntax(text, seconds):
    from pyrunc.cli.ops import parse_duration
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5", "5x", "s", "1.2.3s", "", "5 s", "ms5"])
def test_parse_duration_rejects(text):
    from pyrunc.cli.args import UsageError
    from pyrunc.cli.ops import parse_duration
    with pytest.raises(UsageError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("value", ["5", "5x", "s", "1.2.3s", "-1s", "0"])
def test_events_bad_interval(rt, value):
    cid, _, _ = start(rt, args=["sleep", "300"], nprocs=1)
    msg = one_line_error(rt("events", "--interval", value, cid))
    assert "interval" in msg and repr(value) in msg, msg


def test_events_stopped_or_missing(rt):
    cid, _, _ = start(rt, args=["sleep", "300"], nprocs=1)
    rt("kill", cid, "KILL", check=True)
    wait_for(lambda: rt.state(cid)["status"] == "stopped", "stopped")
    assert one_line_error(rt("events", "--stats", cid)) == "pyrunc: container not running"
    assert one_line_error(rt("events", cid)) == "pyrunc: container not running"
    assert "does not exist" in one_line_error(rt("events", "--stats", "nosuch"))


# -- kill --all, delete --force, pause/resume -----------------------------------------------

def test_kill_all_reaches_every_process(rt):
    cid, cg, _ = start(rt, args=["sh", "-c", "sleep 300 & sleep 300 & wait; exec sleep 300"])
    pids = procs(cg)
    init = rt.state(cid)["pid"]
    children = [p for p in pids if p != init]
    # pid 1 of the namespace ignores TERM (no handler); without --all nothing else gets it.
    assert rt("kill", cid, "TERM").returncode == 0
    time.sleep(0.3)
    assert all(alive(p) for p in pids)
    assert rt("kill", "--all", cid, "TERM").returncode == 0
    wait_for(lambda: not any(alive(p) for p in children), "the children to die of TERM")
    assert alive(init)
    assert rt("kill", "--all", cid, "KILL").returncode == 0
    wait_for(lambda: not procs(cg), "every process to die")
    wait_for(lambda: rt.state(cid)["status"] == "stopped", "stopped")


def test_delete_force_running_kills_everything(rt):
    cid, cg, _ = start(rt)
    pids = procs(cg)
    assert rt("delete", "--force", cid).returncode == 0
    assert not any(alive(p) for p in pids)
    assert not os.path.exists(cgfile(cg, "pids", ""))
    assert rt("state", cid).returncode == 1


def test_pause_resume_and_delete_force_paused(rt):
    cid, cg, _ = start(rt)
    pids = procs(cg)
    assert rt("pause", cid).returncode == 0
    assert rt.state(cid)["status"] == "paused"
    listed = json.loads(rt("list", "--format", "json", check=True).stdout)
    assert [(c["id"], c["status"]) for c in listed] == [(cid, "paused")]
    assert " paused " in rt("list", check=True).stdout
    if not UNIFIED:
        assert cgread(cg, "freezer", "freezer.state") == "FROZEN"
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            assert f.read().rpartition(")")[2].split()[0] in ("D", "S")
    assert "paused" in one_line_error(rt("pause", cid))
    assert rt("resume", cid).returncode == 0
    assert rt.state(cid)["status"] == "running"
    assert "running" in one_line_error(rt("resume", cid))
    assert rt("pause", cid).returncode == 0
    # delete --force of a paused container: killed, thawed so the kill lands, removed.
    assert rt("delete", "--force", cid).returncode == 0
    assert not any(alive(p) for p in pids)
    assert not os.path.exists(cgfile(cg, "freezer", ""))
    assert rt("state", cid).returncode == 1
