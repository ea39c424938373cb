"""A layer blob as a verified, decompressed byte stream.

A reader thread reads the blob, hashes it (its digest), decompresses it and
hashes the result (its DiffID) while the caller applies the tar entries:
zlib, hashlib and os.write all release the GIL, so reading and writing
overlap on two cores, as ``tar -xzf`` overlaps tar and gzip.  The digests
are compared when the stream ends; ``finish()`` raises on a mismatch, and
the caller discards everything it wrote from this layer's bundle.
"""

import hashlib
import os
import queue
import shutil
import signal
import subprocess
import threading
import zlib

from pyrunc.image.errors import ImageError

CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def sniff(head):
    """Compression by magic number, for docker-archives whose layers carry none."""
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    return ""


def _hasher(digest):
    algo = digest.split(":", 1)[0] if digest else "sha256"
    return hashlib.new(algo)


class _Gzip:
    """Concatenated gzip members, as gzip(1) accepts them."""

    def __init__(self):
        self.d = zlib.decompressobj(31)

    def feed(self, data, out):
        try:
            while data:
                out(self.d.decompress(data, CHUNK))
                while self.d.unconsumed_tail:
                    out(self.d.decompress(self.d.unconsumed_tail, CHUNK))
                data = b""
                if self.d.eof and self.d.unused_data:
                    data = self.d.unused_data
                    if not data.strip(b"\0"):
                        return      # zero padding after the last member, as gzip(1) allows
                    self.d = zlib.decompressobj(31)
        except zlib.error as e:
            raise ImageError(f"gzip: {e}") from None

    def end(self, out):
        if not self.d.eof:
            raise ImageError("gzip: unexpected end of data (truncated)")


class _Plain:
    def feed(self, data, out):
        out(data)

    def end(self, out):
        pass


class _ZstdModule:
    def __init__(self, zstandard):
        self.z = zstandard
        self.d = zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data, out):
        try:
            while data:
                out(self.d.decompress(data))
                data = b""
                if self.d.eof and self.d.unused_data:
                    data = self.d.unused_data
                    self.d = self.z.ZstdDecompressor().decompressobj()
        except self.z.ZstdError as e:
            raise ImageError(f"zstd: {e}") from None

    def end(self, out):
        if not self.d.eof:
            raise ImageError("zstd: unexpected end of data (truncated)")


def zstd_backend():
    """"module" (PyPI zstandard), "binary" (zstd(1)) or "" when neither exists."""
    try:
        import zstandard  # noqa: F401
        return "module"
    except ImportError:
        return "binary" if shutil.which("zstd") else ""


class LayerStream:
    """Byte stream over a layer's uncompressed tar, for tarstream.entries."""

    def __init__(self, blob, compression, digest, size, diff_id, name, progress=None):
        self.name = name
        self.offset = 0
        self._q = queue.Queue(maxsize=16)
        self._buf = b""
        self._pos = 0
        self._eof = False
        self._stop = False
        self._proc = None
        self._args = (blob, compression, digest, size, diff_id, progress)
        self._thread = threading.Thread(target=self._produce, daemon=True)
        self._thread.start()

    # -- producer (reader thread) -------------------------------------------------

    def _put(self, item):
        while not self._stop:
            try:
                self._q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Stopped()

    def _produce(self):
        # Leave SIGINT/SIGTERM to the main thread: delivered here, they would
        # only restart a read, while the main thread sleeps on the queue and
        # never runs the handler that unwinds and removes the bundle.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        blob, compression, digest, size, diff_id, progress = self._args
        try:
            self._run(blob, compression, digest, size, diff_id, progress)
            self._put(None)
        except _Stopped:
            pass
        except ImageError as e:
            self._fail(ImageError(f"{self.name}: {e}"))
        except (OSError, ValueError) as e:
            self._fail(ImageError(f"{self.name}: read: {e}"))
        finally:
            if self._proc is not None:
                self._proc.kill()
                self._proc.wait()

    def _fail(self, err):
        try:
            self._put(err)
        except _Stopped:
            pass

    def _run(self, blob, compression, digest, size, diff_id, progress):
        h_blob = _hasher(digest)
        h_diff = _hasher(diff_id)
        total = 0
        # read1: whatever has arrived, up to CHUNK (a network read(n) would
        # wait for all n bytes before the first entry could be written).
        read = getattr(blob, "read1", blob.read)
        first = read(CHUNK)
        if compression == "auto":
            compression = sniff(first)

        def out(data):
            if data:
                h_diff.update(data)
                self._put(data)

        if compression == "zstd" and zstd_backend() == "binary":
            self._zstd_binary(read, first, h_blob, out, progress, size, digest)
            total = self._total
        else:
            if compression == "gzip":
                dec = _Gzip()
            elif compression == "zstd":
                dec = _zstd_module()
            else:
                dec = _Plain()
            data = first
            broken = None
            while data:
                total += len(data)
                if size is not None and total > size:
                    raise ImageError(f"size mismatch: more than the {size} bytes the descriptor says")
                h_blob.update(data)
                if broken is None:
                    try:
                        dec.feed(data, out)
                    except ImageError as e:
                        # Keep hashing: if the blob is not the one named, that
                        # is the error to report, not the symptom.
                        broken = e
                if progress:
                    progress(total, size)
                data = read(CHUNK)
            self._check_blob(h_blob, total, digest, size)
            if broken is not None:
                raise broken
            dec.end(out)
        self._check_blob(h_blob, total, digest, size)
        if diff_id and f"{h_diff.name}:{h_diff.hexdigest()}" != diff_id:
            raise ImageError(f"diff_id mismatch: got {h_diff.name}:{h_diff.hexdigest()}, "
                             f"config says {diff_id}")

    @staticmethod
    def _check_blob(h_blob, total, digest, size):
        if digest and f"{h_blob.name}:{h_blob.hexdigest()}" != digest:
            raise ImageError(f"digest mismatch: got {h_blob.name}:{h_blob.hexdigest()}")
        if size is not None and total != size:
            raise ImageError(f"size mismatch: {total} bytes, descriptor says {size}")

    def _zstd_binary(self, read, first, h_blob, out, progress, size, digest):
        """zstd(1) as a filter: a feeder thread writes the blob to its stdin."""
        self._proc = proc = subprocess.Popen(["zstd", "-dcq"], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._total = 0
        feed_error = []

        def feed():
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            data = first
            piped = True
            try:
                while data and not self._stop:
                    self._total += len(data)
                    h_blob.update(data)
                    if piped:
                        try:
                            proc.stdin.write(data)
                        except BrokenPipeError:
                            piped = False   # zstd gave up; keep hashing for the digest check
                    if progress:
                        progress(self._total, size)
                    data = read(CHUNK)
            except (OSError, ValueError) as e:
                feed_error.append(e)
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        while True:
            data = proc.stdout.read1(CHUNK)
            if not data:
                break
            out(data)
        feeder.join()
        err = proc.stderr.read().decode(errors="replace").strip().splitlines()
        rc = proc.wait()
        self._proc = None
        if feed_error:
            raise feed_error[0]
        self._check_blob(h_blob, self._total, digest, size)
        if rc != 0:
            raise ImageError(f"zstd: {err[-1] if err else f'exit status {rc}'}")

    # -- consumer (applying thread) -------------------------------------------------

    def _next(self):
        if self._eof:
            return False
        item = self._q.get()
        if item is None:
            self._eof = True
            return False
        if isinstance(item, Exception):
            self._eof = True
            raise item
        self._buf, self._pos = item, 0
        return True

    def read(self, n, allow_eof=False):
        """Exactly n bytes; fewer only at the end of the stream, which is an
        error unless allow_eof (and then only before the first byte)."""
        if len(self._buf) - self._pos >= n:
            data = self._buf[self._pos:self._pos + n]
            self._pos += n
            self.offset += n
            return data
        parts = []
        need = n
        while need:
            if self._pos == len(self._buf) and not self._next():
                break
            take = self._buf[self._pos:self._pos + need]
            self._pos += len(take)
            need -= len(take)
            parts.append(take)
        data = b"".join(parts)
        self.offset += len(data)
        if len(data) < n and not (allow_eof and not data):
            if allow_eof:
                return data
            raise ImageError(f"{self.name}: truncated tar archive")
        return data

    def skip(self, n):
        while n:
            if self._pos == len(self._buf) and not self._next():
                raise ImageError(f"{self.name}: truncated tar archive")
            k = min(n, len(self._buf) - self._pos)
            self._pos += k
            self.offset += k
            n -= k

    def copy_to(self, fd, n):
        """Write the next n bytes to fd, straight from the decompressed chunks."""
        while n:
            if self._pos == len(self._buf) and not self._next():
                raise ImageError(f"{self.name}: truncated tar archive")
            k = min(n, len(self._buf) - self._pos)
            view = memoryview(self._buf)[self._pos:self._pos + k]
            while view:
                view = view[os.write(fd, view):]
            self._pos += k
            self.offset += k
            n -= k

    def drain(self):
        """Consume the rest (end-of-archive padding) so the digests complete."""
        self._pos = len(self._buf)
        while self._next():
            self.offset += len(self._buf)
            self._pos = len(self._buf)

    def finish(self):
        """Read to the end and raise if the blob failed verification."""
        self.drain()
        self._thread.join()

    def close(self):
        """Stop the reader thread early (on an error while applying).  It
        may be blocked in a network read; it writes nothing, so it is not
        waited for long (a daemon thread, it ends with the process)."""
        self._stop = True
        self._thread.join(timeout=1)
        return not self._thread.is_alive()


class _Stopped(Exception):
    pass


def _zstd_module():
    try:
        import zstandard
    except ImportError:
        raise ImageError("zstd layers need the python zstandard module or the zstd program; "
                         "neither is installed") from None
    return _ZstdModule(zstandard)
