"""A container's volume mounts, made in its private mount namespace (the launcher's child).

`Mount(source, target, read_only)`: `source` is a path of the machine (a volume's
directory under the node's data dir, a hostPath, a PersistentVolume's directory, or a
file in one of them for a `subPath`), `target` the container's `mountPath`.  The child
bind-mounts each source (recursively) at its target after it entered the pod
(`_zygote.enter_pod`), so only the container sees it; `read_only` remounts the bind
read-only, as runc does.

The machine's filesystem is never changed: a target (or a parent of it) that does not
exist is made in a tmpfs that shadows its deepest existing ancestor inside the private
namespace only.  Shadowing directory `A`: a tmpfs with A's mode is mounted over A and
gets one placeholder per entry of the original A (reached through a file descriptor
opened before the tmpfs covered it): a directory bind-mounted recursively from the
original, a symlink copied, any other entry a bind of the original file.  So A looks
as before, and new names in it exist only in this container's view.  When A is `/`,
the tmpfs is mounted on `root_staging` (an empty directory in the pod's data dir),
filled the same way and made the namespace's root with `pivot_root(".", ".")`; the old
root is detached.  `nsenter --mount` (exec, probes) then enters the same view.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
from dataclasses import dataclass
from typing import Any

_libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MNT_DETACH = 2
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}


class MountError(OSError):
    """A volume could not be mounted; the message says which and why (runc's words)."""


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "readOnly": self.read_only}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Mount:
        return cls(str(data["source"]), str(data["target"]), bool(data.get("readOnly")))


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise MountError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                       flags, data.encode() if data else None), f"mount {source} to {target}")


def _pivot_root(new_root: str, put_old: str) -> None:
    number = _SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise MountError(0, f"pivot_root: unsupported machine {os.uname().machine}")
    _check(_libc.syscall(number, new_root.encode(), put_old.encode()), "pivot_root")


def _fill(shadow: str, original_fd: int) -> None:
    """Placeholders in `shadow` for every entry of the original directory."""
    original = f"/proc/self/fd/{original_fd}"
    for name in os.listdir(original):
        source, target = os.path.join(original, name), os.path.join(shadow, name)
        mode = os.lstat(source).st_mode
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(source), target)
            continue
        if stat.S_ISDIR(mode):
            os.mkdir(target)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
        _mount(source, target, None, MS_BIND | MS_REC)


def _shadow(directory: str, root_staging: str) -> None:
    """Make `directory` writable in this namespace only (see the module docstring)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        options = f"mode={stat.S_IMODE(os.fstat(fd).st_mode):o}"
        if directory != "/":
            _mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, options)
            _fill(directory, fd)
            return
        if not root_staging:
            raise MountError(0, "no staging directory for a new root")
        _mount("tmpfs", root_staging, "tmpfs", MS_NOSUID | MS_NODEV, options)
        _fill(root_staging, fd)
    finally:
        os.close(fd)
    cwd = os.getcwd()
    os.chdir(root_staging)
    _pivot_root(".", ".")
    _check(_libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    with contextlib.suppress(OSError):
        os.chdir(cwd)


def _deepest_existing(path: str) -> str:
    while not os.path.lexists(path):
        path = os.path.dirname(path)
    return path


def _make_target(target: str, is_dir: bool, ours: set[str], root_staging: str) -> None:
    """Create `target` (a directory, or an empty file for a file source) in a shadow.

    `ours`: the directories of this namespace's own tmpfs (shadowed or made in one);
    an existing directory elsewhere is the machine's and is shadowed first."""
    if os.path.lexists(target):
        return
    ancestor = _deepest_existing(os.path.dirname(target))
    if ancestor not in ours:
        _shadow(ancestor, root_staging)
        ours.add(ancestor)
    parent = ancestor
    for name in os.path.relpath(os.path.dirname(target), ancestor).split("/"):
        if name in ("", "."):
            continue
        parent = os.path.join(parent, name)
        os.mkdir(parent)
        ours.add(parent)
    if is_dir:
        os.mkdir(target)
        ours.add(target)
    else:
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))


def mount_volumes(mounts: list[Mount], root_staging: str) -> None:
    """Bind every mount at its target, in order (runs in the container's mount namespace)."""
    ours: set[str] = set()
    for mount in mounts:
        try:
            is_dir = stat.S_ISDIR(os.stat(mount.source).st_mode)
        except OSError as error:
            raise MountError(error.errno or 0,
                             f"mount {mount.source} to {mount.target}: {error.strerror}") from None
        target = os.path.normpath(mount.target)
        _make_target(target, is_dir, ours, root_staging)
        _mount(mount.source, target, None, MS_BIND | MS_REC)
        ours.discard(target)  # now the volume's: never written to for a nested target
        if mount.read_only:
            _mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
