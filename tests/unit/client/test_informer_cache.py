"""The informer cache's ordering rules: never backwards; speculations survive their version."""

from __future__ import annotations

from typing import Any

from lightkube.resources.core_v1 import Pod

from portico.client import Informer


def pod(rv: int, node: str | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "resourceVersion": str(rv)},
            "spec": {"nodeName": node} if node else {}}


def informer() -> tuple[Informer, list[str]]:
    cache = Informer(client=None, kind=Pod)  # type: ignore[arg-type]
    seen: list[str] = []
    cache.add_handler(lambda _p, current: seen.append(
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
