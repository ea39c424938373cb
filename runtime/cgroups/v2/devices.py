"""v2 device control: load the generated filter and attach it to the container's cgroup.

The new program is attached with BPF_F_ALLOW_MULTI before the old ones are detached, so
there is no moment without a filter. With several programs attached the kernel allows
an access only if every one of them allows it.
"""

import os

from pyrunc.linux import bpf

from ..devices import reduce
from ..files import CgroupError
from .devprog import generate


def program(devices):
    return generate(reduce(devices))


def attach(path, insns):
    try:
        prog_fd = bpf.prog_load(bpf.BPF_PROG_TYPE_CGROUP_DEVICE, insns)
    except OSError as e:
        raise CgroupError(f"cgroup: {path}: loading the device filter: {e.strerror}",
                          path, e.errno) from None
    dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        old = bpf.prog_query(dir_fd, bpf.BPF_CGROUP_DEVICE, path)
        bpf.prog_attach(dir_fd, prog_fd, bpf.BPF_CGROUP_DEVICE, bpf.BPF_F_ALLOW_MULTI, path)
        for prog_id in old:
            old_fd = bpf.prog_get_fd_by_id(prog_id)
            try:
                bpf.prog_detach(dir_fd, old_fd, bpf.BPF_CGROUP_DEVICE, path)
            finally:
                os.close(old_fd)
    except OSError as e:
        raise CgroupError(f"cgroup: {path}: attaching the device filter: "
                          f"{os.strerror(e.errno).lower()}", path, e.errno) from None
    finally:
        os.close(dir_fd)
        os.close(prog_fd)


def apply(path, devices, attach_fn=None):
    (attach_fn or attach)(path, program(devices))
