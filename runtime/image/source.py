"""SOURCE and --platform arguments, parsed into plain data.

Transport names follow skopeo's: ``oci:DIR[:REF]``, ``oci-archive:FILE[:REF]``,
``docker-archive:FILE[:NAME:TAG]``, ``docker://[HOST[:PORT]/]REPO[:TAG|@DIGEST]``;
a bare path is classified by what is on disk.
"""

import os
import platform as _platform
import re
import tarfile
from dataclasses import dataclass

from pyrunc.image.errors import ImageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"


@dataclass(frozen=True)
class Source:
    transport: str          # "oci", "oci-archive", "docker-archive", "docker"
    path: str = ""          # the layout directory or archive file
    ref: str = ""           # layout ref name, or NAME:TAG in a docker-archive
    host: str = ""          # registry host[:port] ("docker" only)
    repo: str = ""          # repository path, e.g. "library/busybox"
    tag: str = ""           # tag, or "" when digest is given
    digest: str = ""        # "sha256:..." when pinned


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self):
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


# uname -m -> (GOARCH, variant), the names image indexes use.
_ARCH = {
    "x86_64": ("amd64", ""), "amd64": ("amd64", ""),
    "aarch64": ("arm64", "v8"), "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"), "armv5l": ("arm", "v5"),
    "i686": ("386", ""), "i386": ("386", ""),
    "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""), "riscv64": ("riscv64", ""),
}


def host_platform():
    arch, variant = _ARCH.get(_platform.machine(), (_platform.machine(), ""))
    return Platform("linux", arch, variant)


def parse_platform(text):
    """``OS/ARCH[/VARIANT]`` -> Platform."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ImageError(f"--platform: {text!r}: expected OS/ARCH[/VARIANT]")
    arch, variant = parts[1], parts[2] if len(parts) == 3 else ""
    if arch in _ARCH and arch != _ARCH[arch][0]:
        arch = _ARCH[arch][0]
    return Platform(parts[0], arch, variant)


def parse_source(text):
    """Parse SOURCE into a Source; raises ImageError naming what is wrong."""
    if text.startswith("docker://"):
        return _parse_docker(text[len("docker://"):])
    for transport in ("oci-archive", "oci", "docker-archive"):
        if text.startswith(transport + ":"):
            rest = text[len(transport) + 1:]
            return _parse_local(transport, rest)
    return _detect(text)


def _parse_local(transport, rest):
    if not rest:
        raise ImageError(f"{transport}: missing path")
    # The path may itself contain ':'; prefer the longest prefix that exists.
    path, ref = rest, ""
    if not os.path.exists(rest):
        head = rest
        while ":" in head:
            head = head.rsplit(":", 1)[0]
            if os.path.exists(head):
                path, ref = head, rest[len(head) + 1:]
                break
        else:
            path, _, ref = rest.partition(":")
    if transport == "docker-archive" and ref and ":" not in ref:
        ref += ":latest"
    return Source(transport, path=path, ref=ref)


def _detect(path):
    """A bare path: a layout directory, or an archive told apart by its members."""
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "index.json")):
            return Source("oci", path=path)
        raise ImageError(f"{path}: not an oci layout (no index.json)")
    if not os.path.exists(path):
        raise ImageError(f"{path}: no such file or directory")
    try:
        with tarfile.open(path, "r:") as tf:
            names = {os.path.normpath(n) for n in tf.getnames()}
    except (tarfile.TarError, OSError) as e:
        raise ImageError(f"{path}: not an image archive: {e}") from None
    if "index.json" in names and "oci-layout" in names:
        return Source("oci-archive", path=path)
    if "manifest.json" in names:
        return Source("docker-archive", path=path)
    raise ImageError(f"{path}: not an image archive (no index.json or manifest.json)")


_REPO_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


def _parse_docker(ref):
    """Docker reference rules: the first component is a host only if it has a
    '.' or ':' or is 'localhost'; otherwise Docker Hub, where one-component
    names live under ``library/``."""
    if not ref:
        raise ImageError("docker://: missing image reference")
    name, digest = ref, ""
    if "@" in ref:
        name, digest = ref.split("@", 1)
        if not _DIGEST_RE.match(digest):
            raise ImageError(f"docker://{ref}: invalid digest {digest!r}")
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not _TAG_RE.match(tag):
            raise ImageError(f"docker://{ref}: invalid tag {tag!r}")
    first, sep, remainder = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, repo = first, remainder
    else:
        host, repo = DOCKER_HUB, name
    if host in (DOCKER_HUB, "index.docker.io"):
        host = DOCKER_HUB
        if "/" not in repo:
            repo = "library/" + repo
    if not _REPO_RE.match(repo):
        raise ImageError(f"docker://{ref}: invalid repository name {repo!r}")
    if not tag and not digest:
        tag = "latest"
    return Source("docker", host=host, repo=repo, tag=tag, digest=digest)
