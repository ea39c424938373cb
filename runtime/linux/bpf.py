"""bpf(2) for cgroup programs: load, attach, query, detach (see bpf(2), and
include/uapi/linux/bpf.h for BPF_PROG_TYPE_CGROUP_DEVICE).

Only the few commands a cgroup v2 device filter needs. ``union bpf_attr`` is passed as
a zero-filled buffer with the command's fields packed at their offsets from
include/uapi/linux/bpf.h; the kernel requires every byte past the fields it knows to be
zero.
"""

import ctypes
import os
import struct

from . import _libc

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16

BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 1 << 1

_ATTR_SIZE = 128
_LOG_SIZE = 1 << 16


def _bpf(cmd, attr, path=None):
    return _libc.syscall("bpf", _libc.c_int(cmd), ctypes.cast(attr, _libc.c_void_p),
                         _libc.c_uint(_ATTR_SIZE), path=path)


def prog_load(prog_type, insns, license="Apache-2.0", name="pyrunc"):
    """Load a program (INSNS: bytes of 8-byte instructions); returns its fd.

    On a verifier refusal, loads again with the log on so the error says why.
    """
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license.encode())
    for log_level in (0, 1):
        attr = ctypes.create_string_buffer(_ATTR_SIZE)
        log = ctypes.create_string_buffer(_LOG_SIZE if log_level else 1)
        struct.pack_into("=IIQQIIQII16s", attr, 0, prog_type, len(insns) // 8,
                         ctypes.addressof(code), ctypes.addressof(lic),
                         log_level, _LOG_SIZE if log_level else 0,
                         ctypes.addressof(log) if log_level else 0, 0, 0, name.encode()[:15])
        try:
            return _bpf(BPF_PROG_LOAD, attr)
        except OSError as e:
            if log_level:
                detail = log.value.decode(errors="replace").strip().splitlines()
                raise OSError(e.errno, f"bpf(BPF_PROG_LOAD): {os.strerror(e.errno)}"
                              + (f": {detail[-1]}" if detail else "")) from None
            if e.errno not in (22, 13):  # only EINVAL/EACCES carry a verifier log
                raise


def prog_attach(target_fd, prog_fd, attach_type, flags=0, path=None):
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("=IIII", attr, 0, target_fd, prog_fd, attach_type, flags)
    _bpf(BPF_PROG_ATTACH, attr, path)


def prog_detach(target_fd, prog_fd, attach_type, path=None):
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("=III", attr, 0, target_fd, prog_fd, attach_type)
    _bpf(BPF_PROG_DETACH, attr, path)


def prog_query(target_fd, attach_type, path=None):
    """Ids of the programs attached to TARGET_FD for ATTACH_TYPE."""
    count = 64
    ids = (ctypes.c_uint32 * count)()
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("=IIIIQI", attr, 0, target_fd, attach_type, 0, 0, ctypes.addressof(ids), count)
    _bpf(BPF_PROG_QUERY, attr, path)
    got = struct.unpack_from("=I", attr, 24)[0]
    return list(ids[:min(got, count)])


def prog_get_fd_by_id(prog_id):
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("=I", attr, 0, prog_id)
    return _bpf(BPF_PROG_GET_FD_BY_ID, attr)
