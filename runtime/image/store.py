"""Local image sources: OCI layout directory, oci-archive, docker-archive.

Each source resolves to a ResolvedImage: the image config (parsed, its digest
checked) and the layers to apply, each with an opener for its raw bytes and
the digests LayerStream verifies while applying.
"""

import hashlib
import json
import os
import posixpath
import re
import stat
import tarfile
from dataclasses import dataclass

from pyrunc.image import manifest as M
from pyrunc.image.errors import ImageError

REF_ANNOTATION = "org.opencontainers.image.ref.name"
MAX_DOC = 16 << 20          # manifests, indexes and configs are small JSON
_MAX_NESTING = 4


@dataclass
class Layer:
    label: str              # "layer 2/5 sha256:abcd..." for messages and progress
    digest: str             # the blob's digest ("" when only the DiffID is known)
    size: object            # int, or None when unknown
    compression: str        # "", "gzip", "zstd", or "auto" (sniffed)
    diff_id: str
    open: object            # () -> binary file object of the raw blob


@dataclass
class ResolvedImage:
    config: dict
    layers: list
    annotations: dict       # manifest annotations


def verify(data, digest, what):
    algo, _, hexd = digest.partition(":")
    if hashlib.new(algo, data).hexdigest() != hexd:
        raise ImageError(f"{what}: digest mismatch (blob {digest})")
    return data


def short(digest):
    return digest[:19]


class _BlobSource:
    """What an OCI layout and a registry share: blobs by descriptor."""

    name = ""

    def blob_bytes(self, desc, what):
        if desc.size > MAX_DOC:
            raise ImageError(f"{what}: blob {desc.digest}: {desc.size} bytes is too large")
        f = self.open_blob(desc.digest, what)
        try:
            data = f.read(desc.size + 1)
        finally:
            f.close()
        if len(data) != desc.size:
            raise ImageError(f"{what}: blob {desc.digest}: size {len(data)} does not match "
                             f"descriptor size {desc.size}")
        return verify(data, desc.digest, f"{what}: blob {desc.digest}")

    def resolve_descriptor(self, desc, want, what, depth=0):
        """Follow an index (for the platform) down to one image manifest."""
        if depth > _MAX_NESTING:
            raise ImageError(f"{what}: image indexes nested too deeply")
        doc = M.load_json(self.manifest_bytes(desc, what), f"{what}: blob {desc.digest}")
        mt = M.media_type_of(doc, desc.media_type)
        if mt in M.INDEX_TYPES:
            entries = M.index_entries(doc, f"index {short(desc.digest)}")
            chosen = M.select_platform(entries, want, f"index {short(desc.digest)}")
            return self.resolve_descriptor(chosen, want, f"manifest {short(chosen.digest)}", depth + 1)
        image = M.parse_manifest(doc, desc.digest, f"manifest {short(desc.digest)}")
        return self.finish(image, want)

    def finish(self, image, want):
        cfg_what = f"config {short(image.config.digest)}"
        config = M.load_json(self.blob_bytes(image.config, cfg_what), cfg_what)
        diff_ids = M.check_config(config, image, want, cfg_what)
        n = len(image.layers)
        layers = []
        for i, (desc, diff_id) in enumerate(zip(image.layers, diff_ids)):
            layers.append(Layer(f"layer {i + 1}/{n} {short(desc.digest)}", desc.digest, desc.size,
                                M.LAYER_TYPES[desc.media_type], diff_id,
                                _opener(self, desc.digest, f"layer {desc.digest}")))
        return ResolvedImage(config, layers, dict(image.annotations))

    def manifest_bytes(self, desc, what):
        """An index or manifest by descriptor (in a layout, simply a blob)."""
        return self.blob_bytes(desc, what)

    def open_blob(self, digest, what):
        raise NotImplementedError

    def close(self):
        pass


def _opener(src, digest, what):
    return lambda: src.open_blob(digest, what)


def pick_from_index(src, index, ref, want, where):
    """index.json: the entry named ``ref``; with no ref, the only image (or
    the one for the platform when all entries are one image's platforms)."""
    entries = M.index_entries(index, where)
    if not entries:
        raise ImageError(f"{where}: manifests: empty, no image in the layout")
    if ref:
        named = [d for d in entries if d.annotations.get(REF_ANNOTATION) == ref]
        if not named:
            raise ImageError(f"{where}: no image with ref {ref!r} (refs: {_refs(entries)})")
        if len(named) > 1:
            return src.resolve_descriptor(M.select_platform(named, want, where), want, where)
        return src.resolve_descriptor(named[0], want, f"{where}: ref {ref}")
    refs = {d.annotations.get(REF_ANNOTATION) for d in entries}
    if len(entries) == 1:
        return src.resolve_descriptor(entries[0], want, where)
    if len(refs) > 1:
        raise ImageError(f"{where}: several images, name one with :REF (refs: {_refs(entries)})")
    return src.resolve_descriptor(M.select_platform(entries, want, where), want, where)


def _refs(entries):
    names = sorted({d.annotations.get(REF_ANNOTATION) or "(unnamed)" for d in entries})
    return ", ".join(names) or "none"


def _check_layout_file(data, where):
    doc = M.load_json(data, where)
    if not isinstance(doc.get("imageLayoutVersion"), str):
        raise ImageError(f"{where}: imageLayoutVersion: missing")


class LayoutDir(_BlobSource):
    """``oci:DIR[:REF]`` -- an OCI image layout on disk."""

    def __init__(self, path):
        self.path = path
        self.name = f"oci:{path}"

    def _read(self, rel, what):
        try:
            with open(os.path.join(self.path, rel), "rb") as f:
                return f.read(MAX_DOC)
        except FileNotFoundError:
            raise ImageError(f"{self.name}: {rel}: missing") from None
        except OSError as e:
            raise ImageError(f"{self.name}: {rel}: {e.strerror}") from None

    def resolve(self, ref, want):
        _check_layout_file(self._read("oci-layout", "oci-layout"), f"{self.name}: oci-layout")
        index = M.load_json(self._read("index.json", "index.json"), f"{self.name}: index.json")
        return pick_from_index(self, index, ref, want, f"{self.name}: index.json")

    def open_blob(self, digest, what):
        algo, _, hexd = digest.partition(":")
        path = os.path.join(self.path, "blobs", algo, hexd)
        try:
            # O_NOFOLLOW: a blob planted as a symlink could point at any host file;
            # O_NONBLOCK: a fifo planted there must not hang the open.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ImageError(f"{what}: blob {digest}: missing from the layout") from None
        except OSError as e:
            raise ImageError(f"{what}: blob {digest}: {e.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)        # a fifo or device would never end
            raise ImageError(f"{what}: blob {digest}: not a regular file")
        return os.fdopen(fd, "rb", buffering=0)


class _TarMembers:
    """Random access to the members of an uncompressed tar (an image archive)."""

    def __init__(self, path, kind):
        self.kind = kind
        self.path = path
        try:
            self.tar = tarfile.open(path, "r:")
            self.members = {}
            for m in self.tar.getmembers():
                self.members[posixpath.normpath(m.name).lstrip("/")] = m
        except (tarfile.TarError, OSError, EOFError) as e:
            raise ImageError(f"{kind}:{path}: unreadable archive: {e}") from None

    def open(self, name, what):
        m = self.members.get(posixpath.normpath(name).lstrip("/"))
        if m is None:
            raise ImageError(f"{what}: missing from the archive")
        if not m.isfile():
            raise ImageError(f"{what}: not a regular file in the archive")
        return self.tar.extractfile(m)

    def read(self, name, what):
        f = self.open(name, what)
        try:
            data = f.read(MAX_DOC)
        except (tarfile.TarError, OSError, EOFError) as e:
            raise ImageError(f"{what}: truncated archive: {e}") from None
        if len(data) != self.members[posixpath.normpath(name).lstrip("/")].size:
            raise ImageError(f"{what}: truncated archive")
        return data

    def close(self):
        self.tar.close()


class LayoutArchive(_BlobSource):
    """``oci-archive:FILE[:REF]`` -- an OCI layout packed in a tar."""

    def __init__(self, path):
        self.name = f"oci-archive:{path}"
        self.members = _TarMembers(path, "oci-archive")

    def resolve(self, ref, want):
        _check_layout_file(self.members.read("oci-layout", f"{self.name}: oci-layout"),
                           f"{self.name}: oci-layout")
        index = M.load_json(self.members.read("index.json", f"{self.name}: index.json"),
                            f"{self.name}: index.json")
        return pick_from_index(self, index, ref, want, f"{self.name}: index.json")

    def open_blob(self, digest, what):
        algo, _, hexd = digest.partition(":")
        return self.members.open(f"blobs/{algo}/{hexd}", f"{what}: blob {digest}")

    def close(self):
        self.members.close()


_HEX_NAME = re.compile(r"(?:^|/)(?:sha256[:/])?([a-f0-9]{64})(?:\.json)?$")


class DockerArchive:
    """``docker-archive:FILE[:NAME:TAG]`` -- ``docker save`` output: a
    manifest.json naming, per image, the config file and the layer tars
    (uncompressed; checked against the config's DiffIDs)."""

    def __init__(self, path):
        self.name = f"docker-archive:{path}"
        self.members = _TarMembers(path, "docker-archive")

    def resolve(self, ref, want):
        where = f"{self.name}: manifest.json"
        try:
            entries = json.loads(self.members.read("manifest.json", where))
        except ValueError as e:
            raise ImageError(f"{where}: invalid json: {e}") from None
        if not isinstance(entries, list) or not entries:
            raise ImageError(f"{where}: expected a non-empty list of images")
        tags = lambda ent: ent.get("RepoTags") or [] if isinstance(ent, dict) else []  # noqa: E731
        if ref:
            found = [e for e in entries if ref in tags(e) or _with_hub(ref) in map(_with_hub, tags(e))]
            if not found:
                have = sorted(t for e in entries for t in tags(e))
                raise ImageError(f"{where}: no image tagged {ref!r} (tags: {', '.join(have) or 'none'})")
            entry = found[0]
        elif len(entries) == 1:
            entry = entries[0]
        else:
            have = sorted(t for e in entries for t in tags(e))
            raise ImageError(f"{where}: several images, name one with :NAME:TAG (tags: {', '.join(have)})")
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) \
                or not isinstance(entry.get("Layers"), list):
            raise ImageError(f"{where}: Config and Layers: missing")
        cfg_name = entry["Config"]
        cfg_what = f"{self.name}: {cfg_name}"
        data = self.members.read(cfg_name, cfg_what)
        m = _HEX_NAME.search(cfg_name)
        if m:
            verify(data, "sha256:" + m.group(1), cfg_what)
        config = M.load_json(data, cfg_what)
        fake = M.Image("", None, entry["Layers"], {})
        diff_ids = M.check_config(config, fake, want, cfg_what)
        n = len(entry["Layers"])
        layers = []
        for i, (lname, diff_id) in enumerate(zip(entry["Layers"], diff_ids)):
            if not isinstance(lname, str):
                raise ImageError(f"{where}: Layers[{i}]: must be a file name")
            what = f"{self.name}: {lname}"
            self.members.open(lname, what)          # fail now if it is missing
            layers.append(Layer(f"layer {i + 1}/{n} {short(diff_id)}", "", None, "auto", diff_id,
                                _member_opener(self.members, lname, what)))
        return ResolvedImage(config, layers, {})

    def close(self):
        self.members.close()


def _member_opener(members, name, what):
    return lambda: members.open(name, what)


def _with_hub(tag):
    """docker save writes "busybox:latest"; accept "docker.io/library/busybox:latest" too."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if tag.startswith(prefix):
            return tag[len(prefix):]
    return tag
