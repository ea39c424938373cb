"""docker:// sources: the distribution's registry server on loopback, filled
by skopeo (anonymous and htpasswd Basic auth), and a small bearer-token
registry written here that serves Docker media types and redirects blobs."""

import base64
import http.server
import json
import os
import socket
import subprocess
import threading
import time
import urllib.request
import warnings

import pytest

from unpack_helpers import error_line, images, requires, unpack

OTHER_ARCH = "riscv64" if images.host_arch() != "riscv64" else "s390x"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bcrypt(password):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))


class DistributionRegistry:
    """docker-registry serve CONFIG on 127.0.0.1, storage in a tmp dir."""

    def __init__(self, workdir, htpasswd=None):
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        cfg = os.path.join(workdir, "config.yml")
        auth = ""
        if htpasswd:
            path = os.path.join(workdir, "htpasswd")
            with open(path, "w") as f:
                f.write("".join(f"{u}:{_bcrypt(p)}\n" for u, p in htpasswd.items()))
            auth = f"auth:\n  htpasswd:\n    realm: pyrunc-test\n    path: {path}\n"
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {os.path.join(workdir, 'data')}\n"
                    f"http:\n  addr: {self.host}\n{auth}")
        self.log = open(os.path.join(workdir, "registry.log"), "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=self.log, stderr=self.log)
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1).close()
                return
            except urllib.error.HTTPError:
                return      # 401: up, with auth
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("docker-registry did not start")

    def push(self, source, dest, creds=None, all_images=False):
        cmd = ["skopeo", "copy", "--dest-tls-verify=false"] + (["--all"] if all_images else [])
        if creds:
            cmd += ["--dest-creds", creds]
        subprocess.run(cmd + [source, f"docker://{self.host}/{dest}"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    d = tmp_path_factory.mktemp("registry")
    reg = DistributionRegistry(str(d))
    layout = images.busybox_oci_layout(str(d / "layout"))
    reg.push(f"oci:{layout}:latest", "test/busybox:latest")
    # A two-platform image index: the host's image and another architecture's.
    multi = str(d / "multi")
    host = images.add_image(multi, [images.busybox_layer("host")])
    other = images.add_image(multi, [images.busybox_layer("other")], arch=OTHER_ARCH)
    index = json.dumps({"schemaVersion": 2, "mediaType": images.OCI_INDEX,
                        "manifests": [other, host]}).encode()
    blob = dict(images._put_blob(multi, index), mediaType=images.OCI_INDEX)
    images.write_index(multi, [images.with_ref(blob, "multi")])
    reg.push(f"oci:{multi}:multi", "test/multi:v1", all_images=True)
    reg.layout = layout
    yield reg
    reg.stop()


@requires("docker-registry", "skopeo")
def test_pull_by_tag(registry, tmp_path):
    unpack("--insecure", f"docker://{registry.host}/test/busybox:latest", str(tmp_path / "b"), check=0)
    unpack(f"oci:{registry.layout}", str(tmp_path / "ref"), check=0)
    from unpack_helpers import assert_same_tree
    assert_same_tree(str(tmp_path / "b" / "rootfs"), str(tmp_path / "ref" / "rootfs"))
    with open(tmp_path / "b" / "config.json") as f:
        assert json.load(f)["process"]["args"] == ["/bin/hello"]


@requires("docker-registry", "skopeo")
def test_pull_by_digest(registry, tmp_path):
    req = urllib.request.Request(f"http://{registry.host}/v2/test/busybox/manifests/latest",
                                 headers={"Accept": images.OCI_MANIFEST})
    with urllib.request.urlopen(req) as resp:
        digest = resp.headers["Docker-Content-Digest"]
    unpack("--insecure", f"docker://{registry.host}/test/busybox@{digest}", str(tmp_path / "b"), check=0)
    assert (tmp_path / "b" / "rootfs" / "bin" / "hello").exists()


@requires("docker-registry", "skopeo")
def test_index_platform_selection(registry, tmp_path):
    unpack("--insecure", f"docker://{registry.host}/test/multi:v1", str(tmp_path / "h"), check=0)
    assert b"host" in (tmp_path / "h" / "rootfs" / "bin" / "hello").read_bytes()
    unpack("--insecure", "--platform", f"linux/{OTHER_ARCH}", f"docker://{registry.host}/test/multi:v1",
           str(tmp_path / "o"), check=0)
    assert b"other" in (tmp_path / "o" / "rootfs" / "bin" / "hello").read_bytes()
    proc = unpack("--insecure", "--platform", "linux/mips64le", f"docker://{registry.host}/test/multi:v1",
                  str(tmp_path / "x"), check=1)
    assert "no manifest for platform linux/mips64le" in error_line(proc)
    assert not (tmp_path / "x").exists()


@requires("docker-registry", "skopeo")
def test_unknown_tag(registry, tmp_path):
    proc = unpack("--insecure", f"docker://{registry.host}/test/busybox:nope", str(tmp_path / "b"), check=1)
    line = error_line(proc)
    assert "busybox:nope" in line and "404" in line
    assert not (tmp_path / "b").exists()


@requires("docker-registry", "skopeo")
def test_plain_http_needs_insecure(registry, tmp_path):
    proc = unpack(f"docker://{registry.host}/test/busybox:latest", str(tmp_path / "b"), check=1)
    assert "--insecure" in error_line(proc)


@requires("docker-registry", "skopeo")
def test_basic_auth(tmp_path):
    reg = DistributionRegistry(str(tmp_path), htpasswd={"alice": "s3cret"})
    try:
        layout = images.busybox_oci_layout(str(tmp_path / "layout"))
        reg.push(f"oci:{layout}:latest", "private/busybox:latest", creds="alice:s3cret")
        src = f"docker://{reg.host}/private/busybox:latest"
        home = tmp_path / "home"
        (home / ".docker").mkdir(parents=True)
        env = dict(os.environ, HOME=str(home), XDG_RUNTIME_DIR=str(tmp_path / "nonexistent"))
        env.pop("REGISTRY_AUTH_FILE", None)
        env.pop("DOCKER_CONFIG", None)
        proc = unpack("--insecure", src, str(tmp_path / "b0"), env=env, check=1)
        assert "authentication required" in error_line(proc)
        # docker's config.json ...
        auth = base64.b64encode(b"alice:s3cret").decode()
        with open(home / ".docker" / "config.json", "w") as f:
            json.dump({"auths": {f"http://{reg.host}": {"auth": auth}}}, f)
        unpack("--insecure", src, str(tmp_path / "b1"), env=env, check=0)
        # ... and containers-auth.json, which comes first (a wrong password here must be used).
        wrong = base64.b64encode(b"alice:wrong").decode()
        with open(tmp_path / "auth.json", "w") as f:
            json.dump({"auths": {reg.host: {"auth": wrong}}}, f)
        proc = unpack("--insecure", src, str(tmp_path / "b2"),
                      env=dict(env, REGISTRY_AUTH_FILE=str(tmp_path / "auth.json")), check=1)
        assert "401" in error_line(proc)
        assert not (tmp_path / "b2").exists()
    finally:
        reg.stop()


# -- a bearer-token registry serving Docker media types --------------------------------

DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


class BearerRegistry(http.server.ThreadingHTTPServer):
    """Serves library/busybox as a Docker manifest list; needs a token from
    /token (Basic alice:pw); blobs redirect to /storage, which must not see
    the Authorization header."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.host = f"127.0.0.1:{self.server_address[1]}"
        self.blobs, self.manifests = {}, {}
        self.leaked_auth = False
        layer = images.busybox_layer()
        gz = images.compress(layer, "gzip")
        config = json.dumps(images.image_config([images.sha256(layer)])).encode()
        self.blobs = {images.sha256(gz): gz, images.sha256(config): config}
        manifest = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                               "config": {"mediaType": DOCKER_CONFIG, "size": len(config),
                                          "digest": images.sha256(config)},
                               "layers": [{"mediaType": DOCKER_LAYER, "size": len(gz),
                                           "digest": images.sha256(gz)}]}).encode()
        mlist = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
            {"mediaType": DOCKER_MANIFEST, "size": len(manifest), "digest": images.sha256(manifest),
             "platform": {"os": "linux", "architecture": images.host_arch()}}]}).encode()
        self.manifests = {"latest": (DOCKER_LIST, mlist), images.sha256(manifest): (DOCKER_MANIFEST, manifest)}
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()
        self.thread.join()


class _Handler(http.server.BaseHTTPRequestHandler):
    TOKEN = "t0ken"

    def log_message(self, *args):
        pass

    def _send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        srv = self.server
        auth = self.headers.get("Authorization", "")
        path = self.path.split("?")[0]
        if path == "/token":
            want = "Basic " + base64.b64encode(b"alice:pw").decode()
            if auth != want or "scope=repository%3Alibrary%2Fbusybox%3Apull" not in self.path:
                return self._send(401)
            return self._send(200, json.dumps({"token": self.TOKEN}).encode())
        if path.startswith("/storage/"):
            srv.leaked_auth |= bool(auth)
            return self._send(200, srv.blobs[path[len("/storage/"):]])
        if auth != "Bearer " + self.TOKEN:
            realm = f'Bearer realm="http://{srv.host}/token",service="fake",scope="repository:library/busybox:pull"'
            return self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', [("WWW-Authenticate", realm)])
        prefix = "/v2/library/busybox/"
        if path == "/v2/":
            return self._send(200, b"{}")
        if path.startswith(prefix + "manifests/"):
            ref = path[len(prefix + "manifests/"):]
            if ref not in srv.manifests:
                return self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')
            mt, body = srv.manifests[ref]
            return self._send(200, body, [("Content-Type", mt),
                                          ("Docker-Content-Digest", images.sha256(body))])
        if path.startswith(prefix + "blobs/"):
            return self._send(307, headers=[("Location", f"/storage/{path[len(prefix + 'blobs/'):]}")])
        return self._send(404)


@pytest.fixture
def bearer():
    srv = BearerRegistry()
    yield srv
    srv.stop()


def test_bearer_token_docker_manifest_list(bearer, tmp_path):
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"auths": {bearer.host: {"auth": base64.b64encode(b"alice:pw").decode()}}}))
    env = dict(os.environ, REGISTRY_AUTH_FILE=str(auth))
    unpack("--insecure", f"docker://{bearer.host}/library/busybox", str(tmp_path / "b"), env=env, check=0)
    assert (tmp_path / "b" / "rootfs" / "bin" / "hello").exists()
    assert not bearer.leaked_auth, "Authorization header followed a redirect"


def test_bearer_token_refused_without_credentials(bearer, tmp_path):
    env = dict(os.environ, REGISTRY_AUTH_FILE=str(tmp_path / "none.json"), HOME=str(tmp_path))
    proc = unpack("--insecure", f"docker://{bearer.host}/library/busybox", str(tmp_path / "b"), env=env, check=1)
    assert "token" in error_line(proc) and "401" in proc.stderr
    assert not (tmp_path / "b").exists()


def test_bearer_blob_corrupted_in_transit(bearer, tmp_path):
    digest = next(d for d, b in bearer.blobs.items() if b[:2] == b"\x1f\x8b")
    bearer.blobs[digest] = bearer.blobs[digest][:-10] + b"\0" * 10
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"auths": {bearer.host: {"auth": base64.b64encode(b"alice:pw").decode()}}}))
    proc = unpack("--insecure", f"docker://{bearer.host}/library/busybox", str(tmp_path / "b"),
                  env=dict(os.environ, REGISTRY_AUTH_FILE=str(auth)), check=1)
    assert "digest mismatch" in error_line(proc) and digest[:19] in proc.stderr
    assert not (tmp_path / "b").exists()
