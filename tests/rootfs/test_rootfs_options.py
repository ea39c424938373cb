"""Pure tests of the mount option table (pyrunc.oci.mounts)."""

import pytest

from pyrunc.errors import ConfigError
from pyrunc.oci import mounts as m
from pyrunc.oci.mounts import parse_options, parse_propagation

SET = {k: f for k, (clear, f) in m.FLAGS.items() if not clear}
CLEAR = {k: f for k, (clear, f) in m.FLAGS.items() if clear}


@pytest.mark.parametrize("opt", sorted(SET))
def test_every_setting_option(opt):
    o = parse_options([opt])
    assert o.flags == SET[opt]
    assert o.data == "" and o.propagation == [] and not o.recursive_attrs


@pytest.mark.parametrize("opt", sorted(CLEAR))
def test_every_clearing_option_undoes_its_flag(opt):
    flag = CLEAR[opt]
    setter = next(k for k, f in SET.items() if f == flag)
    assert parse_options([setter, opt]).flags == 0
    assert parse_options([opt, setter]).flags == flag


def test_runc_table_is_complete():
    # Every option runc 1.1 accepts, by name.
    names = ("acl async atime bind defaults dev diratime dirsync exec iversion lazytime loud "
             "mand noacl noatime nodev nodiratime noexec noiversion nolazytime nomand "
             "norelatime nostrictatime nosuid nosymfollow rbind relatime remount ro rw "
             "silent strictatime suid sync symfollow").split()
    assert set(names) == set(m.FLAGS)
    assert set(m.PROPAGATION) == {"private", "rprivate", "shared", "rshared", "slave",
                                  "rslave", "unbindable", "runbindable"}
    assert {"rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec",
            "rnodiratime", "rdiratime", "rrelatime", "rnorelatime", "ratime", "rnoatime",
            "rstrictatime", "rnostrictatime", "rnosymfollow", "rsymfollow"} == set(m.RECURSIVE)


def test_values_match_the_kernel_abi():
    assert (m.MS_RDONLY, m.MS_NOSUID, m.MS_NODEV, m.MS_NOEXEC) == (1, 2, 4, 8)
    assert (m.MS_BIND, m.MS_REC, m.MS_PRIVATE, m.MS_SLAVE, m.MS_SHARED) == \
        (4096, 16384, 1 << 18, 1 << 19, 1 << 20)
    assert m.MS_STRICTATIME == 1 << 24 and m.MS_RELATIME == 1 << 21


def test_rbind_is_bind_and_rec():
    o = parse_options(["rbind", "ro", "nosuid"])
    assert o.bind and o.flags == m.MS_BIND | m.MS_REC | m.MS_RDONLY | m.MS_NOSUID


def test_atime_modes_last_wins():
    assert parse_options(["noatime", "strictatime"]).flags == m.MS_STRICTATIME
    assert parse_options(["strictatime", "relatime"]).flags == m.MS_RELATIME
    assert parse_options(["relatime", "norelatime"]).flags == 0


@pytest.mark.parametrize("opt,prop", sorted(m.PROPAGATION.items()))
def test_propagation_options(opt, prop):
    o = parse_options(["bind", opt])
    assert o.propagation == [prop] and o.flags == m.MS_BIND


def test_propagation_keeps_order():
    o = parse_options(["rprivate", "shared"])
    assert o.propagation == [m.MS_PRIVATE | m.MS_REC, m.MS_SHARED]


@pytest.mark.parametrize("opt", sorted(m.RECURSIVE))
def test_recursive_options(opt):
    attr_set, attr_clr = m.RECURSIVE[opt]
    o = parse_options([opt])
    assert (o.attr_set, o.attr_clr) == (attr_set, attr_clr)
    assert o.flags == 0 and o.data == ""


def test_recursive_atime_always_clears_the_whole_field():
    # mount_setattr(2) rejects an atime change without all of MOUNT_ATTR__ATIME in attr_clr.
    for opt in ("ratime", "rnoatime", "rstrictatime", "rnostrictatime", "rrelatime",
                "rnorelatime"):
        assert parse_options([opt]).attr_clr & m.MOUNT_ATTR__ATIME == m.MOUNT_ATTR__ATIME
    o = parse_options(["rnoatime", "rstrictatime"])
    assert o.attr_set == m.MOUNT_ATTR_STRICTATIME


def test_recursive_pairs_cancel():
    o = parse_options(["rro", "rrw"])
    assert (o.attr_set, o.attr_clr) == (0, m.MOUNT_ATTR_RDONLY)
    o = parse_options(["rnosuid", "rnodev", "rsuid"])
    assert o.attr_set == m.MOUNT_ATTR_NODEV and o.attr_clr == m.MOUNT_ATTR_NOSUID


def test_unknown_options_are_filesystem_data():
    o = parse_options(["nosuid", "mode=755", "size=65536k", "newinstance"])
    assert o.flags == m.MS_NOSUID
    assert o.data == "mode=755,size=65536k,newinstance"


def test_tmpcopyup_is_an_extension():
    o = parse_options(["tmpcopyup", "mode=1777"])
    assert o.extensions == {"tmpcopyup"} and o.data == "mode=1777"


def test_none_is_empty():
    o = parse_options(None)
    assert (o.flags, o.data, o.propagation) == (0, "", [])


@pytest.mark.parametrize("options,path,words", [
    (["ro", 5], "mounts[3].options[1]", "must be a string"),
    (["", "ro"], "mounts[3].options[0]", "must not be empty"),
    (["mode=755,uid=0"], "mounts[3].options[0]", "must not contain"),
    (["a\0b"], "mounts[3].options[0]", "must not contain"),
    (["bind", "idmap"], "mounts[3].options[1]", "id-mapped"),
    (["ridmap"], "mounts[3].options[0]", "id-mapped"),
    ("ro", "mounts[3].options", "array"),
])
def test_bad_options(options, path, words):
    with pytest.raises(ConfigError) as e:
        parse_options(options, "mounts[3]")
    assert e.value.path == path and words in str(e.value)
    assert str(e.value).startswith(f"config.json: {path}: ")


def test_root_propagation():
    assert parse_propagation(None) == 0 and parse_propagation("") == 0
    assert parse_propagation("rslave") == m.MS_SLAVE | m.MS_REC
    assert parse_propagation("shared") == m.MS_SHARED
    with pytest.raises(ConfigError, match="linux.rootfsPropagation: 'bogus'"):
        parse_propagation("bogus")
