"""Pure parts of the suite: schema checks, parsers, case selection."""
from conformance import schema
from conformance.cases.common import kv
from conformance.cases.mounts import mountinfo
from conformance.runner import select


def test_state_schema_accepts_a_good_document():
    assert schema.state({"ociVersion": "1.0.2", "id": "a", "status": "running", "pid": 4, "bundle": "/b"}) == []


def test_state_schema_rejects():
    assert "status: 'starting' is not one of" in schema.state(
        {"ociVersion": "1", "id": "a", "status": "starting", "bundle": "/b"})[0]
    assert schema.state({"id": "a", "status": "stopped", "bundle": "/b"}) == ["ociVersion: required"]
    assert schema.state({"ociVersion": "1", "id": "a", "status": "created", "bundle": "/b"}) == [
        "pid: required when status is created or running"]
    assert schema.state({"ociVersion": "1", "id": "a", "status": "stopped", "bundle": "/b", "pid": True}) == [
        "pid: must be a non-negative integer"]
    assert schema.state([]) == ["state is not an object"]


def test_features_schema():
    good = {"ociVersionMin": "1.0.0", "ociVersionMax": "1.2.0", "hooks": ["prestart"], "linux": {"cgroup": {}}}
    assert schema.features(good) == []
    assert schema.features({"ociVersionMin": "1.0.0"}) == ["ociVersionMax: required"]
    assert schema.features(dict(good, extra=1)) == ["extra: not a property of the features structure"]
    assert schema.features(dict(good, hooks="prestart")) == ["hooks: must be an array of strings"]


def test_semver():
    assert schema.SEMVER.match("1.0.2-dev")
    assert not schema.SEMVER.match("1.0")


def test_kv_and_mountinfo():
    assert kv("a=1 b=x=y\nc=") == {"a": "1", "b": "x=y", "c": ""}
    line = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue"
    opts, fields, fstype, sup = mountinfo(line)["/mnt2"]
    assert opts == {"rw", "noatime"} and fields == ["master:1", "shared:2"]
    assert fstype == "ext3" and "errors=continue" in sup


def test_select():
    names = [c.name for c in select("lifecycle.kill")]
    assert names and all("lifecycle.kill" in n for n in names)
    assert len(select(None)) >= 150
    assert not any("kill" in c.name for c in select("lifecycle,not kill"))


def _spec_text(path):
    import re
    with open(path) as f:
        t = f.read()
    t = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", t)
    t = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", t)
    t = t.replace("`", "").replace("*", "").replace("\\", "")
    return re.sub(r"\s+", " ", t)


def test_every_quote_is_in_the_spec():
    """Each case's quote, split at "...", appears in the spec file it names.

    The spec's markdown files are read from $CONFORMANCE_SPEC_DIR (runtime-spec v1.3.0);
    a trailing "[note]" in a quote is the suite's own gloss and is not looked up.
    """
    import os
    import re

    import pytest
    d = os.environ.get("CONFORMANCE_SPEC_DIR", "")
    if not os.path.exists(os.path.join(d, "config.md")):
        pytest.skip("set CONFORMANCE_SPEC_DIR to a runtime-spec v1.3.0 checkout")
    texts = {}
    missing = []
    for c in select(None):
        if c.spec_file not in texts:
            texts[c.spec_file] = _spec_text(os.path.join(d, c.spec_file))
        q = c.quote.strip()
        if q.endswith("]") and " [" in q:
            q = q.rsplit(" [", 1)[0]
        for part in (p.strip(" .:") for p in q.split("...")):
            if len(part) >= 12 and re.sub(r"\s+", " ", part) not in texts[c.spec_file]:
                missing.append(f"{c.name}: {part}")
    assert not missing
