"""pyrunc-unpack: turn an OCI or Docker image into a runtime bundle.

Reads an image from an OCI layout, an oci-archive, a docker-archive or a
registry, applies its layers into BUNDLE/rootfs without ever writing outside
it, and writes BUNDLE/config.json from the image config plus the runtime
defaults.  Depends only on ``pyrunc.oci``, ``pyrunc.errors`` and
``pyrunc.linux``; nothing in the runtime imports this package.

Entry point: ``pyrunc.image.unpack.unpack``.
"""
