"""Syscall tables, one data module per architecture (generated)."""
