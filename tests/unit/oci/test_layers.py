"""Layers unpacked one directory each: whiteouts in overlayfs' form, gzip streams, safety.

Run as root (character devices and trusted.* attributes), as the suite is."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from portico.oci._layers import LayerError, _Gunzip, unpack_blob


def _tar(members: list[tuple[str, bytes | str | None]]) -> bytes:
    """name -> bytes (a file), a str (a symlink to it) or None (a directory)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o4755
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def test_whiteouts_become_overlayfs_ones(tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(gzip.compress(_tar([("etc", None), ("etc/.wh.shadow", b""),
                                         ("var", None), ("var/.wh..wh..opq", b""),
                                         ("var/kept", b"x"), ("bin/su", b"su")])))
    unpack_blob(blob, tmp_path / "layer")
    layer = tmp_path / "layer"
    mode = (layer / "etc" / "shadow").lstat()
    assert stat.S_ISCHR(mode.st_mode) and mode.st_rdev == os.makedev(0, 0)
    assert os.getxattr(layer / "var", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(layer / "var")) == ["kept"]
    assert not any(name.startswith(".wh.") for _, _, names in os.walk(layer) for name in names)
    assert (layer / "bin" / "su").stat().st_mode & 0o7777 == 0o4755  # setuid kept


def test_a_member_below_a_link_out_of_the_layer_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    blob = tmp_path / "blob"
    blob.write_bytes(_tar([("evil", str(outside)), ("evil/pwned", b"x")]))
    with pytest.raises(LayerError):
        unpack_blob(blob, tmp_path / "layer")
    assert list(outside.iterdir()) == [] and not (tmp_path / "layer").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".unpack-")] == []


def test_a_truncated_gzip_stream_is_not_complete() -> None:
    data = gzip.compress(b"a" * 1000) + gzip.compress(b"b" * 10)
    out: list[bytes] = []
    whole = _Gunzip(out.append)
    for i in range(0, len(data), 7):
        whole(data[i:i + 7])
    assert b"".join(out) == b"a" * 1000 + b"b" * 10 and whole.complete()
    cut = _Gunzip(lambda _: None)
    cut(data[:-3])
    assert not cut.complete()
