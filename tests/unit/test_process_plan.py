"""config.process -> the numbers the init applies."""

import pytest

from pyrunc.errors import ConfigError
from pyrunc.linux import caps
from pyrunc.oci.process import plan_process


def plan(proc):
    base = {"args": ["sh"], "cwd": "/"}
    base.update(proc)
    return plan_process(base, "process", caps.NUMBERS, 40)


def test_caps_masks():
    p = plan({"capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "ambient": ["CAP_KILL"]}})
    assert p.caps["bounding"] == (1 << 5) | 1
    assert p.caps["ambient"] == 1 << 5
    assert p.caps["effective"] == 0


def test_unknown_cap_is_skipped_and_reported():
    p = plan({"capabilities": {"bounding": ["CAP_KILL", "CAP_NOPE"], "effective": ["CAP_NOPE"]}})
    assert p.caps["bounding"] == 1 << 5
    assert p.ignored_caps == ["CAP_NOPE"]


def test_cap_newer_than_kernel_is_skipped():
    p = plan_process({"args": ["sh"], "capabilities": {"bounding": ["CAP_CHECKPOINT_RESTORE"]}},
                     "process", caps.NUMBERS, 39)
    assert p.caps["bounding"] == 0
    assert p.ignored_caps == ["CAP_CHECKPOINT_RESTORE"]


def test_rlimits():
    p = plan({"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}]})
    assert p.rlimits == [(7, 10, 20)]
    with pytest.raises(ConfigError, match=r"process.rlimits\[1\].type: duplicate rlimit"):
        plan({"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}] * 2})
    with pytest.raises(ConfigError, match=r"process.rlimits\[0\].type: unknown rlimit"):
        plan({"rlimits": [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]})


def test_args_required():
    with pytest.raises(ConfigError, match="process.args: must not be empty"):
        plan_process({"args": []})


def test_scheduler_and_ioprio():
    p = plan({"scheduler": {"policy": "SCHED_BATCH", "nice": 3, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
              "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0}})
    assert p.scheduler["policy"] == 3 and p.scheduler["nice"] == 3 and p.scheduler["flags"] == 1
    assert p.io_priority == (3, 0)
    with pytest.raises(ConfigError, match="process.scheduler.policy"):
        plan({"scheduler": {"policy": "SCHED_NOPE"}})
