"""What every queued controller is given and the loop they all run.

kube-controller-manager hands each controller a `ControllerContext` (the client and
the shared informer factory) and each controller runs the same loop: informer
handlers turn changes into object keys on a work queue, and workers reconcile one
key at a time (`sync(key)`, which may ask to be called again after some seconds).
Here:

- `ControllerContext`: the one `Api` and the `InformerFactory` (one informer per
  kind, shared by every controller), built once by the manager;
- `QueuedController`: the skeleton a controller subclasses. It owns the work queue
  (its workers call the subclass's `sync`), an event recorder under the
  controller's component name, `watch(kind, handler)` (the shared informer of a
  kind, with a handler for its changes) and the handlers that feed the queue:
  `enqueue` (the key of the object that changed, also when it was deleted),
  `enqueue_current` (the same unless it was deleted) and `enqueue_owner(kind)` (the
  controller owner of that `kind`, before and after the change). The manager only
  calls `start()` once every informer has listed, and `stop()`.

A subclass calls `super().__init__` first (so the queue exists when it adds its
handlers), then watches its kinds (or takes an informer it only reads from the
context) and keeps only its own logic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from portico.client import (
    Api,
    EventRecorder,
    Handler,
    Informer,
    InformerFactory,
    Obj,
    WorkQueue,
    key_of,
)
from portico.controllers._pods import controller_ref, meta
from portico.model.kinds import Kind


@dataclass(frozen=True)
class ControllerContext:
    client: Api
    informers: InformerFactory


class QueuedController(ABC):
    def __init__(self, ctx: ControllerContext, name: str, *, workers: int,
                 component: str = "") -> None:
        """`name` names the queue (and its workers); events come from `component`,
        which is `name` unless given."""
        self.client = ctx.client
        self._informers = ctx.informers
        self.queue = WorkQueue(name, self.sync, workers=workers)
        self.events = EventRecorder(ctx.client, component or name)

    @abstractmethod
    async def sync(self, key: str) -> float | None:
        """Reconcile the object under `key`; seconds until it wants another sync, or None."""

    def start(self) -> None:
        self.queue.start()

    async def stop(self) -> None:
        await self.queue.stop()

    def watch(self, kind: Kind, handler: Handler, namespace: str | None = None) -> Informer:
        """The shared informer of `kind` (in `namespace`), its changes passed to `handler`."""
        informer = self._informers.informer(kind, namespace)
        informer.add_handler(handler)
        return informer

    def enqueue(self, previous: Obj | None, current: Obj | None) -> None:
        changed = current or previous
        if changed is not None:
            self.queue.add(key_of(changed))

    def enqueue_current(self, _previous: Obj | None, current: Obj | None) -> None:
        if current is not None:
            self.queue.add(key_of(current))

    def enqueue_owner(self, kind: Kind) -> Handler:
        def handle(previous: Obj | None, current: Obj | None) -> None:
            for obj in (previous, current):
                ref = controller_ref(obj) if obj is not None else None
                if obj is not None and ref is not None and ref.get("kind") == kind.gvk.kind:
                    self.queue.add(f"{meta(obj)['namespace']}/{ref['name']}")

        return handle
