"""linux.resources.unified: raw v2 "file": "value" pairs, written last so they win.

Keys are file names in the container's own cgroup; one whose controller is not
enabled there is an error naming the key, as in runc.
"""

from .. import files
from ..files import CgroupError

# Writing these would move processes or change the tree's shape behind our back.
_FORBIDDEN = ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.type",
              "cgroup.kill", "cgroup.freeze")


def apply(path, unified, available):
    for key in sorted(unified):
        value = unified[key]
        if "/" in key or key in ("", ".", ".."):
            raise CgroupError(f"cgroup: linux.resources.unified[{key!r}]: must be a file name")
        if key in _FORBIDDEN:
            raise CgroupError(f"cgroup: linux.resources.unified[{key!r}]: may not be set")
        controller = key.split(".", 1)[0]
        if controller != "cgroup" and controller not in available:
            raise CgroupError(f"cgroup: linux.resources.unified[{key!r}]: the {controller} "
                              f"controller is not available in {path}")
        files.write(path, key, value)
