"""Pull an image from a registry through the OCI distribution API.

GET /v2/ finds the scheme and the authentication challenge; a 401 answer's
WWW-Authenticate header selects Bearer (a token from the realm, asked for
with the credentials if there are any) or Basic.  Credentials come from the
files podman, skopeo and docker write (containers-auth.json(5)).  Manifests
are fetched with every supported media type accepted and checked against
their digest; layer blobs are streamed straight into LayerStream, which
verifies them while they are applied.  The Authorization header is never
forwarded on redirects: blob storage elsewhere gets only its signed URL.
"""

import base64
import json
import os
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request

from pyrunc.image import manifest as M
from pyrunc.image.errors import ImageError
from pyrunc.image.source import DOCKER_HUB, DOCKER_HUB_API
from pyrunc.image.store import _BlobSource, short, verify

TIMEOUT = 60
_CHALLENGE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def auth_files():
    """containers-auth.json(5) search order, then docker's config.json."""
    env = os.environ
    home = os.path.expanduser("~")
    files = []
    if env.get("REGISTRY_AUTH_FILE"):
        files.append(env["REGISTRY_AUTH_FILE"])
    if env.get("XDG_RUNTIME_DIR"):
        files.append(os.path.join(env["XDG_RUNTIME_DIR"], "containers", "auth.json"))
    files.append(os.path.join(env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"),
                              "containers", "auth.json"))
    files.append(os.path.join(env.get("DOCKER_CONFIG") or os.path.join(home, ".docker"), "config.json"))
    return files


def _norm_key(key):
    key = re.sub(r"^https?://", "", key).rstrip("/")
    key = re.sub(r"/v[12]$", "", key)
    if key in ("index.docker.io", "registry-1.docker.io"):
        key = DOCKER_HUB
    return key


def find_credentials(host, repo, files=None):
    """(user, password) for host/repo, the most specific entry first; None if none."""
    host = _norm_key(host)
    wanted = [f"{host}/{repo}"]
    parts = repo.split("/")
    wanted += [f"{host}/{'/'.join(parts[:i])}" for i in range(len(parts) - 1, 0, -1)]
    wanted.append(host)
    for path in files if files is not None else auth_files():
        try:
            with open(path, "rb") as f:
                auths = json.load(f).get("auths") or {}
        except (OSError, ValueError, AttributeError):
            continue
        table = {_norm_key(k): v for k, v in auths.items() if isinstance(v, dict)}
        for key in wanted:
            entry = table.get(key)
            if entry and entry.get("auth"):
                try:
                    user, _, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    raise ImageError(f"{path}: auths.{key}.auth: invalid base64") from None
                return user, password
    return None


def parse_challenge(header):
    """'Bearer realm="...",service="...",scope="..."' -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _CHALLENGE.finditer(rest)}
    return scheme.lower(), params


class Registry(_BlobSource):
    def __init__(self, source, insecure=False, credentials=None, auth_paths=None):
        self.host = DOCKER_HUB_API if source.host == DOCKER_HUB else source.host
        self.repo = source.repo
        self.source = source
        self.insecure = insecure
        self.name = f"docker://{source.host}/{source.repo}"
        self.creds = credentials if credentials is not None else \
            find_credentials(source.host, source.repo, auth_paths)
        self.auth = None            # the Authorization header value, once known
        ctx = ssl.create_default_context()
        if insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx))
        self.base = None

    # -- HTTP -----------------------------------------------------------------------

    def _ping(self):
        schemes = ["https", "http"] if self.insecure else ["https"]
        last = None
        for scheme in schemes:
            try:
                self._open(f"{scheme}://{self.host}/v2/", retry_auth=False).close()
                self.base = f"{scheme}://{self.host}"
                return
            except urllib.error.HTTPError as e:
                # 401 is the normal answer of a registry with authentication.
                self.base = f"{scheme}://{self.host}"
                if e.code == 401:
                    self._authenticate(e.headers.get("WWW-Authenticate", ""))
                return
            except (urllib.error.URLError, OSError, ssl.SSLError) as e:
                last = e
        reason = getattr(last, "reason", last)
        hint = "" if self.insecure else " (plain http needs --insecure)"
        raise ImageError(f"registry {self.host}: cannot connect: {reason}{hint}")

    def _open(self, url, accept=None, retry_auth=True):
        req = urllib.request.Request(url)
        if accept:
            req.add_header("Accept", ", ".join(accept))
        if self.auth:
            req.add_unredirected_header("Authorization", self.auth)
        try:
            return self.opener.open(req, timeout=TIMEOUT)
        except urllib.error.HTTPError as e:
            if e.code == 401 and retry_auth:
                e.close()
                self._authenticate(e.headers.get("WWW-Authenticate", ""), force=True)
                return self._open(url, accept, retry_auth=False)
            raise

    def _authenticate(self, header, force=False):
        scheme, params = parse_challenge(header)
        if scheme == "basic":
            if not self.creds:
                raise ImageError(f"registry {self.host}: authentication required, "
                                 f"and no credentials for it in {', '.join(auth_files())}")
            self.auth = "Basic " + base64.b64encode(":".join(self.creds).encode()).decode()
        elif scheme == "bearer":
            self.auth = "Bearer " + self._token(params)
        elif force:
            raise ImageError(f"registry {self.host}: unsupported authentication {header!r}")

    def _token(self, params):
        realm = params.get("realm")
        if not realm:
            raise ImageError(f"registry {self.host}: bearer challenge without realm")
        query = {"scope": f"repository:{self.repo}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        req = urllib.request.Request(realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query))
        if self.creds:
            req.add_unredirected_header(
                "Authorization", "Basic " + base64.b64encode(":".join(self.creds).encode()).decode())
        try:
            with self.opener.open(req, timeout=TIMEOUT) as resp:
                doc = json.loads(resp.read(1 << 20))
        except urllib.error.HTTPError as e:
            raise ImageError(f"registry {self.host}: token request to {realm}: http {e.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise ImageError(f"registry {self.host}: token request to {realm}: {getattr(e, 'reason', e)}") from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not token:
            raise ImageError(f"registry {self.host}: token response from {realm} has no token")
        return token

    def _get(self, path, what, accept=None):
        if self.base is None:
            self._ping()
        try:
            return self._open(self.base + path, accept)
        except urllib.error.HTTPError as e:
            raise ImageError(f"{what}: {_http_error(e)}") from None
        except (urllib.error.URLError, OSError) as e:
            raise ImageError(f"{what}: {getattr(e, 'reason', e)}") from None

    # -- image ------------------------------------------------------------------------

    def resolve(self, ref, want):
        src = self.source
        reference = src.digest or src.tag
        what = f"{self.name}:{src.tag}" if not src.digest else f"{self.name}@{src.digest}"
        with self._get(f"/v2/{self.repo}/manifests/{reference}", what, M.ACCEPT) as resp:
            data = resp.read(16 << 20)
            mt = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
            header_digest = resp.headers.get("Docker-Content-Digest", "")
        digest = src.digest or header_digest
        if digest:
            M.check_digest(digest, what)
            verify(data, digest, f"{what}: manifest")
        doc = M.load_json(data, f"{what}: manifest")
        mt = M.media_type_of(doc, mt if mt in M.INDEX_TYPES + M.MANIFEST_TYPES else "")
        if mt in M.INDEX_TYPES:
            entries = M.index_entries(doc, f"{what}: index")
            chosen = M.select_platform(entries, want, f"{what}: index")
            return self.resolve_descriptor(chosen, want, f"manifest {short(chosen.digest)}", 1)
        image = M.parse_manifest(doc, digest, f"{what}: manifest")
        return self.finish(image, want)

    def manifest_bytes(self, desc, what):
        """Manifests live under /manifests/, not /blobs/ (distribution spec)."""
        if desc.size > 16 << 20:
            raise ImageError(f"{what}: manifest {desc.digest}: {desc.size} bytes is too large")
        with self._get(f"/v2/{self.repo}/manifests/{desc.digest}", what, M.ACCEPT) as resp:
            data = resp.read(desc.size + 1)
        if len(data) != desc.size:
            raise ImageError(f"{what}: manifest {desc.digest}: size {len(data)} does not match "
                             f"descriptor size {desc.size}")
        return verify(data, desc.digest, f"{what}: manifest {desc.digest}")

    def open_blob(self, digest, what):
        return self._get(f"/v2/{self.repo}/blobs/{digest}", f"{what}: blob {digest}")


def _http_error(e):
    detail = ""
    try:
        errors = json.loads(e.read(65536)).get("errors") or []
        if errors:
            detail = ": " + "; ".join(f"{x.get('code', '')} {x.get('message', '')}".strip()
                                      for x in errors if isinstance(x, dict))
    except (ValueError, OSError, AttributeError):
        pass
    return f"http {e.code} {e.reason}{detail}".lower() if not detail else f"http {e.code}{detail}"
