"""exec and features."""

COMMANDS = {}
