"""Hooks: order, namespace, state on stdin, env, args, timeout and failure rules."""

import json
import os
import stat


def hook_script(tmp_path, name, body):
    p = tmp_path / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return str(p)


def test_hook_order_state_and_env(rt, tmp_path):
    log = tmp_path / "log"
    rec = hook_script(tmp_path, "rec.sh",
                      f'read -r state; echo "$1 $HOOKVAR $state" >> {log}\n')
    cfg = rt.config(["true"])
    cfg["hooks"] = {kind: [{"path": rec, "args": ["rec.sh", kind], "env": ["HOOKVAR=v"]}]
                    for kind in ("prestart", "createRuntime", "createContainer",
                                 "startContainer", "poststart", "poststop")}
    # startContainer and createContainer run in the container: the script must exist there.
    cfg["mounts"].append({"destination": str(tmp_path), "type": "bind", "source": str(tmp_path),
                          "options": ["rbind"]})
    p = rt.run(cfg)
    assert p.returncode == 0, p.stderr
    lines = log.read_text().splitlines()
    kinds = [ln.split()[0] for ln in lines]
    assert kinds == ["prestart", "createRuntime", "createContainer", "startContainer",
                     "poststart", "poststop"]
    for ln in lines:
        kind, var, state = ln.split(" ", 2)
        assert var == "v"
        st = json.loads(state)
        assert st["id"] == rt.ids[-1] and st["bundle"]
    statuses = {ln.split()[0]: json.loads(ln.split(" ", 2)[2])["status"] for ln in lines}
    assert statuses["poststart"] == "running"
    assert statuses["poststop"] == "stopped"


def test_create_runtime_hook_runs_in_runtime_namespace(rt, tmp_path):
    log = tmp_path / "ns"
    h = hook_script(tmp_path, "ns.sh", f"readlink /proc/self/ns/uts > {log}\n")
    cfg = rt.config(["true"])
    cfg["hooks"] = {"createRuntime": [{"path": h}]}
    assert rt.run(cfg).returncode == 0
    assert log.read_text().strip() == os.readlink("/proc/self/ns/uts")


def test_create_container_hook_runs_in_container_namespace(rt, tmp_path):
    log = tmp_path / "ns"
    h = hook_script(tmp_path, "ns.sh", f"readlink /proc/self/ns/uts /proc/self/ns/mnt > {log}\n")
    cfg = rt.config(["true"])
    cfg["hooks"] = {"createContainer": [{"path": h}]}
    assert rt.run(cfg).returncode == 0
    uts, mnt = log.read_text().split()
    assert uts != os.readlink("/proc/self/ns/uts")
    assert mnt != os.readlink("/proc/self/ns/mnt")


def test_failing_prestart_hook_fails_create_and_leaves_nothing(rt, tmp_path):
    h = hook_script(tmp_path, "fail.sh", "echo broken >&2; exit 3\n")
    cfg = rt.config(["true"])
    cfg["hooks"] = {"prestart": [{"path": h}]}
    b = rt.bundle(cfg)
    cid = rt.new_id()
    p = rt("create", "--bundle", b, cid)
    assert p.returncode == 1
    assert "prestart hook #0" in p.stderr and "exit status 3" in p.stderr and "broken" in p.stderr
    assert rt("state", cid).returncode == 1
    assert not os.path.isdir(rt.root) or os.listdir(rt.root) == []


def test_hook_timeout(rt, tmp_path):
    h = hook_script(tmp_path, "slow.sh", "sleep 30\n")
    cfg = rt.config(["true"])
    cfg["hooks"] = {"createRuntime": [{"path": h, "timeout": 1}]}
    p = rt.run(cfg)
    assert p.returncode == 1 and "timed out" in p.stderr


def test_poststop_failure_is_only_a_warning(rt, tmp_path):
    mark = tmp_path / "second"
    bad = hook_script(tmp_path, "bad.sh", "exit 1\n")
    good = hook_script(tmp_path, "good.sh", f"touch {mark}\n")
    cfg = rt.config(["true"])
    cfg["hooks"] = {"poststop": [{"path": bad}, {"path": good}]}
    b = rt.bundle(cfg)
    cid = rt.new_id()
    rt("run", "-d", "--bundle", b, cid, check=True)
    import time
    for _ in range(100):
        if rt.state(cid)["status"] == "stopped":
            break
        time.sleep(0.05)
    p = rt("delete", cid)
    assert p.returncode == 0, p.stderr
    assert mark.exists()


def test_poststart_failure_is_an_error(rt, tmp_path):
    h = hook_script(tmp_path, "bad.sh", "exit 1\n")
    cfg = rt.config(["sleep", "30"])
    cfg["hooks"] = {"poststart": [{"path": h}]}
    b = rt.bundle(cfg)
    cid = rt.new_id()
    rt("create", "--bundle", b, cid, check=True)
    p = rt("start", cid)
    assert p.returncode == 1 and "poststart hook #0" in p.stderr


def test_missing_hook_binary(rt):
    cfg = rt.config(["true"])
    cfg["hooks"] = {"createRuntime": [{"path": "/nonexistent/hook"}]}
    p = rt.run(cfg)
    assert p.returncode == 1 and "/nonexistent/hook" in p.stderr
    assert not os.path.isdir(rt.root) or os.listdir(rt.root) == []


def test_start_container_hook_failure_fails_start(rt, tmp_path):
    h = hook_script(tmp_path, "bad.sh", "echo nope >&2; exit 2\n")
    cfg = rt.config(["true"])
    cfg["hooks"] = {"startContainer": [{"path": h}]}
    cfg["mounts"].append({"destination": str(tmp_path), "type": "bind", "source": str(tmp_path),
                          "options": ["rbind"]})
    b = rt.bundle(cfg)
    cid = rt.new_id()
    rt("create", "--bundle", b, cid, check=True)
    p = rt("start", cid)
    assert p.returncode == 1
    assert "startContainer hook #0" in p.stderr and "exit status 2" in p.stderr


def test_failing_prestart_hook_still_runs_poststop(rt, tmp_path):
    mark = tmp_path / "poststop-ran"
    bad = hook_script(tmp_path, "bad.sh", "exit 1\n")
    post = hook_script(tmp_path, "post.sh", f"cat > {mark}\n")
    cfg = rt.config(["true"])
    cfg["hooks"] = {"prestart": [{"path": bad}], "poststop": [{"path": post}]}
    b = rt.bundle(cfg)
    cid = rt.new_id()
    p = rt("create", "--bundle", b, cid)
    assert p.returncode == 1 and "prestart hook #0" in p.stderr
    assert json.loads(mark.read_text())["status"] == "stopped"
    assert not os.path.isdir(rt.root) or os.listdir(rt.root) == []
