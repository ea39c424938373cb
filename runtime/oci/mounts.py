"""Mount options of config.json: runc's option table, parsed into flags and data.

Pure data and pure functions: the kernel ABI numbers of <linux/mount.h> and
<sys/mount.h>, and ``parse_options`` which turns one mount's option list into
mount(2) flags, propagation changes, mount_setattr(2) attributes for the
recursive ``r*`` options, and the filesystem data string.
"""

from pyrunc.oci.plain import Plain

from pyrunc.errors import ConfigError

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_POSIXACL = 0x10000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_I_VERSION = 0x800000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_NOSYMFOLLOW = 0x200000

ATIME_FLAGS = MS_NOATIME | MS_RELATIME | MS_STRICTATIME

# option -> (clear, flag): "clear" options remove a flag an earlier option set.
FLAGS = {
    "acl": (False, MS_POSIXACL), "noacl": (True, MS_POSIXACL),
    "async": (True, MS_SYNCHRONOUS), "sync": (False, MS_SYNCHRONOUS),
    "atime": (True, MS_NOATIME), "noatime": (False, MS_NOATIME),
    "bind": (False, MS_BIND), "rbind": (False, MS_BIND | MS_REC),
    "defaults": (False, 0),
    "dev": (True, MS_NODEV), "nodev": (False, MS_NODEV),
    "diratime": (True, MS_NODIRATIME), "nodiratime": (False, MS_NODIRATIME),
    "dirsync": (False, MS_DIRSYNC),
    "exec": (True, MS_NOEXEC), "noexec": (False, MS_NOEXEC),
    "iversion": (False, MS_I_VERSION), "noiversion": (True, MS_I_VERSION),
    "lazytime": (False, MS_LAZYTIME), "nolazytime": (True, MS_LAZYTIME),
    "loud": (True, MS_SILENT), "silent": (False, MS_SILENT),
    "mand": (False, MS_MANDLOCK), "nomand": (True, MS_MANDLOCK),
    "relatime": (False, MS_RELATIME), "norelatime": (True, MS_RELATIME),
    "strictatime": (False, MS_STRICTATIME), "nostrictatime": (True, MS_STRICTATIME),
    "remount": (False, MS_REMOUNT),
    "ro": (False, MS_RDONLY), "rw": (True, MS_RDONLY),
    "suid": (True, MS_NOSUID), "nosuid": (False, MS_NOSUID),
    "symfollow": (True, MS_NOSYMFOLLOW), "nosymfollow": (False, MS_NOSYMFOLLOW),
}

PROPAGATION = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
}

# Recursive options, applied with mount_setattr(AT_RECURSIVE) to the whole
# tree: option -> (attr_set, attr_clr).  The kernel takes the access-time
# mode as one field: any change to it must clear all of MOUNT_ATTR__ATIME
# (mount_setattr(2)), so every atime option names its resulting mode.
RECURSIVE = {
    "rro": (MOUNT_ATTR_RDONLY, 0), "rrw": (0, MOUNT_ATTR_RDONLY),
    "rnosuid": (MOUNT_ATTR_NOSUID, 0), "rsuid": (0, MOUNT_ATTR_NOSUID),
    "rnodev": (MOUNT_ATTR_NODEV, 0), "rdev": (0, MOUNT_ATTR_NODEV),
    "rnoexec": (MOUNT_ATTR_NOEXEC, 0), "rexec": (0, MOUNT_ATTR_NOEXEC),
    "rnodiratime": (MOUNT_ATTR_NODIRATIME, 0), "rdiratime": (0, MOUNT_ATTR_NODIRATIME),
    "rnosymfollow": (MOUNT_ATTR_NOSYMFOLLOW, 0), "rsymfollow": (0, MOUNT_ATTR_NOSYMFOLLOW),
    "rrelatime": (MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
    "ratime": (MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
    "rnostrictatime": (MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
    "rnoatime": (MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME),
    "rstrictatime": (MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
    "rnorelatime": (MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
}

# Options runc handles itself rather than passing to the kernel.
EXTENSIONS = {"tmpcopyup"}

UNSUPPORTED = {
    "idmap": "id-mapped mounts are not supported",
    "ridmap": "id-mapped mounts are not supported",
}


class MountOptions(Plain):
    _fields = ('flags', 'propagation', 'attr_set', 'attr_clr', 'data', 'extensions')
    _defaults = {'flags': 0, 'propagation': list, 'attr_set': 0, 'attr_clr': 0, 'data': "", 'extensions': set}

    @property
    def bind(self):
        return bool(self.flags & MS_BIND)

    @property
    def recursive_attrs(self):
        return bool(self.attr_set or self.attr_clr)


def parse_options(options, where="mounts[0]"):
    """Parse one mount's ``options`` list; ``where`` is its JSON path, used
    in ConfigError messages (``mounts[3].options[1]: ...``)."""
    if options is None:
        options = []
    if not isinstance(options, list):
        raise ConfigError(f"{where}.options", "must be an array of strings")
    out = MountOptions()
    data = []
    for i, opt in enumerate(options):
        here = f"{where}.options[{i}]"
        if not isinstance(opt, str):
            raise ConfigError(here, "must be a string")
        if not opt:
            raise ConfigError(here, "must not be empty")
        if "\0" in opt or "," in opt:
            # The data string is comma-separated: a comma here would smuggle
            # in options this table never saw.
            raise ConfigError(here, f"{opt!r}: must not contain ',' or NUL")
        if opt in UNSUPPORTED:
            raise ConfigError(here, f"{opt}: {UNSUPPORTED[opt]}")
        if opt in FLAGS:
            clear, flag = FLAGS[opt]
            if clear:
                out.flags &= ~flag
            else:
                if flag & ATIME_FLAGS:
                    # One access-time mode per mount: the last one wins.
                    out.flags &= ~ATIME_FLAGS
                out.flags |= flag
        elif opt in PROPAGATION:
            out.propagation.append(PROPAGATION[opt])
        elif opt in RECURSIVE:
            attr_set, attr_clr = RECURSIVE[opt]
            if attr_clr & MOUNT_ATTR__ATIME:
                out.attr_set &= ~MOUNT_ATTR__ATIME
            out.attr_set = (out.attr_set & ~attr_clr) | attr_set
            out.attr_clr = (out.attr_clr & ~attr_set) | attr_clr
        elif opt in EXTENSIONS:
            out.extensions.add(opt)
        else:
            data.append(opt)
    out.data = ",".join(data)
    return out


def parse_propagation(value, where="linux.rootfsPropagation"):
    """rootfsPropagation: one of the propagation option names, or None."""
    if value in (None, ""):
        return 0
    if value not in PROPAGATION:
        raise ConfigError(where, f"{value!r}: must be one of {', '.join(sorted(PROPAGATION))}")
    return PROPAGATION[value]
