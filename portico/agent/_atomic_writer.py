"""kubelet's atomic writer: a volume's files replaced all at once, seen by running containers.

Layout of a volume directory (as kubelet's `AtomicWriter` makes it):

    ..2026_12_07_10_00_00.123456789/   the current payload (files at their paths)
    ..data -> ..2026_12_07_10_00_00.123456789
    key    -> ..data/key               one symlink per top-level name of the payload

An update writes the new payload into a new timestamped directory, points a new
`..data_tmp` symlink at it and renames that over `..data` (rename is atomic, so a
reader sees the old files or the new ones, never a mix), then adds or removes the
top-level symlinks and deletes the old directory.  A container's bind mount of the
volume directory sees the swap; a `subPath` bind of one file keeps the file it was
given (the old directory's inode), which is why subPath mounts do not update.
A payload equal to what is on disk changes nothing.
"""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path

from portico.agent._volume_payload import File, Payload

DATA_DIR = "..data"
DATA_TMP = "..data_tmp"
DIR_MODE = 0o755


def _current(volume_dir: Path) -> Payload:
    data = volume_dir / DATA_DIR
    if not data.is_symlink():
        return {}
    files: Payload = {}
    for path in data.resolve().rglob("*"):
        if path.is_file():
            files[str(path.relative_to(data.resolve()))] = File(
                path.read_bytes(), path.stat().st_mode & 0o7777)
    return files


def _timestamped_dir(volume_dir: Path) -> Path:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y_%m_%d_%H_%M_%S.%f")
    path = volume_dir / f"..{stamp}"
    suffix = 0
    while path.exists():
        suffix += 1
        path = volume_dir / f"..{stamp}{suffix}"
    path.mkdir(mode=DIR_MODE)
    return path


def _write_files(target: Path, payload: Payload) -> None:
    for relative, file in payload.items():
        path = target / relative
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        path.write_bytes(file.data)
        path.chmod(file.mode)


def _top_level(payload: Payload) -> set[str]:
    return {relative.split("/", 1)[0] for relative in payload}


def write_payload(volume_dir: Path, payload: Payload) -> bool:
    """Make `volume_dir` hold exactly `payload`; False if it already did."""
    volume_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if (volume_dir / DATA_DIR).is_symlink() and _current(volume_dir) == payload:
        return False
    previous = (volume_dir / DATA_DIR).resolve() if (volume_dir / DATA_DIR).is_symlink() else None
    new_dir = _timestamped_dir(volume_dir)
    _write_files(new_dir, payload)
    tmp = volume_dir / DATA_TMP
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(new_dir.name)
    os.replace(tmp, volume_dir / DATA_DIR)
    wanted = _top_level(payload)
    for entry in volume_dir.iterdir():
        if not entry.name.startswith("..") and entry.name not in wanted:
            entry.unlink()
    for name in wanted:
        link = volume_dir / name
        if not link.is_symlink():
            link.symlink_to(f"{DATA_DIR}/{name}")
    if previous is not None and previous != new_dir:
        shutil.rmtree(previous, ignore_errors=True)
    return True
