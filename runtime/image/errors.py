"""The one error type of the image tool: a one-line message naming the blob,
file or field at fault (the CLI prints it and exits 1)."""

from pyrunc.errors import PyruncError


class ImageError(PyruncError):
    """The source, an image blob or the bundle cannot be used."""
