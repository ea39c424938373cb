"""Thin wrappers over Linux syscalls: the only package that imports ctypes.

One kernel feature per module; each function raises OSError carrying errno,
the syscall's name and the path it was given.
"""
