"""kubelet's image garbage collection by disk usage: thresholds, LRU order, minimum
age, in-use and pinned images, and the node events (injected disk usage, fake clock)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from portico.agent._image_gc import ImageGarbageCollector
from portico.client import Api, EventRecorder
from portico.client._correlator import Correlated
from portico.oci._disk_gc import DiskUsage, ImageGcError, ImageGcPolicy, NodeImageGc
from portico.oci._gc import lease
from portico.oci._store import ImageStore, StoredImage
from portico.testing.clock import FakeClock, run_on_fake_clock
from portico.testing.oci_images import store_manifest

GB = 1 << 30
NODE = "node-1"


class Disk:
    """The image filesystem's usage as the test sets it."""

    def __init__(self, used_percent: int, capacity: int = 100 * GB) -> None:
        self.capacity, self.used_percent = capacity, used_percent

    def __call__(self, path: Path) -> DiskUsage:
        return DiskUsage(self.capacity, self.capacity * (100 - self.used_percent) // 100)


def _add(store: ImageStore, ref: str, size: int, nodes: tuple[str, ...] = (NODE,),
         pinned: bool = False) -> None:
    """A single-layer image of `size` bytes tagged `ref` for `nodes`."""
    key = f"k{len(store.images())}"
    _, config = store_manifest(store, key, f"config-{ref}".encode(), [f"layer-{ref}".encode()])
    store.record(StoredImage(ref, "", key, config, size, pinned=pinned), nodes)


def _store(tmp_path: Path, images: dict[str, int], nodes: tuple[str, ...] = (NODE,),
           pinned: frozenset[str] = frozenset()) -> ImageStore:
    store = ImageStore(tmp_path / "images")
    for ref, size in images.items():
        _add(store, ref, size, nodes, ref in pinned)
    return store


def _lease(store: ImageStore, ref: str) -> Path:
    """A running container's lease on the image's layers."""
    image = store.lookup(ref)
    assert image is not None
    container_id = ref.replace("/", "-").replace(":", "-") + "-c-0"
    return lease(store, [store.layers / n for n in store.layer_names(image)], container_id)


def _refs(store: ImageStore) -> set[str]:
    return {image.ref for image in store.images()}


def _gc(store: ImageStore, disk: Disk, min_age: float = 120.0) -> NodeImageGc:
    return NodeImageGc(store, NODE, ImageGcPolicy(85, 80, min_age), disk)


def test_below_the_high_threshold_nothing_is_collected(tmp_path: Path) -> None:
    store = _store(tmp_path, {"reg/a:1": 10 * GB})
    assert _gc(store, Disk(84), min_age=0).collect(1000.0) == []
    assert _refs(store) == {"reg/a:1"}


def test_least_recently_used_first_down_to_the_low_threshold(tmp_path: Path) -> None:
    store = _store(tmp_path, {"reg/old:1": 3 * GB, "reg/used:1": 3 * GB})
    disk = Disk(50)
    gc = _gc(store, disk, min_age=60)
    gc.collect(0.0)  # both first detected at 0
    _add(store, "reg/new:1", 3 * GB)
    container = _lease(store, "reg/used:1")
    gc.collect(100.0)  # reg/new:1 first detected, reg/used:1 used at 100
    container.unlink()
    disk.used_percent = 86  # 6 GB to free (down to 80 %)
    assert gc.collect(200.0) == ["reg/old:1", "reg/new:1"]  # never used: detected first first
    assert _refs(store) == {"reg/used:1"}
    blobs = store.layout / "blobs" / "sha256"
    assert len(list(blobs.iterdir())) == 3  # the store collected the others' blobs


def test_images_in_use_pinned_or_too_young_are_kept_and_the_shortfall_is_an_error(
        tmp_path: Path) -> None:
    store = _store(tmp_path, {"reg/run:1": GB, "reg/loaded:1": GB, "reg/young:1": GB},
                   pinned=frozenset({"reg/loaded:1"}))
    _lease(store, "reg/run:1")
    gc = _gc(store, Disk(90))
    with pytest.raises(ImageGcError) as failed:
        gc.collect(0.0)  # reg/young:1 was first detected now
    assert failed.value.reason == "FreeDiskSpaceFailed"
    assert str(failed.value) == (
        "Failed to garbage collect required amount of images. Attempted to free "
        f"{10 * GB} bytes, but only found 0 bytes eligible to free.")
    assert _refs(store) == {"reg/run:1", "reg/loaded:1", "reg/young:1"}
    with pytest.raises(ImageGcError):
        gc.collect(120.0)  # old enough now: collected, but 1 GB is not 10
    assert _refs(store) == {"reg/run:1", "reg/loaded:1"}


def test_an_image_another_node_has_is_untagged_but_frees_nothing_yet(tmp_path: Path) -> None:
    store = _store(tmp_path, {"reg/a:1": 20 * GB}, nodes=(NODE, "node-2"))
    with pytest.raises(ImageGcError, match="only found 0 bytes"):
        _gc(store, Disk(90), min_age=0).collect(0.0)
    assert store.lookup("reg/a:1") is not None and store.lookup("reg/a:1", NODE) is None


def test_a_capacity_of_zero_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(ImageGcError) as failed:
        _gc(_store(tmp_path, {}), Disk(0, capacity=0)).collect(0.0)
    assert (failed.value.reason, str(failed.value)) == (
        "InvalidDiskCapacity", "invalid capacity 0 on image filesystem")


async def _inline(function: Callable[[float], list[str]], now: float) -> list[str]:
    """No thread: virtual time would not wait for it."""
    return function(now)


class Events(EventRecorder):
    """kubelet's recorder (render, correlation) with the API write captured."""

    def __init__(self) -> None:
        super().__init__(cast(Api, None), "kubelet", host=NODE)
        self.recorded: list[tuple[str, str, str, str, str]] = []

    async def _write(self, item: Correlated) -> None:
        event, involved = item.event, item.event["involvedObject"]
        self.recorded.append((f"{involved['kind']}/{involved['name']}",
                              event["metadata"]["namespace"], event["type"], event["reason"],
                              event["message"].split(".")[0]))


def test_checks_every_period_and_repeated_failures_are_image_gc_failed(
        tmp_path: Path) -> None:
    store = _store(tmp_path, {"reg/a:1": GB})
    disk, events = Disk(90), Events()

    async def scenario(clock: FakeClock) -> None:
        collector = ImageGarbageCollector(_gc(store, disk, min_age=0), events, 300.0, clock,
                                          offload=_inline)
        collector.start()
        await clock.sleep(1)  # the first check runs at start: 1 GB of 10 freed
        assert _refs(store) == set()
        assert [e[3] for e in events.recorded] == ["FreeDiskSpaceFailed"]
        await clock.sleep(300)  # the second failure in a row: ImageGCFailed too
        assert [e[3] for e in events.recorded] == ["FreeDiskSpaceFailed"] * 2 + [
            "ImageGCFailed"]
        assert events.recorded[-1] == (f"Node/{NODE}", "default", "Warning", "ImageGCFailed",
                                       "Failed to garbage collect required amount of images")
        disk.used_percent = 50
        await clock.sleep(300)
        disk.used_percent = 90
        await clock.sleep(300)  # a failure after a success: no ImageGCFailed
        assert [e[3] for e in events.recorded][3:] == ["FreeDiskSpaceFailed"]
        await collector.stop()

    run_on_fake_clock(scenario)
