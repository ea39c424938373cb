"""Typed errors raised by the library; only the CLI turns them into text and exit codes.

Every message is one line, lower case, naming the field, file or container it is about.
"""


class PyruncError(Exception):
    """Base of every error pyrunc reports to the user as one line."""

    exit_code = 1


class ConfigError(PyruncError):
    """A problem in the bundle's config.json, located by its JSON path."""

    def __init__(self, path, message, filename="config.json"):
        self.path = path
        self.message = message
        self.filename = filename
        where = f"{filename}: {path}: " if path else f"{filename}: "
        super().__init__(where + message)


class ContainerNotFound(PyruncError):
    def __init__(self, container_id):
        super().__init__(f"container {container_id} does not exist")


class ContainerExists(PyruncError):
    def __init__(self, container_id):
        super().__init__(f"container with id exists: {container_id}")


class ContainerNotRunning(PyruncError):
    def __init__(self, container_id=None):
        super().__init__("container not running")


class InvalidState(PyruncError):
    """An operation the container's current status does not allow."""


class SetupError(PyruncError):
    """A failure while building the container, reported by the init process.

    Carries the stage, errno and path as data so the parent can report it as
    one line and clean up.
    """

    def __init__(self, stage, message, errno=0, path=None):
        self.stage = stage
        self.errno = errno
        self.path = path
        super().__init__(message)
