"""The informer cache's ordering rules: never backwards, and assumptions survive late events."""

from __future__ import annotations

from typing import Any

from lightkube.resources.core_v1 import Pod

from portico.client import Informer


def pod(rv: int, node: str | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "resourceVersion": str(rv)},
            "spec": {"nodeName": node} if node else {}}


def test_an_assumption_survives_a_late_event_of_its_own_version() -> None:
    informer = Informer(client=None, kind=Pod)  # type: ignore[arg-type]
    seen: list[tuple[Any, Any]] = []
    informer.add_handler(lambda previous, current: seen.append((previous, current)))
    informer.assume(pod(10))  # another controller's write-through of its create
    informer.assume(pod(10, "node-2"))  # the scheduler's placement, being bound
    informer._store(pod(10))  # the create's ADDED event, arriving late
    assert informer.get("ns/p") == pod(10, "node-2")
    informer._store(pod(12, "node-2"))  # the binding's event
    assert informer.get("ns/p") == pod(12, "node-2")
    informer._store(pod(11))  # anything older is ignored
    informer.assume(pod(10))  # a failed binding's revert comes too late: ignored
    assert informer.get("ns/p") == pod(12, "node-2")
    assert [c["metadata"]["resourceVersion"] for _, c in seen] == ["10", "10", "12"]
