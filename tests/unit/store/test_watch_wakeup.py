"""Watchers wake on a plain future (with a timeout), drain in batches; listeners go first."""

from __future__ import annotations

import asyncio

import pytest

from portico.store import SqliteStore


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "db.sqlite")
    yield s
    s.close()


async def test_wait_times_out_without_events_and_creates_no_tasks(store):
    watcher = store.watch("/w/", store.revision)
    tasks_before = len(asyncio.all_tasks())
    assert await watcher.wait(0.01) is False
    assert len(asyncio.all_tasks()) == tasks_before
    assert watcher.drain() == []


async def test_a_burst_of_commits_drains_as_one_batch(store):
    watcher = store.watch("/w/", store.revision)
    waiting = asyncio.ensure_future(watcher.wait(5))
    await asyncio.sleep(0)
    for i in range(3):
        with store.txn() as txn:
            txn.create(f"/w/{i}", b"x")
    with store.txn() as txn:
        txn.create("/other", b"x")
    assert await asyncio.wait_for(waiting, 2) is True
    assert [e.kv.key for e in watcher.drain()] == ["/w/0", "/w/1", "/w/2"]
    assert await watcher.wait(0) is False


async def test_close_wakes_a_waiting_watcher(store):
    watcher = store.watch("/w/", store.revision)
    waiting = asyncio.ensure_future(watcher.wait())
    await asyncio.sleep(0)
    watcher.close()
    assert await asyncio.wait_for(waiting, 2) is True
    assert watcher.closed and len(store.hub) == 0


async def test_listeners_see_each_commit_before_watchers(store):
    seen: list[tuple[str, int]] = []
    watcher = store.watch("/w/", store.revision)
    store.hub.add_listener(
        lambda events: seen.append(("listener", len(watcher.drain()) + len(events))))
    with store.txn() as txn:
        txn.create("/w/a", b"1")
        txn.create("/w/b", b"2")
    assert seen == [("listener", 2)]  # nothing was pending yet when the listener ran
    assert [e.kv.key for e in watcher.drain()] == ["/w/a", "/w/b"]
