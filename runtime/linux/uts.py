"""Host and domain name of the current UTS namespace."""

from pyrunc.linux._libc import c_char_p, c_int, c_size_t, check, func

_sethostname = func("sethostname", c_int, c_char_p, c_size_t)
_setdomainname = func("setdomainname", c_int, c_char_p, c_size_t)


def sethostname(name):
    b = name.encode()
    check(_sethostname(b, len(b)), "sethostname")


def setdomainname(name):
    b = name.encode()
    check(_setdomainname(b, len(b)), "setdomainname")
