"""The command line: usage, progress on a terminal, interruption, odd blobs."""

import os
import pty
import select
import signal
import subprocess
import threading
import time

from unpack_helpers import UNPACK, error_line, images, unpack


def test_usage_errors(tmp_path):
    proc = unpack()
    assert proc.returncode == 2 and "usage: pyrunc-unpack" in proc.stderr
    proc = unpack("--help")
    assert proc.returncode == 0 and "--platform" in proc.stdout and "--rootless" in proc.stdout


def test_progress_on_a_terminal(tmp_path):
    layout = images.busybox_oci_layout(str(tmp_path / "layout"))
    master, slave = pty.openpty()
    proc = subprocess.Popen([UNPACK, f"oci:{layout}", str(tmp_path / "b")], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 30)
        if not r:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=30) == 0
    os.close(master)
    text = out.decode()
    assert "layer 1/1 sha256:" in text and " MB" in text, text
    # Not on a pipe: quiet.
    proc = unpack(f"oci:{layout}", str(tmp_path / "b2"), check=0)
    assert proc.stderr == ""


def test_blob_that_is_a_fifo(tmp_path):
    layout = str(tmp_path / "layout")
    desc = images.write_oci_layout(layout, [images.busybox_layer()])
    import json
    with open(os.path.join(layout, "blobs", "sha256", desc["digest"].split(":")[1])) as f:
        layer = json.load(f)["layers"][0]["digest"]
    path = os.path.join(layout, "blobs", "sha256", layer.split(":")[1])
    os.unlink(path)
    os.mkfifo(path)
    proc = unpack(f"oci:{layout}", str(tmp_path / "b"), check=1, timeout=30)
    assert "not a regular file" in error_line(proc) and layer in proc.stderr
    assert not (tmp_path / "b").exists()


def test_blob_that_is_a_symlink(tmp_path):
    layout = str(tmp_path / "layout")
    desc = images.write_oci_layout(layout, [images.busybox_layer()], compression="")
    import json
    with open(os.path.join(layout, "blobs", "sha256", desc["digest"].split(":")[1])) as f:
        layer = json.load(f)["layers"][0]["digest"]
    path = os.path.join(layout, "blobs", "sha256", layer.split(":")[1])
    os.rename(path, str(tmp_path / "elsewhere"))
    os.symlink(str(tmp_path / "elsewhere"), path)
    proc = unpack(f"oci:{layout}", str(tmp_path / "b"), check=1)
    assert layer in error_line(proc)
    assert not (tmp_path / "b").exists()


def test_sigterm_removes_the_half_made_bundle(tmp_path):
    """A registry that stalls mid-blob; SIGTERM during the unpack: exit 130
    and no bundle left."""
    import http.server
    layer = images.busybox_layer()
    import gzip
    import json
    gz = gzip.compress(layer)
    config = json.dumps(images.image_config([images.sha256(layer)])).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": images.OCI_MANIFEST,
                           "config": {"mediaType": images.OCI_CONFIG, "digest": images.sha256(config),
                                      "size": len(config)},
                           "layers": [{"mediaType": images.LAYER_MT["gzip"], "digest": images.sha256(gz),
                                       "size": len(gz)}]}).encode()
    release = threading.Event()

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            if "/manifests/" in self.path:
                body, ctype = manifest, images.OCI_MANIFEST
            elif self.path.endswith(images.sha256(config)):
                body, ctype = config, "application/octet-stream"
            elif "/blobs/" in self.path:
                self.send_response(200)
                self.send_header("Content-Length", str(len(gz)))
                self.end_headers()
                self.wfile.write(gz[:len(gz) // 2])
                self.wfile.flush()
                release.wait(60)
                return
            else:
                body, ctype = b"{}", "application/json"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    bundle = tmp_path / "b"
    try:
        proc = subprocess.Popen([UNPACK, "--insecure", f"docker://127.0.0.1:{srv.server_address[1]}/x/y:z",
                                 str(bundle)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not (bundle / "rootfs" / "bin").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (bundle / "rootfs").exists(), "unpack did not start"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "interrupted" in err
        assert not bundle.exists()
    finally:
        release.set()
        srv.shutdown()
        srv.server_close()
