"""Image indexes, manifests and descriptors (OCI image-spec and Docker v2.2).

Pure data: JSON in, validated descriptors out, every error naming the blob
and the field at fault.
"""

import json
import re
from dataclasses import dataclass, field

from pyrunc.image.errors import ImageError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)

# Layer media type -> compression ("", "gzip", "zstd").  The non-distributable
# variants are deprecated but still valid; their bytes are ordinary layers.
LAYER_TYPES = {
    "application/vnd.oci.image.layer.v1.tar": "",
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
    "application/vnd.docker.image.rootfs.diff.tar": "",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd": "zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
}

ACCEPT = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)

_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$")


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict = field(default_factory=dict, compare=False)
    annotations: dict = field(default_factory=dict, compare=False)


@dataclass
class Image:
    """A resolved image: its manifest's config and layers, in order."""
    manifest_digest: str
    config: Descriptor
    layers: list
    annotations: dict


def check_digest(digest, where):
    """Only sha256/sha512 in canonical hex: the digest becomes a file name
    in a layout's blobs/ directory, so nothing else may pass."""
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise ImageError(f"{where}.digest: invalid digest {digest!r}")
    return digest


def load_json(data, what):
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ImageError(f"{what}: invalid json: {e}") from None
    if not isinstance(doc, dict):
        raise ImageError(f"{what}: expected a json object")
    return doc


def descriptor(d, where):
    if not isinstance(d, dict):
        raise ImageError(f"{where}: expected an object")
    mt = d.get("mediaType")
    if not isinstance(mt, str) or not mt:
        raise ImageError(f"{where}.mediaType: missing")
    size = d.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ImageError(f"{where}.size: must be a non-negative integer")
    plat = d.get("platform") or {}
    ann = d.get("annotations") or {}
    if not isinstance(plat, dict) or not isinstance(ann, dict):
        raise ImageError(f"{where}: platform and annotations must be objects")
    return Descriptor(mt, check_digest(d.get("digest"), where), size, plat, ann)


def media_type_of(doc, fallback=""):
    """An index or manifest's own type: its mediaType field, or inferred from
    its shape (the field is optional in OCI documents)."""
    mt = doc.get("mediaType") or fallback
    if not mt:
        if "manifests" in doc:
            mt = OCI_INDEX
        elif "layers" in doc or "config" in doc:
            mt = OCI_MANIFEST
    return mt


def index_entries(doc, what):
    entries = doc.get("manifests")
    if not isinstance(entries, list):
        raise ImageError(f"{what}: manifests: must be a list")
    return [descriptor(d, f"{what}: manifests[{i}]") for i, d in enumerate(entries)]


def platform_matches(plat, want):
    if plat.get("os") != want.os or plat.get("architecture") != want.architecture:
        return False
    # A missing variant matches any; arm64's only variant v8 is often omitted.
    have = plat.get("variant", "")
    if not want.variant or not have:
        return True
    return have == want.variant


def select_platform(entries, want, what):
    """Pick the manifest for ``want`` from an index, ignoring attestations."""
    manifests = [d for d in entries if d.media_type in MANIFEST_TYPES]
    for d in manifests:
        if d.platform and platform_matches(d.platform, want):
            return d
    unlabelled = [d for d in manifests if not d.platform]
    if len(unlabelled) == 1 and len(manifests) == 1:
        return unlabelled[0]
    have = sorted({_plat_str(d.platform) for d in manifests if d.platform})
    raise ImageError(f"{what}: no manifest for platform {want}"
                     + (f" (has {', '.join(have)})" if have else ""))


def _plat_str(p):
    return "/".join(x for x in (p.get("os", ""), p.get("architecture", ""), p.get("variant", "")) if x)


def parse_manifest(doc, digest, what):
    mt = media_type_of(doc)
    if mt not in MANIFEST_TYPES:
        if doc.get("schemaVersion") == 1:
            raise ImageError(f"{what}: docker schema 1 manifests are not supported")
        raise ImageError(f"{what}: mediaType: unsupported media type {mt!r}")
    if doc.get("schemaVersion") != 2:
        raise ImageError(f"{what}: schemaVersion: must be 2")
    config = descriptor(doc.get("config"), f"{what}: config")
    if config.media_type not in CONFIG_TYPES:
        raise ImageError(f"{what}: config.mediaType: unsupported media type {config.media_type!r}")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ImageError(f"{what}: layers: must be a list")
    out = []
    for i, d in enumerate(layers):
        desc = descriptor(d, f"{what}: layers[{i}]")
        if desc.media_type not in LAYER_TYPES:
            raise ImageError(f"{what}: layers[{i}].mediaType: unsupported media type {desc.media_type!r}")
        out.append(desc)
    ann = doc.get("annotations") or {}
    return Image(digest, config, out, ann if isinstance(ann, dict) else {})


def check_config(cfg, image, want, what):
    """The image config must be for the platform asked for, and its DiffIDs
    must pair one to one with the manifest's layers."""
    if cfg.get("os") != want.os or cfg.get("architecture") != want.architecture:
        raise ImageError(f"{what}: architecture: image is for {cfg.get('os')}/{cfg.get('architecture')}, "
                         f"not {want.os}/{want.architecture}")
    if want.variant and cfg.get("variant") and cfg.get("variant") != want.variant:
        raise ImageError(f"{what}: variant: image is for {cfg.get('variant')}, not {want.variant}")
    rootfs = cfg.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers":
        raise ImageError(f"{what}: rootfs.type: must be \"layers\"")
    diff_ids = rootfs.get("diff_ids")
    if not isinstance(diff_ids, list):
        raise ImageError(f"{what}: rootfs.diff_ids: must be a list")
    if len(diff_ids) != len(image.layers):
        raise ImageError(f"{what}: rootfs.diff_ids: {len(diff_ids)} entries for {len(image.layers)} layers")
    return [check_digest(d, f"{what}: rootfs.diff_ids[{i}]") for i, d in enumerate(diff_ids)]
