"""The SQLite store keeps etcd's contract: revisions, CAS, atomic txns, watch, compaction."""

import asyncio
import contextlib

import pytest

from portico.store import (
    Compacted,
    EventType,
    KeyExists,
    RevisionMismatch,
    SqliteStore,
)


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "db.sqlite")
    yield s
    s.close()


def test_one_revision_per_transaction(store):
    start = store.revision
    with store.txn() as t:
        a = t.create("/a", b"1")
        b = t.create("/b", b"2")
    assert a.mod_revision == b.mod_revision == start + 1
    assert store.revision == start + 1
    assert store.get("/a").value == b"1"


def test_failed_transaction_writes_nothing(store):
    with store.txn() as t:
        t.create("/a", b"1")
    rev = store.revision
    with pytest.raises(KeyExists), store.txn() as t:
        t.create("/b", b"2")
        t.create("/a", b"again")
    assert store.get("/b") is None
    assert store.revision == rev


def test_compare_and_swap(store):
    with store.txn() as t:
        kv = t.create("/a", b"1")
    with store.txn() as t:
        t.update("/a", b"2", kv.mod_revision)
    with pytest.raises(RevisionMismatch), store.txn() as t:
        t.update("/a", b"3", kv.mod_revision)
    assert store.get("/a").value == b"2"


def test_range_paging(store):
    with store.txn() as t:
        for i in range(5):
            t.create(f"/p/{i}", b"x")
        t.create("/q/0", b"y")
    first = store.range("/p/", limit=2)
    assert [kv.key for kv in first] == ["/p/0", "/p/1"]
    rest = store.range("/p/", start_after="/p/1")
    assert [kv.key for kv in rest] == ["/p/2", "/p/3", "/p/4"]
    assert store.count("/p/") == 5


async def test_watch_replays_then_follows(store):
    with store.txn() as t:
        t.create("/w/a", b"1")
    rev = store.revision
    with store.txn() as t:
        t.update("/w/a", b"2")
    watcher = store.watch("/w/", rev)
    with store.txn() as t:
        t.delete("/w/a")
        t.create("/other", b"z")
    events = []

    async def collect():
        async for event in watcher:
            events.append(event)
            if len(events) == 2:
                watcher.close()

    await asyncio.wait_for(collect(), 2)
    assert [(e.type, e.kv.value) for e in events] == [
        (EventType.PUT, b"2"), (EventType.DELETE, b"2"),
    ]
    assert events[1].prev.value == b"2"


def test_compaction_expires_old_revisions(store):
    for i in range(10):
        with store.txn() as t:
            t.put("/c", str(i).encode())
    cut = store.compact(keep_revisions=3)
    assert cut == store.revision - 3
    with pytest.raises(Compacted):
        store.watch("/c", 1)
    assert len(store.history("/c", cut)) == 3


def test_survives_reopen(tmp_path):
    path = tmp_path / "db.sqlite"
    s = SqliteStore(path)
    with s.txn() as t:
        t.create("/a", b"1")
    rev = s.revision
    s.close()
    again = SqliteStore(path)
    assert again.revision == rev
    assert again.get("/a").mod_revision == rev
    again.close()


def test_commits_leave_the_database_file_to_checkpoint(tmp_path) -> None:
    """Commits stay in the write-ahead log (no checkpoint, hence no fsync, on the
    committing thread) until `checkpoint()` copies them into the database file."""
    import sqlite3

    path = tmp_path / "state.db"
    store = SqliteStore(path)
    store.checkpoint()  # the schema

    def in_database_file() -> list[str]:
        # immutable=1 reads the database file alone, ignoring the write-ahead log
        with contextlib.closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as db:
            return [row[0] for row in db.execute("SELECT key FROM kv")]

    with store.txn() as t:
        for i in range(2000):  # well past SQLite's default auto-checkpoint (1000 pages)
            t.put(f"/k/{i:05d}", b"x" * 4096)
    assert in_database_file() == []
    assert store.get("/k/00007") is not None
    store.checkpoint()
    assert len(in_database_file()) == 2000
    store.close()
