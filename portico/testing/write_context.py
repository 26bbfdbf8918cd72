"""An in-memory `WriteContext` for unit tests of strategies that allocate.

Theory of operation: the real context is a view of one open store transaction;
this fake is a plain dict of key -> bytes with the same four operations. A write
that fails must leave nothing behind, as the store's rollback guarantees, so
`transaction()` snapshots the dict and restores it if the body raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class MemoryWriteContext:
    """Keys and values in a dict; `keys(prefix)` is sorted like a store range read."""

    def __init__(self, data: dict[str, bytes] | None = None) -> None:
        self.data: dict[str, bytes] = dict(data or {})

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def put(self, key: str, value: bytes) -> None:
        self.data[key] = bytes(value)

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.data if k.startswith(prefix))

    def under(self, prefix: str) -> dict[str, bytes]:
        """The entries below `prefix`, keyed by the rest of the key (for assertions)."""
        return {k[len(prefix):]: v for k, v in sorted(self.data.items()) if k.startswith(prefix)}

    @contextmanager
    def transaction(self) -> Iterator[MemoryWriteContext]:
        """Run a write; on any exception the data is restored and the exception re-raised."""
        saved = dict(self.data)
        try:
            yield self
        except BaseException:
            self.data = saved
            raise
