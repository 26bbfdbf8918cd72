"""The informer cache's ordering rules: never backwards; speculations survive their version."""

from __future__ import annotations

from typing import Any

from portico.client import Informer
from portico.model.kinds import POD
from portico.testing.clock import FakeClock


def pod(rv: int, node: str | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "resourceVersion": str(rv)},
            "spec": {"nodeName": node} if node else {}}


def informer() -> tuple[Informer, list[str]]:
    cache = Informer(api=None, kind=POD)  # type: ignore[arg-type]
    seen: list[str] = []
    cache.add_handler(lambda _p, current: seen.append("deleted" if current is None else
        f"{current['metadata']['resourceVersion']}:{current['spec'].get('nodeName')}"))
    return cache, seen


def test_a_speculation_survives_every_copy_of_its_own_version() -> None:
    cache, seen = informer()
    cache._store(pod(10))  # the ADDED event
    cache.speculate(pod(10, "node-2"))  # the scheduler's placement, being bound
    cache.assume(pod(10))  # the creating controller's write-through, arriving late
    cache._store(pod(10))  # the ADDED event again (a relist)
    assert cache.get("ns/p") == pod(10, "node-2")
    cache._store(pod(12, "node-2"))  # the binding's event
    cache._store(pod(11))  # anything older is ignored
    cache.forget_speculation(pod(10))  # a failed binding's revert comes too late
    assert cache.get("ns/p") == pod(12, "node-2")
    assert seen == ["10:None", "10:node-2", "12:node-2"]


def test_a_failed_binding_takes_its_speculation_back() -> None:
    cache, seen = informer()
    cache.assume(pod(10))  # the creating controller's write-through
    cache.speculate(pod(10, "node-1"))
    cache.forget_speculation(pod(10))
    assert cache.get("ns/p") == pod(10)
    cache._store(pod(10))  # no longer speculative: a copy of the version is fine again
    cache._store(pod(11, "node-3"))
    assert seen == ["10:None", "10:node-1", "10:None", "11:node-3"]


def test_a_deleted_object_never_comes_back_from_an_older_copy() -> None:
    cache, seen = informer()
    cache._store(pod(10))  # the ADDED event
    cache._remove("ns/p", 12)  # the DELETED event, at the deletion's version
    cache.assume(pod(11))  # a controller's status write, answered before the deletion
    cache._store(pod(10))  # a stale event
    assert cache.get("ns/p") is None
    cache._store(pod(13, "node-1"))  # the name created anew
    assert cache.get("ns/p") == pod(13, "node-1")
    assert seen == ["10:None", "deleted", "13:node-1"]


def test_a_controllers_own_delete_leaves_a_tombstone_at_the_cached_version() -> None:
    cache, seen = informer()
    cache.assume(pod(10))
    cache.assume_deleted("ns/p")
    cache.assume(pod(10))  # the creating controller's write-through, arriving late
    assert cache.get("ns/p") is None
    cache._store(pod(11))  # newer: the object still existed (a finalizer), as the server says
    assert seen == ["10:None", "deleted", "11:None"]


def test_tombstones_are_forgotten_after_a_while() -> None:
    from portico.client import _informer

    clock = FakeClock(1000.0)
    cache = Informer(api=None, kind=POD, clock=clock)  # type: ignore[arg-type]
    cache._remove("ns/p", 12)
    cache._remove("ns/q", 14)
    clock.advance(_informer.TOMBSTONE_SECONDS + 1)
    cache._remove("ns/r", 16)  # every deletion sweeps the expired ones
    assert list(cache._tombstones) == ["ns/r"]


def test_a_late_deletion_of_the_old_object_leaves_the_new_one_of_the_same_name() -> None:
    cache, seen = informer()
    cache._store(pod(10))  # the ADDED event of the old object
    cache.assume(pod(20, "node-1"))  # a controller created the name anew (old one gone)
    cache._remove("ns/p", 15)  # the old object's DELETED event, arriving late
    cache._remove("ns/p", 18)  # a relist whose listing predates the new object
    cache._store(pod(20, "node-1"))  # the new object's ADDED event
    assert cache.get("ns/p") == pod(20, "node-1")
    cache._remove("ns/p", 25)  # the new object's own deletion
    assert cache.get("ns/p") is None
    assert seen == ["10:None", "20:node-1", "deleted"]
