"""Status rules, timestamps and process identity."""

import os
import re
import subprocess

from pyrunc.oci import state as S


def test_transition_table():
    assert S.allowed("start", S.CREATED)
    assert not S.allowed("start", S.RUNNING)
    assert S.allowed("delete", S.STOPPED) and not S.allowed("delete", S.RUNNING)
    assert S.allowed("kill", S.PAUSED) and not S.allowed("kill", S.STOPPED)
    assert S.allowed("resume", S.PAUSED) and not S.allowed("resume", S.RUNNING)


def test_timestamp_format():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", S.timestamp())


def test_start_time_detects_recycled_pid():
    p = subprocess.Popen(["sleep", "5"])
    try:
        t = S.proc_start_time(p.pid)
        assert t is not None and S.is_alive(p.pid, t)
        assert not S.is_alive(p.pid, t + 1)  # same pid, another process
    finally:
        p.kill()
        p.wait()
    assert S.proc_start_time(p.pid) is None


def test_zombie_is_not_alive():
    p = subprocess.Popen(["true"])
    t = None
    for _ in range(200):
        t = S.proc_start_time(p.pid)
        if t is None:
            break
        os.sched_yield()
    p.wait()
    assert S.proc_start_time(p.pid) is None
