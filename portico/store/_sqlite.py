"""SQLite backend: WAL mode, one `BEGIN IMMEDIATE` transaction per write, one revision each.

Tables:
  kv(key, value, create_rev, mod_rev)   the current state
  log(rev, seq, key, ...)               every change, for watches; trimmed by `compact`
  meta(name, value)                     `revision` and `compacted`

`synchronous=NORMAL` in WAL mode keeps every committed transaction across a
crash of the process (`kill -9`); only a power loss could drop the last ones.
Commits notify in-process watchers after the data is durable in the WAL.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from portico.store import _types
from portico.store._watch import Watcher, WatchHub

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
  key TEXT PRIMARY KEY, value BLOB NOT NULL,
  create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
  rev INTEGER NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, deleted INTEGER NOT NULL,
  value BLOB NOT NULL, create_rev INTEGER NOT NULL,
  prev_value BLOB, prev_create_rev INTEGER, prev_mod_rev INTEGER,
  PRIMARY KEY (rev, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('revision', 1), ('compacted', 0);
"""


class Txn:
    """An open write transaction; every write in it shares one new revision."""

    def __init__(self, db: sqlite3.Connection, revision: int) -> None:
        self._db = db
        self.revision = revision + 1  # the revision this transaction commits as
        self.events: list[_types.Event] = []

    def get(self, key: str) -> _types.KeyValue | None:
        row = self._db.execute(
            "SELECT value, create_rev, mod_rev FROM kv WHERE key = ?", (key,)
        ).fetchone()
        return _types.KeyValue(key, row[0], row[1], row[2]) if row else None

    def keys(self, prefix: str) -> list[str]:
        rows = self._db.execute(
            "SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key",
            (prefix, _types.prefix_end(prefix)),
        )
        return [r[0] for r in rows]

    def range(self, prefix: str) -> list[_types.KeyValue]:
        rows = self._db.execute(
            "SELECT key, value, create_rev, mod_rev FROM kv WHERE key >= ? AND key < ?"
            " ORDER BY key",
            (prefix, _types.prefix_end(prefix)),
        )
        return [_types.KeyValue(*r) for r in rows]

    def _log(self, kind: _types.EventType, kv: _types.KeyValue,
             prev: _types.KeyValue | None) -> None:
        self._db.execute(
            "INSERT INTO log VALUES (?,?,?,?,?,?,?,?,?)",
            (
                self.revision, len(self.events), kv.key, kind is _types.EventType.DELETE, kv.value,
                kv.create_revision,
                prev.value if prev else None,
                prev.create_revision if prev else None,
                prev.mod_revision if prev else None,
            ),
        )
        self.events.append(_types.Event(kind, kv, prev, self.revision))

    def create(self, key: str, value: bytes) -> _types.KeyValue:
        if self.get(key) is not None:
            raise _types.KeyExists(key)
        kv = _types.KeyValue(key, value, self.revision, self.revision)
        self._db.execute("INSERT INTO kv VALUES (?,?,?,?)", (key, value, kv.create_revision,
                                                             kv.mod_revision))
        self._log(_types.EventType.PUT, kv, None)
        return kv

    def update(self, key: str, value: bytes,
               expect_mod_revision: int | None = None) -> _types.KeyValue:
        prev = self.get(key)
        if prev is None:
            raise _types.KeyNotFound(key)
        if expect_mod_revision is not None and prev.mod_revision != expect_mod_revision:
            raise _types.RevisionMismatch(key, expect_mod_revision, prev.mod_revision)
        kv = _types.KeyValue(key, value, prev.create_revision, self.revision)
        self._db.execute("UPDATE kv SET value = ?, mod_rev = ? WHERE key = ?",
                         (value, self.revision, key))
        self._log(_types.EventType.PUT, kv, prev)
        return kv

    def put(self, key: str, value: bytes) -> _types.KeyValue:
        """Create or overwrite without a precondition (allocation records, leases of our own)."""
        if self.get(key) is None:
            return self.create(key, value)
        return self.update(key, value)

    def delete(self, key: str, expect_mod_revision: int | None = None) -> _types.KeyValue:
        prev = self.get(key)
        if prev is None:
            raise _types.KeyNotFound(key)
        if expect_mod_revision is not None and prev.mod_revision != expect_mod_revision:
            raise _types.RevisionMismatch(key, expect_mod_revision, prev.mod_revision)
        self._db.execute("DELETE FROM kv WHERE key = ?", (key,))
        kv = _types.KeyValue(key, prev.value, prev.create_revision, self.revision)
        self._log(_types.EventType.DELETE, kv, prev)
        return kv


class SqliteStore:
    """The default store. All calls run on the caller's thread (the API server's loop)."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        # No checkpoint (and its fsync) inside a commit on the caller's thread: the owner
        # calls `checkpoint()` from another thread instead.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpoint_lock = threading.Lock()
        self._db.executescript(_SCHEMA)
        self._revision = self._meta("revision")
        self._compacted = self._meta("compacted")
        self.hub = WatchHub()

    def _meta(self, name: str) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()[0])

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def compacted_revision(self) -> int:
        return self._compacted

    def get(self, key: str) -> _types.KeyValue | None:
        row = self._db.execute(
            "SELECT value, create_rev, mod_rev FROM kv WHERE key = ?", (key,)
        ).fetchone()
        return _types.KeyValue(key, row[0], row[1], row[2]) if row else None

    def range(self, prefix: str, start_after: str = "", limit: int = 0) -> list[_types.KeyValue]:
        """Keys under `prefix` in order, after `start_after`, at most `limit` (0: all)."""
        low = max(prefix, start_after + "\0") if start_after else prefix
        sql = ("SELECT key, value, create_rev, mod_rev FROM kv"
               " WHERE key >= ? AND key < ? ORDER BY key")
        args: tuple[object, ...] = (low, _types.prefix_end(prefix))
        if limit:
            sql += " LIMIT ?"
            args += (limit,)
        return [_types.KeyValue(*r) for r in self._db.execute(sql, args)]

    def count(self, prefix: str, start_after: str = "") -> int:
        low = max(prefix, start_after + "\0") if start_after else prefix
        row = self._db.execute(
            "SELECT count(*) FROM kv WHERE key >= ? AND key < ?", (low, _types.prefix_end(prefix))
        ).fetchone()
        return int(row[0])

    @contextlib.contextmanager
    def txn(self) -> Iterator[Txn]:
        """`BEGIN IMMEDIATE` ... `COMMIT`; any exception rolls everything back."""
        self._db.execute("BEGIN IMMEDIATE")
        txn = Txn(self._db, self._revision)
        try:
            yield txn
            if txn.events:
                self._db.execute("UPDATE meta SET value = ? WHERE name = 'revision'",
                                 (txn.revision,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        if txn.events:
            self._revision = txn.revision
            self.hub.publish(txn.events)

    def history(self, prefix: str, after_revision: int) -> list[_types.Event]:
        """Changes under `prefix` with revision > `after_revision`, oldest first."""
        if after_revision < self._compacted:
            raise _types.Compacted(after_revision, self._compacted)
        rows = self._db.execute(
            "SELECT rev, key, deleted, value, create_rev, prev_value, prev_create_rev, prev_mod_rev"
            " FROM log WHERE rev > ? AND key >= ? AND key < ? ORDER BY rev, seq",
            (after_revision, prefix, _types.prefix_end(prefix)),
        )
        events = []
        for rev, key, deleted, value, create_rev, pval, pcreate, pmod in rows:
            prev = _types.KeyValue(key, pval, pcreate, pmod) if pval is not None else None
            kind = _types.EventType.DELETE if deleted else _types.EventType.PUT
            kv = _types.KeyValue(key, value, create_rev, rev)
            events.append(_types.Event(kind, kv, prev, rev))
        return events

    def watch(self, prefix: str, after_revision: int) -> Watcher:
        """Replay history after `after_revision`, then follow live commits (no gap, no repeat)."""
        watcher = self.hub.subscribe(prefix)
        try:
            for event in self.history(prefix, after_revision):
                watcher.push(event)
        except _types.Compacted:
            self.hub.unsubscribe(watcher)
            raise
        watcher.skip_through(self._revision)
        return watcher

    def compact(self, keep_revisions: int) -> int:
        """Drop log entries older than the newest `keep_revisions` revisions; return the cut."""
        cut = self._revision - keep_revisions
        if cut <= self._compacted:
            return self._compacted
        with contextlib.closing(self._db.cursor()) as cur:
            cur.execute("BEGIN IMMEDIATE")
            cur.execute("DELETE FROM log WHERE rev <= ?", (cut,))
            cur.execute("UPDATE meta SET value = ? WHERE name = 'compacted'", (cut,))
            cur.execute("COMMIT")
        self._compacted = cut
        return cut

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database (PASSIVE: never blocks a writer);
        meant for a background thread, on a connection of its own."""
        with self._checkpoint_lock:
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(self._path, isolation_level=None,
                                                     check_same_thread=False)
                self._checkpointer.execute("PRAGMA busy_timeout=5000")
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        self.hub.close_all()
        with self._checkpoint_lock:
            if self._checkpointer is not None:
                self._checkpointer.close()
                self._checkpointer = None
        self._db.close()
