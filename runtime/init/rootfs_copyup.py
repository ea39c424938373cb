"""tmpcopyup: fill a fresh tmpfs with what the directory under it held.

The copy walks both trees by fd (openat/mkdirat/symlinkat with
O_NOFOLLOW), so a symlink in the image is copied as a link and never
followed out of the root.
"""

import os
import stat

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _copy_file(name, st, src_dir, dst_dir):
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir)
    try:
        dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o600, dir_fd=dst_dir)
        try:
            while chunk := os.read(src, 1 << 20):
                os.write(dst, chunk)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def copy_tree(src_dir, dst_dir):
    """Copy the entries of the directory open at src_dir into dst_dir, keeping
    modes, owners and times."""
    for entry in os.scandir(src_dir):
        name = entry.name
        st = os.stat(name, dir_fd=src_dir, follow_symlinks=False)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(name, 0o700, dir_fd=dst_dir)
            s = os.open(name, _DIR, dir_fd=src_dir)
            d = os.open(name, _DIR, dir_fd=dst_dir)
            try:
                copy_tree(s, d)
            finally:
                os.close(s)
                os.close(d)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(name, dir_fd=src_dir), name, dir_fd=dst_dir)
        elif stat.S_ISREG(st.st_mode):
            _copy_file(name, st, src_dir, dst_dir)
        else:
            os.mknod(name, st.st_mode, st.st_rdev, dir_fd=dst_dir)
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dst_dir, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(name, mode, dir_fd=dst_dir)
        os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_dir,
                 follow_symlinks=False)
