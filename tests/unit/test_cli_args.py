"""The argument parser: runc's flag conventions."""

import pytest

from pyrunc.cli.args import Flag, UsageError, parse

FLAGS = [Flag("bundle,b", "str", "."), Flag("detach,d"), Flag("preserve-fds", "int", 0),
         Flag("env,e", "list")]


@pytest.mark.parametrize("argv", [["--bundle", "x", "id"], ["--bundle=x", "id"], ["-b", "x", "id"],
                                  ["-bundle", "x", "id"], ["id", "--bundle", "x"]])
def test_value_forms(argv):
    ns, pos = parse(FLAGS, argv)
    assert ns.bundle == "x" and pos == ["id"]


def test_bool_forms():
    assert parse(FLAGS, ["-d", "x"])[0].detach is True
    assert parse(FLAGS, ["--detach=false", "x"])[0].detach is False
    with pytest.raises(UsageError, match="invalid boolean"):
        parse(FLAGS, ["--detach=maybe"])


def test_int_and_list():
    ns, _ = parse(FLAGS, ["--preserve-fds", "2", "-e", "A=1", "--env=B=2"])
    assert ns.preserve_fds == 2 and ns.env == ["A=1", "B=2"]
    with pytest.raises(UsageError, match="invalid value 'x' for flag -preserve-fds"):
        parse(FLAGS, ["--preserve-fds", "x"])


def test_errors():
    with pytest.raises(UsageError, match="flag provided but not defined: -nope"):
        parse(FLAGS, ["--nope"])
    with pytest.raises(UsageError, match="flag needs an argument: -bundle"):
        parse(FLAGS, ["--bundle"])


def test_stop_at_positional_keeps_command_flags():
    ns, pos = parse(FLAGS, ["-d", "id", "sh", "-c", "echo --bundle"], stop_at_positional=True)
    assert ns.detach and pos == ["id", "sh", "-c", "echo --bundle"]


def test_double_dash():
    ns, pos = parse(FLAGS, ["--", "-d"])
    assert pos == ["-d"] and ns.detach is False


def test_help():
    assert parse(FLAGS, ["--help"])[0].help is True
