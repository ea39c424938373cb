"""unpack(): SOURCE -> BUNDLE/rootfs + BUNDLE/config.json, all or nothing.

The bundle directory must be absent or empty.  Everything is written inside
it; on any failure (including KeyboardInterrupt) what was made is removed, so
no half-made bundle is left for a runtime to start.
"""

import json
import os

from pyrunc.image import source as S
from pyrunc.image.apply import LayerApplier
from pyrunc.image.errors import ImageError
from pyrunc.image.layerstream import LayerStream
from pyrunc.image.rootfs import Rootfs, remove_tree


def open_source(src, insecure=False):
    """A resolver object for a parsed Source (its .resolve(ref, platform))."""
    if src.transport == "oci":
        from pyrunc.image.store import LayoutDir
        return LayoutDir(src.path)
    if src.transport == "oci-archive":
        from pyrunc.image.store import LayoutArchive
        return LayoutArchive(src.path)
    if src.transport == "docker-archive":
        from pyrunc.image.store import DockerArchive
        return DockerArchive(src.path)
    from pyrunc.image.registry import Registry
    return Registry(src, insecure=insecure)


def _check_bundle(bundle):
    if not os.path.lexists(bundle):
        return
    if not os.path.isdir(bundle) or os.path.islink(bundle):
        raise ImageError(f"bundle {bundle}: exists and is not a directory")
    if os.listdir(bundle):
        raise ImageError(f"bundle {bundle}: exists and is not empty")


def _prepare_bundle(bundle):
    """Create the bundle, or accept an empty one; returns what to remove on failure."""
    try:
        os.mkdir(bundle, 0o755)
        return [bundle]
    except FileExistsError:
        pass
    except OSError as e:
        raise ImageError(f"bundle {bundle}: {e.strerror}") from None
    if not os.path.isdir(bundle) or os.path.islink(bundle):
        raise ImageError(f"bundle {bundle}: exists and is not a directory")
    if os.listdir(bundle):
        raise ImageError(f"bundle {bundle}: exists and is not empty")
    return [os.path.join(bundle, "rootfs"), os.path.join(bundle, "config.json")]


def unpack(source, bundle, platform=None, insecure=False, rootless=False, tty=False,
           progress=None, warn=None):
    """Unpack ``source`` (a SOURCE string) into ``bundle``.

    platform: "OS/ARCH[/VARIANT]" (default: this host's).  progress(label,
    done, total) is called as each layer's bytes are read (total may be
    None); warn(message) receives non-fatal notes.  Raises ImageError.
    """
    warn = warn or (lambda msg: None)
    want = S.parse_platform(platform) if platform else S.host_platform()
    src = S.parse_source(source)
    _check_bundle(bundle)               # fail before any download
    store = open_source(src, insecure)
    try:
        image = store.resolve(src.ref, want)
        created = _prepare_bundle(bundle)
        try:
            _build(image, bundle, rootless, tty, progress, warn)
        except BaseException:
            for path in created:
                if os.path.lexists(path):
                    remove_tree(path)
            raise
    finally:
        store.close()


def _build(image, bundle, rootless, tty, progress, warn):
    from pyrunc.image.spec import runtime_config
    rootfs_path = os.path.join(bundle, "rootfs")
    os.mkdir(rootfs_path, 0o755)
    root = Rootfs(rootfs_path, rootless=rootless)
    try:
        for layer in image.layers:
            _apply_layer(root, layer, progress, warn)
        config = runtime_config(image.config, root, rootless=rootless, tty=tty,
                                annotations=image.annotations)
    finally:
        root.close()
    tmp = os.path.join(bundle, ".config.json.tmp")
    with open(tmp, "w") as f:
        json.dump(config, f, indent="\t")
        f.write("\n")
    os.rename(tmp, os.path.join(bundle, "config.json"))


def _apply_layer(root, layer, progress, warn):
    blob = layer.open()
    report = (lambda done, total: progress(layer.label, done, total)) if progress else None
    stream = LayerStream(blob, layer.compression, layer.digest, layer.size, layer.diff_id,
                         layer.label, report)
    try:
        try:
            LayerApplier(root, layer.label, warn).apply(stream)
        except ImageError:
            # Damaged bytes show up first as a broken tar entry; when the blob
            # also fails its digest, that is the error worth reporting.
            stream.finish()
            raise
        stream.finish()
    finally:
        # A reader thread still blocked in a network read holds the response's
        # lock, so closing it here would hang an interrupted unpack.
        if stream.close():
            blob.close()
