"""The user's image mappings file, re-read whenever it changes.

Theory of operation: the node agent resolves every container start and `kubectl
exec` through one `MappingsFile`. Each lookup first compares the file's identity
(inode, size, modification time) with the one last read, so an edit (in place or
by renaming a new file over it) takes effect for the next container without a
restart, and an unchanged file costs one `stat`. A file that disappears means no
mappings; one that cannot be used (bad YAML, unknown keys) keeps the mappings read
before it, and the error is logged once per change and shown in the `ErrImagePull`
message of images that only a mapping could run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from portico.images import _reference
from portico.images._catalog import ImageConfig
from portico.images._mappings import Mappings, MappingsError, load_mappings

log = logging.getLogger("portico.images")

Identity = tuple[int, int, int]
"""(inode, size, mtime in ns) of the file; None when there is no file."""


def _identity(path: Path) -> Identity | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class MappingsFile:
    """`Mappings` from `path`, current as of each `lookup` (see the module docstring)."""

    def __init__(self, path: Path,
                 identity: Callable[[Path], Identity | None] = _identity) -> None:
        self.path = path
        self._identity = identity
        self._seen: Identity | None = None
        self._mappings = Mappings(source=path)
        self._error: str | None = None

    def current(self) -> Mappings:
        seen = self._identity(self.path)
        if seen != self._seen:
            self._seen = seen
            self._reload(present=seen is not None)
        return self._mappings

    def _reload(self, present: bool) -> None:
        if not present:
            self._mappings, self._error = Mappings(source=self.path), None
            return
        try:
            self._mappings, self._error = load_mappings(self.path), None
        except MappingsError as error:
            self._error = str(error)
            log.warning("image mappings not used: %s (keeping the previous ones)", error)
            return
        log.info("image mappings: %d from %s", len(self._mappings.images), self.path)

    def lookup(self, ref: _reference.Reference) -> ImageConfig | None:
        return self.current().lookup(ref)

    @property
    def hint(self) -> str:
        """Where to add a mapping, and why the file is not in use if it is not."""
        self.current()
        return f"{self.path} (not in use: {self._error})" if self._error else str(self.path)
