"""The queued-controller skeleton: what `watch` wires and which keys each handler queues.

Changes reach the handlers through the informer's own write-through (`assume`,
`assume_deleted`), as they do when the watch reports them; the controller's queue
is replaced by a recording one, so the test sees the keys in order.
"""

from __future__ import annotations

from typing import Any

import pytest

from portico.client import InformerFactory
from portico.controllers._controller import ControllerContext, QueuedController
from portico.model.kinds import DEPLOYMENT, POD, REPLICA_SET

Obj = dict[str, Any]


class RecordingQueue:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def add(self, key: str) -> None:
        self.keys.append(key)


class Skeleton(QueuedController):
    async def sync(self, key: str) -> float | None:
        raise AssertionError("no sync without started workers")


def pod(name: str, rv: int, owner_kind: str | None = None, owner: str = "") -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                 "resourceVersion": str(rv)}
    if owner_kind is not None:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner_kind,
                                    "name": owner, "uid": f"uid-{owner}", "controller": True}]
    return {"metadata": meta}


@pytest.fixture
def skeleton() -> tuple[Skeleton, InformerFactory, RecordingQueue]:
    factory = InformerFactory(api=None)  # nothing is listed or watched
    controller = Skeleton(ControllerContext(client=None, informers=factory), "skeleton",
                          workers=1)
    queue = controller.queue = RecordingQueue()
    return controller, factory, queue


def test_watch_returns_the_shared_informer_with_the_handler(skeleton) -> None:
    controller, factory, queue = skeleton
    pods = controller.watch(POD, controller.enqueue)
    assert pods is factory.informer(POD)
    pods.assume(pod("a", 1))
    pods.assume_deleted("ns/a")
    assert queue.keys == ["ns/a", "ns/a"]  # a deletion is queued too


def test_enqueue_current_skips_deletions(skeleton) -> None:
    controller, _, queue = skeleton
    pods = controller.watch(POD, controller.enqueue_current)
    pods.assume(pod("a", 1))
    pods.assume(pod("a", 2))
    pods.assume_deleted("ns/a")
    assert queue.keys == ["ns/a", "ns/a"]


def test_enqueue_owner_queues_owners_of_that_kind_before_and_after(skeleton) -> None:
    controller, _, queue = skeleton
    pods = controller.watch(POD, controller.enqueue_owner(REPLICA_SET))
    pods.assume(pod("a", 1, "ReplicaSet", "web"))
    pods.assume(pod("a", 2, "ReplicaSet", "api"))  # adopted by another: both hear of it
    pods.assume(pod("b", 3, DEPLOYMENT.gvk.kind, "web"))  # another kind's: not this queue
    pods.assume(pod("c", 4))  # an orphan
    assert queue.keys == ["ns/web", "ns/web", "ns/api"]
