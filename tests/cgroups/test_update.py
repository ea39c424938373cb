"""Pure tests: runc's update flags and resources documents as a resources delta."""

import pytest

from pyrunc.cgroups import CgroupError, update_resources
from pyrunc.cgroups.update import ram_in_bytes


@pytest.mark.parametrize("text, value", [
    ("1024", 1024), ("512k", 512 << 10), ("512K", 512 << 10), ("64m", 64 << 20), ("64MB", 64 << 20),
    ("1.5g", 3 << 29), ("2GiB", 2 << 30), ("1t", 1 << 40), ("10 b", 10), ("-1", -1),
])
def test_sizes(text, value):
    assert ram_in_bytes(text, "memory") == value


@pytest.mark.parametrize("text", ["", "abc", "12x", "-5", "1..5m", "m"])
def test_bad_sizes(text):
    with pytest.raises(CgroupError, match="--memory: invalid value"):
        ram_in_bytes(text, "memory")


def test_flags():
    res = update_resources({"memory": "256m", "memory-swap": "-1", "memory_reservation": "128m",
                            "cpu-share": "512", "cpu-quota": "-1", "cpu-period": "100000",
                            "cpuset-cpus": "0-1", "cpuset-mems": "0", "pids-limit": "100",
                            "blkio-weight": "300", "kernel-memory": None})
    assert res == {"memory": {"limit": 256 << 20, "swap": -1, "reservation": 128 << 20},
                   "cpu": {"shares": 512, "quota": -1, "period": 100000, "cpus": "0-1", "mems": "0"},
                   "pids": {"limit": 100}, "blockIO": {"weight": 300}}


def test_flags_left_out_or_zero_change_nothing():
    assert update_resources({}) == {}
    assert update_resources({"pids-limit": "0", "blkio-weight": "0", "memory": ""}) == {}
    assert update_resources({"cpu-shares": "2"}) == {"cpu": {"shares": 2}}
    assert update_resources({"pids-limit": "-1"}) == {"pids": {"limit": -1}}


@pytest.mark.parametrize("flags, message", [
    ({"cpu-period": "-5"}, "--cpu-period: invalid value '-5': must not be negative"),
    ({"cpu-quota": "1.5"}, "--cpu-quota: invalid value '1.5': not an integer"),
    ({"blkio-weight": "5"}, "--blkio-weight: 5: must be between 10 and 1000"),
    ({"memory-swap": "lots"}, "--memory-swap: invalid value 'lots'"),
])
def test_flag_errors(flags, message):
    with pytest.raises(CgroupError, match=message):
        update_resources(flags)


def test_docker_document_with_zero_fields():
    doc = ('{"memory":{"limit":0,"reservation":0,"swap":0,"kernel":0,"kernelTCP":0},'
           '"cpu":{"shares":0,"quota":0,"period":0,"realtimeRuntime":0,"realtimePeriod":0,"cpus":"","mems":""},'
           '"blockIO":{"weight":0},"pids":{"limit":0}}')
    assert update_resources(document=doc) == {}
    doc = {"memory": {"limit": 1 << 30, "swap": 0}, "cpu": {"quota": 20000, "cpus": ""},
           "pids": {"limit": 0}, "unified": {"memory.high": "100"}, "devices": [{"allow": True}]}
    assert update_resources({"memory": "1m"}, doc) == {
        "memory": {"limit": 1 << 30}, "cpu": {"quota": 20000}, "unified": {"memory.high": "100"}}


@pytest.mark.parametrize("doc, message", [
    ("{not json", "invalid json"), ("[]", "must be a json object"),
    ({"memory": {"limit": "1g"}}, r"memory\.limit: must be an integer"),
    ({"cpu": {"cpus": 3}}, r"cpu\.cpus: must be a string"),
    ({"memory": []}, "memory: must be an object"),
    ({"unified": {"memory.high": 5}}, "unified: must map file names to strings"),
])
def test_document_errors(doc, message):
    with pytest.raises(CgroupError, match=message):
        update_resources(document=doc)
