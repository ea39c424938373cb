"""prctl(2): dumpable, no_new_privs, keepcaps, subreaper, pdeathsig, capability bounding and ambient sets."""

from pyrunc.linux._libc import c_int, c_ulong, check, func

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_prctl = func("prctl", c_int, c_int, c_ulong, c_ulong, c_ulong, c_ulong)


def prctl(option, arg2=0, arg3=0, arg4=0, arg5=0):
    return check(_prctl(option, arg2, arg3, arg4, arg5), "prctl")


def set_dumpable(on):
    prctl(PR_SET_DUMPABLE, 1 if on else 0)


def set_no_new_privs():
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_keepcaps(on):
    prctl(PR_SET_KEEPCAPS, 1 if on else 0)


def set_child_subreaper():
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_pdeathsig(sig):
    prctl(PR_SET_PDEATHSIG, sig)


def capbset_read(cap):
    return prctl(PR_CAPBSET_READ, cap)


def capbset_drop(cap):
    prctl(PR_CAPBSET_DROP, cap)


def ambient_clear():
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


def ambient_raise(cap):
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)
