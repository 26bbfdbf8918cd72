"""Change trackers: fold watch events into one previous/current pair per object.

Theory of operation (kube-proxy's ServiceChangeTracker / EndpointsChangeTracker):
watch callbacks only record, they never compute rules. For each key the tracker
keeps the value the proxy last synced (`previous`, taken from the first pending
event) and the newest one (`current`). A burst of updates to one object folds
into a single change, and a change that ends where it started (an update back
and forth, an add then delete, a status-only update that does not alter the
model) cancels out, so it costs no sync at all. `drain()` hands the pending
changes to the sync and starts over.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class Change(Generic[V]):
    previous: V | None
    current: V | None
    observed: float
    """When the first event of this change was seen (for programming latency)."""


class ChangeTracker(Generic[K, V]):
    def __init__(self) -> None:
        self._pending: dict[K, Change[V]] = {}

    def update(self, key: K, previous: V | None, current: V | None, now: float) -> bool:
        """Record that `key` went from `previous` to `current`; False if nothing is pending."""
        pending = self._pending.get(key)
        if pending is not None:
            previous, now = pending.previous, pending.observed
        if previous == current:
            self._pending.pop(key, None)
            return False
        self._pending[key] = Change(previous, current, now)
        return True

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, key: object) -> bool:
        """Whether a change of `key` is pending (not yet drained, not cancelled)."""
        return key in self._pending

    def drain(self) -> dict[K, Change[V]]:
        pending, self._pending = self._pending, {}
        return pending
