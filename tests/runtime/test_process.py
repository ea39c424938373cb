"""process.*: user, groups, capabilities, env, cwd, rlimits, umask, no_new_privs,
oomScoreAdj, observed from inside the container."""

import pytest


def out(rt, cfg):
    p = rt.run(cfg)
    assert p.returncode == 0, p.stderr
    return p.stdout


def status_field(text, name):
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in {text!r}")


def test_user_and_groups(rt):
    cfg = rt.config(["sh", "-c", "id -u; id -g; id -G"])
    cfg["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [5, 7]}
    lines = out(rt, cfg).split("\n")
    assert lines[0] == "1000" and lines[1] == "1001"
    assert sorted(lines[2].split()) == ["1001", "5", "7"]


def test_capabilities_sets(rt):
    cfg = rt.config(["cat", "/proc/self/status"])
    cfg["process"]["capabilities"] = {
        "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"],
        "effective": ["CAP_KILL", "CAP_CHOWN"],
        "permitted": ["CAP_KILL", "CAP_CHOWN"],
        "inheritable": ["CAP_KILL"],
        "ambient": ["CAP_KILL"],
    }
    text = out(rt, cfg)
    assert int(status_field(text, "CapBnd"), 16) == (1 << 5) | 1 | (1 << 13)
    assert int(status_field(text, "CapEff"), 16) == (1 << 5) | 1
    assert int(status_field(text, "CapPrm"), 16) == (1 << 5) | 1
    assert int(status_field(text, "CapInh"), 16) == 1 << 5
    assert int(status_field(text, "CapAmb"), 16) == 1 << 5


def test_ambient_caps_survive_non_root_user(rt):
    cfg = rt.config(["cat", "/proc/self/status"])
    cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
    caps = ["CAP_NET_BIND_SERVICE"]
    cfg["process"]["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
    text = out(rt, cfg)
    assert int(status_field(text, "CapEff"), 16) == 1 << 10
    assert status_field(text, "Uid").split()[0] == "1000"


def test_env_and_cwd(rt):
    cfg = rt.config(["sh", "-c", "echo $FOO; pwd"])
    cfg["process"]["env"] = ["PATH=/bin", "FOO=bar baz"]
    cfg["process"]["cwd"] = "/tmp"
    assert out(rt, cfg) == "bar baz\n/tmp\n"


def test_cwd_created_when_missing(rt):
    cfg = rt.config(["pwd"])
    cfg["process"]["cwd"] = "/tmp"
    assert out(rt, cfg) == "/tmp\n"


def test_rlimits(rt):
    cfg = rt.config(["sh", "-c", "ulimit -n; ulimit -Hn"])
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]
    assert out(rt, cfg) == "123\n456\n"


def test_umask(rt):
    cfg = rt.config(["sh", "-c", "umask"])
    cfg["process"]["user"]["umask"] = 0o027
    assert out(rt, cfg).strip() == "0027"


@pytest.mark.parametrize("nnp,expected", [(True, "1"), (False, "0")])
def test_no_new_privileges(rt, nnp, expected):
    cfg = rt.config(["cat", "/proc/self/status"])
    cfg["process"]["noNewPrivileges"] = nnp
    assert status_field(out(rt, cfg), "NoNewPrivs") == expected


def test_oom_score_adj(rt):
    cfg = rt.config(["cat", "/proc/self/oom_score_adj"])
    cfg["process"]["oomScoreAdj"] = 123
    assert out(rt, cfg) == "123\n"


def test_personality_linux32(rt):
    cfg = rt.config(["uname", "-m"])
    cfg["linux"]["personality"] = {"domain": "LINUX32"}
    assert out(rt, cfg).strip() in ("i686", "i386", "armv7l", "armv8l")


def test_scheduler_batch(rt):
    cfg = rt.config(["cat", "/proc/self/sched"])
    cfg["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 5}
    text = out(rt, cfg)
    policy = [ln for ln in text.splitlines() if ln.startswith("policy")][0]
    assert policy.split()[-1] == "3"


def test_program_not_found_fails_create(rt):
    b = rt.bundle(args=["/nope"])
    cid = rt.new_id()
    p = rt("create", "--bundle", b, cid)
    assert p.returncode == 1
    assert 'exec: "/nope"' in p.stderr and "no such file" in p.stderr
    p = rt.run(args=["nope-not-here"])
    assert p.returncode == 1 and "executable file not found in $PATH" in p.stderr


def test_unknown_capability_is_a_warning(rt):
    """runc warns and carries on; the spec says an unknown capability SHOULD NOT fail."""
    cfg = rt.config(["cat", "/proc/self/status"])
    cfg["process"]["capabilities"]["bounding"] = ["CAP_KILL", "CAP_FLY"]
    p = rt.run(cfg)
    assert p.returncode == 0, p.stderr
    assert int(status_field(p.stdout, "CapBnd"), 16) == 1 << 5
    assert "ignoring unknown or unavailable capabilities: CAP_FLY" in p.stderr
