"""Image layers unpacked one directory each, as containerd's overlayfs snapshotter
keeps them: a container's root is an overlay of its image's layer directories (top
first) under its own writable layer, and a layer shared by images is unpacked once.

A layer is a tar (gzip- or zstd-compressed, or not) applied with GNU tar
(`--xattrs` keeps file capabilities, `--numeric-owner -p` ids and modes).  Each
layer gets a directory of its own, so no layer is written through another's
symlinks, and within one archive GNU tar defers symlinks that point out of the
directory (a member below such a link fails).  The OCI whiteouts become overlayfs'
own: `.wh.NAME` a character device 0/0 `NAME`, `.wh..wh..opq` the directory's
`trusted.overlay.opaque=y` attribute.  A layer is unpacked into a temporary
directory renamed into place only when complete.

`Follower` overlaps unpacking with the download: while `skopeo copy` writes a blob
into the layout (a temporary `oci-put-blob*` file, renamed to its digest when
complete), a thread streams the growing file into tar; once skopeo is done, each
finished stream is matched to its layer by the blob's inode.  A layer that was not
streamed (a blob skopeo already had, a stream that failed) is unpacked from its blob
afterwards: a layer is always unpacked exactly once, from exactly its blob.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

TAR = "tar"
TAR_FLAGS = ["-x", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-p"]
TEMP_PREFIX = ".unpack-"
PUT_BLOB = "oci-put-blob"  # containers/image's temporary blob in an OCI layout
WHITEOUT, OPAQUE = ".wh.", ".wh..wh..opq"
GZIP_MAGIC = b"\x1f\x8b"
GZIP_WBITS = 31
CHUNK = 1 << 20
POLL = 0.005


class LayerError(Exception):
    """A layer could not be unpacked (corrupt, truncated, unknown compression)."""


def convert_whiteouts(root: Path) -> None:
    """OCI whiteouts to overlayfs ones, in a freshly unpacked layer `root`."""
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            if not name.startswith(WHITEOUT):
                continue
            os.unlink(os.path.join(dirpath, name))
            if name == OPAQUE:
                os.setxattr(dirpath, "trusted.overlay.opaque", b"y")
            else:
                os.mknod(os.path.join(dirpath, name[len(WHITEOUT):]), stat.S_IFCHR,
                         os.makedev(0, 0))


def _tar(dest: Path, source: Sequence[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([TAR, *TAR_FLAGS, "-C", str(dest), *source],
                            stdin=subprocess.PIPE if source[-1] == "-" else subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen[bytes], staging: Path, target: Path) -> None:
    """Wait for tar; convert whiteouts and move the layer into place (or clean up)."""
    _, err = proc.communicate()
    try:
        if proc.returncode != 0:
            lines = err.decode(errors="replace").strip().splitlines()
            raise LayerError(lines[-1] if lines else f"tar exited {proc.returncode}")
        convert_whiteouts(staging / "root")
        if not target.exists():
            os.rename(staging / "root", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _staging(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=target.parent))
    (staging / "root").mkdir()
    return staging


def unpack_blob(blob: Path, target: Path) -> None:
    """Unpack the layer blob (compression told by GNU tar) into `target`."""
    staging = _staging(target)
    try:
        proc = _tar(staging / "root", ["-f", str(blob)])
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _finish(proc, staging, target)


class _Gunzip:
    """gzip (of one member or more) decompressed into `sink`, in the caller's thread
    (zlib releases the GIL): one process fewer than `tar -z`."""

    def __init__(self, sink: Callable[[bytes], object]) -> None:
        self.sink = sink
        self._member = zlib.decompressobj(GZIP_WBITS)
        self._pending = False  # the current member has begun but not ended

    def __call__(self, data: bytes) -> None:
        while data:
            self._pending = True
            out = self._member.decompress(data)
            if out:
                self.sink(out)
            if not self._member.eof:
                return
            data = self._member.unused_data
            self._member, self._pending = zlib.decompressobj(GZIP_WBITS), False

    def complete(self) -> bool:
        """Whether the input ended at the end of a member (not truncated)."""
        return not self._pending


@dataclass
class _Stream:
    """One blob being written by skopeo, streamed into tar."""
    path: Path
    inode: int
    staging: Path
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False


def _follow(handle: BinaryIO, path: Path, finished: Callable[[], bool],
            sink: Callable[[bytes], object]) -> None:
    """Feed the growing file to `sink` until its writer is done with it."""
    while True:
        chunk = handle.read(CHUNK)
        if chunk:
            sink(chunk)
        elif not path.exists() or finished():
            rest = handle.read()  # renamed or the copy ended: what is there is all
            if rest:
                sink(rest)
            return
        else:
            time.sleep(POLL)


class Follower:
    """Streams the layer blobs skopeo writes into `layout` into tar, as they arrive."""

    def __init__(self, layout: Path, layers: Path, copy: subprocess.Popen[bytes]) -> None:
        self.layout, self.layers, self.copy = layout, layers, copy
        self._streams: list[_Stream] = []
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Follower:
        self._watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._watcher.join()
        for stream in self._streams:
            stream.done.wait()
        for stream in self._streams:
            shutil.rmtree(stream.staging, ignore_errors=True)

    def _watch(self) -> None:
        seen: set[str] = set()
        while True:
            ended = self.copy.poll() is not None
            with contextlib.suppress(FileNotFoundError):
                for entry in os.scandir(self.layout):
                    if entry.name.startswith(PUT_BLOB) and entry.name not in seen:
                        seen.add(entry.name)
                        self._start(Path(entry.path))
            if ended:
                return
            time.sleep(POLL)

    def _start(self, path: Path) -> None:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - the stream's thread closes it
        except FileNotFoundError:
            return
        stream = _Stream(path, os.fstat(handle.fileno()).st_ino, _staging(self.layers / "x"))
        self._streams.append(stream)
        threading.Thread(target=self._stream, args=(stream, handle), daemon=True).start()

    def _stream(self, stream: _Stream, handle: BinaryIO) -> None:
        try:
            with handle:
                head = handle.read(2)
                while len(head) < 2 and stream.path.exists() and self.copy.poll() is None:
                    time.sleep(POLL)
                    head += handle.read(2 - len(head))
                if head != GZIP_MAGIC:
                    return  # a manifest, a config, or a layer for `unpack_blob`
                proc = _tar(stream.staging / "root", ["-f", "-"])
                assert proc.stdin is not None
                gunzip = _Gunzip(proc.stdin.write)
                try:
                    gunzip(head)
                    _follow(handle, stream.path, lambda: self.copy.poll() is not None, gunzip)
                    proc.stdin.close()
                except (BrokenPipeError, zlib.error):
                    proc.kill()  # told by its exit
                stream.ok = proc.wait() == 0 and gunzip.complete()
        except OSError:
            stream.ok = False
        finally:
            stream.done.set()

    def claim(self, blob: Path, target: Path) -> bool:
        """Move the streamed unpacking of `blob` (a layer now complete in the layout) to
        `target`; False when it was not streamed, or not completely."""
        try:
            inode = blob.stat().st_ino
        except FileNotFoundError:
            return False
        for stream in self._streams:
            stream.done.wait()
            if stream.ok and stream.inode == inode and stream.staging.exists():
                convert_whiteouts(stream.staging / "root")
                if not target.exists():
                    os.rename(stream.staging / "root", target)
                shutil.rmtree(stream.staging, ignore_errors=True)
                return target.exists()
        return False
