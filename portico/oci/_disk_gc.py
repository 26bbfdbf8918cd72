"""kubelet's image garbage collection by disk usage, for one node of the shared store.

kubelet (`image_gc_manager.go`), every 5 minutes: when the image filesystem's usage
(100 - available * 100 / capacity, in whole percent) is at or over
`imageGCHighThresholdPercent`, it deletes unused images, least recently used first
(ties: first detected first), skipping those first detected less than
`imageMinimumGCAge` ago, until it freed `capacity * (100 - low) / 100 - available`
bytes (down to `imageGCLowThresholdPercent`); freeing less is an error ("Failed to
garbage collect required amount of images. ...", the node's `FreeDiskSpaceFailed`
event), a capacity of 0 too (`InvalidDiskCapacity`).

Here (`NodeImageGc.collect`), for the images tagged for this node:
- "detected" and "last used" are this agent's memory, as kubelet's `imageRecords`:
  an image is first detected when a check first sees it, and used at every check
  that finds it in use;
- in use: some container, of any node, runs on exactly its layers (its lease,
  `_gc.lease`); such images, and pinned ones (`portico image load`, as k3s pins
  what it imports), are never candidates; built-in images are not in the store;
- deleting is untagging the image from this node; the store's own collection
  (`_gc.collect`) then removes what no image needs.  The nodes share one disk, so
  an image still tagged for another node frees nothing yet (its size counts once
  its last node untags it).
`usage` is injected (`disk_usage`: statvfs of the store's filesystem) for tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from portico.oci._gc import collect, leased_layer_sets
from portico.oci._store import ImageStore, StoredImage

INVALID_CAPACITY = "invalid capacity 0 on image filesystem"
NOT_FREED = ("Failed to garbage collect required amount of images. Attempted to free {wanted} "
             "bytes, but only found {freed} bytes eligible to free.")


@dataclass(frozen=True)
class DiskUsage:
    capacity: int
    available: int


def disk_usage(path: Path) -> DiskUsage:
    """The filesystem holding `path` (blocking): its size and what is available."""
    stats = os.statvfs(path)
    return DiskUsage(stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize)


@dataclass(frozen=True)
class ImageGcPolicy:
    """kubelet's defaults: 85 %, 80 %, 2 minutes."""

    high_threshold_percent: int = 85
    low_threshold_percent: int = 80
    minimum_age_seconds: float = 120.0


class ImageGcError(Exception):
    """The collection could not free enough (`reason`: the node event's reason)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class _Record:
    first_detected: float
    last_used: float = float("-inf")


@dataclass
class NodeImageGc:
    store: ImageStore
    node: str
    policy: ImageGcPolicy = ImageGcPolicy()
    usage: Callable[[Path], DiskUsage] = disk_usage
    records: dict[str, _Record] = field(default_factory=dict)  # by ref

    def _detect(self, now: float) -> list[StoredImage]:
        """The node's images, recorded as kubelet's detectImages does; the unused ones."""
        images = [i for i in self.store.images() if self.node in i.nodes]
        in_use = leased_layer_sets(self.store)
        self.records = {i.ref: self.records.get(i.ref) or _Record(now) for i in images}
        unused = []
        for image in images:
            if frozenset(self.store.layer_names(image)) in in_use:
                self.records[image.ref].last_used = now
            elif not image.pinned:
                unused.append(image)
        return unused

    def collect(self, now: float) -> list[str]:
        """One check (blocking; takes the store's lock): the refs untagged; raises
        ImageGcError when the usage stays over the low threshold."""
        with self.store.locked(shared=True):
            unused = self._detect(now)
        usage = self.usage(self.store.root)
        capacity, available = usage.capacity, min(usage.available, usage.capacity)
        if capacity == 0:
            raise ImageGcError("InvalidDiskCapacity", INVALID_CAPACITY)
        if 100 - available * 100 // capacity < self.policy.high_threshold_percent:
            return []
        wanted = capacity * (100 - self.policy.low_threshold_percent) // 100 - available
        unused.sort(key=lambda i: (self.records[i.ref].last_used,
                                   self.records[i.ref].first_detected))
        removed, freed = [], 0
        with self.store.locked():
            for image in unused:
                if freed >= wanted:
                    break
                if now - self.records[image.ref].first_detected < self.policy.minimum_age_seconds:
                    continue
                gone = self.store.remove(image.ref, (self.node,))
                removed.append(image.ref)
                del self.records[image.ref]
                freed += image.size if gone is not None and gone.nodes == (self.node,) else 0
            if removed:
                collect(self.store)
        if freed < wanted:
            raise ImageGcError("FreeDiskSpaceFailed", NOT_FREED.format(wanted=wanted,
                                                                       freed=freed))
        return removed
