"""Terminals: the console socket contract and foreground run in a pty."""

import array
import os
import pty
import socket
import subprocess
import threading


def console_server(path):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    result = {}

    def accept():
        conn, _ = srv.accept()
        fds = array.array("i")
        msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4))
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[:4])
        result["name"] = msg
        result["fd"] = fds[0]
        conn.close()
        srv.close()

    t = threading.Thread(target=accept)
    t.start()
    return t, result


def read_all(fd):
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


def test_console_socket_receives_pty_master(rt, tmp_path):
    sock = str(tmp_path / "console.sock")
    t, result = console_server(sock)
    cfg = rt.config(["sh", "-c", "tty; stty size; echo done"])
    cfg["process"]["terminal"] = True
    cfg["process"]["consoleSize"] = {"height": 33, "width": 111}
    b = rt.bundle(cfg)
    cid = rt.new_id()
    p = rt("create", "--bundle", b, "--console-socket", sock, cid)
    assert p.returncode == 0, p.stderr
    t.join(10)
    assert "fd" in result
    rt("start", cid, check=True)
    out = read_all(result["fd"]).decode()
    os.close(result["fd"])
    assert "/dev/pts/0" in out
    assert "33 111" in out
    assert "done" in out


def test_terminal_without_console_socket_is_refused_for_create(rt):
    cfg = rt.config(["true"])
    cfg["process"]["terminal"] = True
    b = rt.bundle(cfg)
    cid = rt.new_id()
    p = rt("create", "--bundle", b, cid)
    assert p.returncode == 1 and "console socket" in p.stderr
    assert not os.path.isdir(rt.root) or os.listdir(rt.root) == []


def test_console_socket_without_terminal_is_refused(rt, tmp_path):
    b = rt.bundle(args=["true"])
    p = rt("create", "--bundle", b, "--console-socket", str(tmp_path / "s"), rt.new_id())
    assert p.returncode == 1 and "console socket" in p.stderr


def test_foreground_run_with_terminal(rt):
    cfg = rt.config(["sh", "-c", "tty; echo hi-tty; exit 4"])
    cfg["process"]["terminal"] = True
    b = rt.bundle(cfg)
    cid = rt.new_id()
    pid, master = pty.fork()
    if pid == 0:
        os.execv(rt.cmd()[0], rt.cmd("run", "--bundle", b, cid))
    out = read_all(master).decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 4, out
    assert "hi-tty" in out and "/dev/pts/0" in out


def test_stdio_passthrough_without_terminal(rt):
    b = rt.bundle(args=["sh", "-c", "read x; echo got-$x; echo err >&2"])
    cid = rt.new_id()
    p = subprocess.run(rt.cmd("run", "--bundle", b, cid), input="abc\n", capture_output=True,
                       text=True, timeout=30)
    assert p.stdout == "got-abc\n" and p.stderr == "err\n"
