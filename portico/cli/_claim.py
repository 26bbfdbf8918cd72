"""Claiming a cluster: its name is exclusive on the machine, its data dir is root's only.

Theory of operation.  A cluster's machine-wide things (the netns `portico-<name>-*`,
its edge link, its nftables tables) are named after the cluster name, its files
live in the data dir; two `portico up` sharing either would tear down each other's
cluster.  So `portico up` takes two flock(2) locks before it creates anything and
holds them for its whole life: `<lock dir>/<name>.lock` (`/run/portico` for root)
and `<data dir>/lock`.  A second `portico up` finding either held is refused at
once and touches nothing.  A clean exit removes the name's lock file (a claimant
that opened it just before takes the new one); the kernel drops the locks when the
process dies, even by `kill -9`, so a crashed run never blocks the next one.  The
forked components close the descriptors (`_children`): only the supervisor holds
them.  Each lock file records its holder (pid, name, data dir) for the refusal
message.
`portico down` holds the name's lock while it tears the cluster's remains down, so
it is refused while the cluster's `portico up` runs, and no `portico up` of that
name starts meanwhile.

The data dir holds the database (Secrets among them), the CA and component keys,
the service-account token and the kubeconfigs: `secure` makes it 0700 and strips
group and other permissions from everything in it, which also tightens a data dir
written by an older Portico when it is reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT_LOCK_DIR = Path("/run/portico")
DATA_DIR_LOCK = "lock"


class ClaimError(Exception):
    """The name or the data dir is taken (the message says by whom)."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: the `portico up` process, its cluster and data dir."""

    pid: int
    name: str
    data_dir: str

    def __str__(self) -> str:
        return f"pid {self.pid}, cluster {self.name!r}, data dir {self.data_dir}"


def lock_dir() -> Path:
    """Machine-wide for root; a non-root user (control plane only) gets a private one."""
    if os.geteuid() == 0:
        return ROOT_LOCK_DIR
    runtime = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(runtime) / f"portico-{os.geteuid()}"


def name_lock_path(name: str) -> Path:
    return lock_dir() / f"{name}.lock"


def _open(path: Path) -> IO[str]:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+")


def _read_holder(lock: IO[str]) -> Holder | None:
    lock.seek(0)
    with contextlib.suppress(ValueError, TypeError, KeyError):
        record: dict[str, Any] = json.loads(lock.read())
        return Holder(int(record["pid"]), str(record["name"]), str(record["dataDir"]))
    return None


def _same_file(lock: IO[str], path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(lock.fileno()), path.stat())
    except FileNotFoundError:
        return False


def _acquire(path: Path, name: str, data_dir: Path) -> IO[str] | Holder:
    while True:
        lock = _open(path)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            found = _read_holder(lock) or Holder(0, "?", "?")
            lock.close()
            return found
        if _same_file(lock, path):
            break
        lock.close()  # its holder removed it while we waited: take the new file
    lock.seek(0)
    lock.truncate()
    lock.write(json.dumps({"pid": os.getpid(), "name": name, "dataDir": str(data_dir)}))
    lock.flush()
    return lock


@dataclass
class Claim:
    """The held locks of a cluster name and its data dir."""

    name_path: Path
    name_lock: IO[str]
    data_dir_lock: IO[str]

    def release(self) -> None:
        """Give the claim up; the data dir's lock file stays with the data."""
        _remove_and_unlock(self.name_path, self.name_lock)
        self.data_dir_lock.close()


def _remove_and_unlock(path: Path, lock: IO[str]) -> None:
    """Remove a held lock file, then let it go: a claimant that opened it before sees
    it replaced and opens the new one (`_acquire`)."""
    path.unlink(missing_ok=True)
    lock.close()


@contextlib.contextmanager
def name_held(name: str, data_dir: Path) -> Iterator[None]:
    """Hold the cluster name for a while (`portico down`: no `portico up` of it starts
    meanwhile), then remove its lock file; refused while a `portico up` holds it."""
    path = name_lock_path(name)
    held = _acquire(path, name, data_dir)
    if isinstance(held, Holder):
        raise ClaimError(f"cluster {name!r} is running ({held}); stop that `portico up` "
                         f"(Ctrl-C or SIGTERM) and it cleans up after itself")
    try:
        yield
    finally:
        _remove_and_unlock(path, held)


def claim(name: str, data_dir: Path) -> Claim:
    """Lock the cluster name, then the data dir (created 0700), until `release`
    (at the latest when the process ends)."""
    name_path = name_lock_path(name)
    held = _acquire(name_path, name, data_dir)
    if isinstance(held, Holder):
        raise ClaimError(f"cluster {name!r} is already running ({held}); stop it first "
                         f"or choose another --name")
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    in_dir = _acquire(data_dir / DATA_DIR_LOCK, name, data_dir)
    if isinstance(in_dir, Holder):
        _remove_and_unlock(name_path, held)
        raise ClaimError(f"data dir {data_dir} is in use by another `portico up` "
                         f"({in_dir}); choose another --data-dir")
    return Claim(name_path, held, in_dir)


def _strip_group_and_other(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):  # a pod's file may come and go
        mode = os.lstat(path).st_mode
        if mode & 0o077 and not stat.S_ISLNK(mode):
            os.chmod(path, stat.S_IMODE(mode) & 0o7700)


def secure(data_dir: Path) -> None:
    """The data dir and everything in it: no permission for group and others.
    Symbolic links are neither changed nor followed (nothing outside is touched)."""
    _strip_group_and_other(str(data_dir))
    for directory, dirs, files in os.walk(data_dir, followlinks=False):
        for name in (*dirs, *files):
            _strip_group_and_other(os.path.join(directory, name))
