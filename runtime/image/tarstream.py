"""A streaming tar reader for layer archives (POSIX ustar, pax and GNU).

Written for layers rather than using ``tarfile``: it reads once from a
decompressing stream, hands file data straight to the writer without
copies, keeps xattrs as raw bytes (SCHILY.xattr.* and LIBARCHIVE.xattr.*
pax records) and reports damage as one line naming the entry.
"""

import base64
import os
import urllib.parse
from dataclasses import dataclass, field

from pyrunc.image.errors import ImageError

REG, LINK, SYMLINK, CHR, BLK, DIR, FIFO = "0", "1", "2", "3", "4", "5", "6"
_TYPES = {b"0": REG, b"\0": REG, b"7": REG, b"1": LINK, b"2": SYMLINK,
          b"3": CHR, b"4": BLK, b"5": DIR, b"6": FIFO}
BLOCK = 512


@dataclass
class Entry:
    name: str
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    atime_ns: int
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict = field(default_factory=dict)


class _BadHeader(Exception):
    pass


def _num(field_bytes, what):
    """Octal, or GNU base-256 when the high bit of the first byte is set."""
    if field_bytes and field_bytes[0] & 0x80:
        value = int.from_bytes(field_bytes[1:], "big")
        if field_bytes[0] == 0xFF:
            raise _BadHeader(f"{what}: negative value")
        return value
    text = field_bytes.rstrip(b"\0 ").lstrip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise _BadHeader(f"{what}: invalid number {text!r}") from None


def _str(field_bytes):
    end = field_bytes.find(b"\0")
    return os.fsdecode(field_bytes if end < 0 else field_bytes[:end])


def _checksum_ok(block):
    """The header's byte sum with the checksum field read as spaces; some
    old writers summed signed chars, so that is accepted too (POSIX ustar)."""
    field_bytes = block[148:156]
    stored = _num(field_bytes, "chksum")
    unsigned = sum(block) - sum(field_bytes) + 8 * 32
    if stored == unsigned:
        return True
    rest = block[:148] + block[156:]
    return stored == unsigned - 256 * sum(1 for b in rest if b > 127)


def _parse_pax(data, where):
    """Records are "LEN KEY=VALUE\\n"; values stay bytes (xattrs are binary)."""
    out = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        sp = data.find(b" ", pos)
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise ImageError(f"{where}: malformed pax record") from None
        rec = data[sp + 1:pos + length]
        if length <= 0 or pos + length > len(data) or not rec.endswith(b"\n") or b"=" not in rec:
            raise ImageError(f"{where}: malformed pax record")
        key, _, value = rec[:-1].partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return out


def _pax_time(value, where):
    try:
        text = value.decode()
        sec, _, frac = text.partition(".")
        ns = int(sec) * 10**9
        if frac:
            ns += (-1 if text.startswith("-") else 1) * int(frac[:9].ljust(9, "0"))
        return ns
    except ValueError:
        raise ImageError(f"{where}: malformed pax time {value!r}") from None


def entries(stream, where):
    """Yield each Entry; file data must be consumed (or not) before the next
    iteration, which skips whatever the caller left, plus the padding."""
    try:
        yield from _entries(stream, where)
    except _BadHeader as e:
        raise ImageError(f"{where}: tar header at offset {stream.offset}: {e}") from None


def _entries(stream, where):
    global_pax = {}
    longname = longlink = None
    pax = {}
    while True:
        header = stream.read(BLOCK, allow_eof=True)
        if not header:
            return          # end of stream without the two zero blocks
        if len(header) < BLOCK:
            raise ImageError(f"{where}: truncated tar header")
        if header == bytes(BLOCK):
            stream.drain()  # second zero block, then any padding
            return
        if not _checksum_ok(header):
            raise ImageError(f"{where}: tar header checksum mismatch at offset {stream.offset - BLOCK}")
        tflag = header[156:157]
        size = _num(header[124:136], "size")
        if tflag in (b"x", b"g", b"L", b"K"):
            data = stream.read(size)
            if len(data) < size:
                raise ImageError(f"{where}: truncated tar archive")
            stream.skip(-size % BLOCK)
            if tflag == b"x":
                pax = _parse_pax(data, where)
            elif tflag == b"g":
                global_pax.update(_parse_pax(data, where))
            elif tflag == b"L":
                longname = os.fsdecode(data.split(b"\0", 1)[0])
            else:
                longlink = os.fsdecode(data.split(b"\0", 1)[0])
            continue
        rec = dict(global_pax, **pax) if global_pax else pax
        if "path" in rec:
            name = rec["path"].decode("utf-8", "surrogateescape")
        elif longname is not None:
            name = longname
        else:
            name = _str(header[0:100])
            if header[345] and header[257:263] == b"ustar\x00":
                name = _str(header[345:500]) + "/" + name
        etype = _TYPES.get(tflag)
        if etype is None:
            raise ImageError(f"{where}: {name}: unsupported tar entry type {tflag.decode('latin-1')!r}")
        if etype == REG and tflag != b"7" and name.endswith("/"):
            etype = DIR     # pre-POSIX archives mark directories by the slash
        if "linkpath" in rec:
            linkname = rec["linkpath"].decode("utf-8", "surrogateescape")
        elif longlink is not None:
            linkname = longlink
        else:
            linkname = _str(header[157:257]) if header[157] else ""
        if "size" in rec:
            size = int(rec["size"])
        if "mtime" in rec:
            mtime_ns = _pax_time(rec["mtime"], where)
        else:
            mtime_ns = _num(header[136:148], "mtime") * 10**9
        atime_ns = _pax_time(rec["atime"], where) if "atime" in rec else mtime_ns
        uid = int(rec["uid"]) if "uid" in rec else _num(header[108:116], "uid")
        gid = int(rec["gid"]) if "gid" in rec else _num(header[116:124], "gid")
        xattrs = {}
        if rec:
            for key, value in rec.items():
                if key.startswith("SCHILY.xattr."):
                    xattrs[key[13:]] = value
                elif key.startswith("LIBARCHIVE.xattr."):
                    xattrs[urllib.parse.unquote(key[17:])] = base64.b64decode(value + b"==")
        major = minor = 0
        if etype == CHR or etype == BLK:
            major, minor = _num(header[329:337], "devmajor"), _num(header[337:345], "devminor")
        entry = Entry(name, etype, _num(header[100:108], "mode") & 0o7777, uid, gid,
                      size if etype == REG else 0, mtime_ns, atime_ns, linkname, major, minor, xattrs)
        pax, longname, longlink = {}, None, None
        start = stream.offset
        yield entry
        # Skip unread data (hardlinks and others may carry a size) and padding.
        left = start + size - stream.offset
        if left < 0:
            raise ImageError(f"{where}: {name}: read past the end of its data")
        stream.skip(left + (-size % BLOCK))
