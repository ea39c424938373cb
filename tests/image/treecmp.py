"""Compare two unpacked root filesystems path by path: type, mode, owner,
size (regular files) and link target -- what "identical to umoci" means."""

import os
import stat


def snapshot(root, xattrs=False):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames + ([""] if dirpath == root else []):
            path = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            fmt = stat.S_IFMT(st.st_mode)
            rec = {"type": fmt, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
            if stat.S_ISREG(fmt):
                rec["size"] = st.st_size
            if stat.S_ISLNK(fmt):
                rec["target"] = os.readlink(path)
                del rec["mode"]
            if stat.S_ISCHR(fmt) or stat.S_ISBLK(fmt):
                rec["rdev"] = st.st_rdev
            if xattrs and not stat.S_ISLNK(fmt):
                rec["xattrs"] = {k: os.getxattr(path, k, follow_symlinks=False)
                                 for k in sorted(os.listxattr(path, follow_symlinks=False))}
            out[rel] = rec
    return out


def differences(a, b, limit=20):
    """Human-readable list of the paths whose records differ."""
    diffs = []
    for rel in sorted(set(a) | set(b)):
        if a.get(rel) != b.get(rel):
            diffs.append(f"{rel}: {a.get(rel)} != {b.get(rel)}")
            if len(diffs) >= limit:
                break
    return diffs
