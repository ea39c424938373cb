"""Seccomp: validate and compile ``linux.seccomp`` in the parent, load it in the child.

- pyrunc.seccomp.rules.check_seccomp(seccomp) -> [ConfigError]: semantic checks.
- pyrunc.seccomp.compile.compile_filter(seccomp) -> Filter: the BPF program and
  its seccomp(2) flags, computed before fork.
- pyrunc.linux.seccomp.load(program, flags) -> listener fd or None: in the init,
  after no_new_privs, as late as possible before execve.
- pyrunc.seccomp.notify.send_listener(path, fd, state, metadata): hands the
  listener fd to the agent at listenerPath (from the parent, outside the
  container's mount namespace).

This package's __init__ imports nothing, so validation does not pay for the
compiler or its syscall tables.
"""
