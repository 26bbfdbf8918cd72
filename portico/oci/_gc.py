"""Garbage collection of the image store: what no tagged image needs is removed.

`collect(store)` (with the store's lock held) keeps what the references in
`refs.json` reach and removes the rest:
- layout index entries whose key no reference uses (an image untagged from its last
  node, the old manifest of a re-pulled tag, a failed pull's or load's leftovers);
- blobs no kept manifest (or index) reaches: layers, configs, manifests;
- unpacked layers (`layers/<id>`) of no kept image, unless a container still runs
  on one: each container holds a lease file `leases/<container id>` naming its
  layers from before its root is mounted until its clean-up (`OciContainer.finish`),
  so a layer is never pulled from under an overlay mount, whichever namespace
  mounted it;
- temporary unpack directories left by a crash.
`portico image rm` collects after untagging (containerd's GC after an image delete),
an agent whose container ended on layers no tagged image uses any more
(`release`: the image was removed while its pods ran) collects then, and so does
kubelet's disk-usage collection after untagging unused images (`_disk_gc`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portico.oci._layers import TEMP_PREFIX
from portico.oci._store import REF_NAME, ImageStore, layer_name


@dataclass(frozen=True)
class Collected:
    blobs: int
    bytes: int
    layers: int


def _reachable(store: ImageStore, digest: str, seen: set[str]) -> None:
    """Add `digest` and every blob it references (manifests, indexes) to `seen`."""
    if digest in seen:
        return
    seen.add(digest)
    algorithm, _, hexa = digest.partition(":")
    try:
        document: Any = json.loads((store.layout / "blobs" / algorithm / hexa).read_bytes())
    except (OSError, ValueError):
        return  # a layer, or a blob that is not there
    if not isinstance(document, dict):
        return
    children = [*(document.get("manifests") or []), *(document.get("layers") or [])]
    if isinstance(document.get("config"), dict):
        children.append(document["config"])
    for child in children:
        if isinstance(child, dict) and isinstance(child.get("digest"), str):
            _reachable(store, child["digest"], seen)


def _prune_index(store: ImageStore, keys: set[str]) -> list[dict[str, Any]]:
    """Drop the index entries of keys no reference uses; the kept entries."""
    index_path = store.layout / "index.json"
    try:
        index = json.loads(index_path.read_text())
    except FileNotFoundError:
        return []
    entries = index.get("manifests") or []
    kept = [e for e in entries if (e.get("annotations") or {}).get(REF_NAME) in keys]
    if len(kept) != len(entries):
        index["manifests"] = kept
        tmp = index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(index))
        tmp.replace(index_path)
    return kept


def _remove_blobs(store: ImageStore, keep: set[str]) -> tuple[int, int]:
    count = freed = 0
    blobs = store.layout / "blobs"
    for algorithm in (blobs.iterdir() if blobs.is_dir() else []):
        for blob in algorithm.iterdir():
            if f"{algorithm.name}:{blob.name}" not in keep:
                freed += blob.stat().st_size
                blob.unlink()
                count += 1
    return count, freed


def leased_layer_sets(store: ImageStore) -> set[frozenset[str]]:
    """Each running container's layers, as its lease names them."""
    sets: set[frozenset[str]] = set()
    for lease_file in (store.leases.iterdir() if store.leases.is_dir() else []):
        with contextlib.suppress(OSError):
            sets.add(frozenset(lease_file.read_text().split()))
    return sets


def _leased(store: ImageStore) -> set[str]:
    """The layers containers run on."""
    return set().union(*leased_layer_sets(store))


def _remove_layers(store: ImageStore, keep: set[str]) -> int:
    count = 0
    for layer in (store.layers.iterdir() if store.layers.is_dir() else []):
        if layer.name.startswith(TEMP_PREFIX) or layer.name not in keep:
            shutil.rmtree(layer, ignore_errors=True)
            count += not layer.name.startswith(TEMP_PREFIX)
    return count


def collect(store: ImageStore) -> Collected:
    """Remove what no tagged image needs (call with the lock held)."""
    reachable: set[str] = set()
    for entry in _prune_index(store, {i.key for i in store.images()}):
        _reachable(store, entry["digest"], reachable)
    blobs, freed = _remove_blobs(store, reachable)
    layers = _remove_layers(store, {layer_name(d) for d in reachable} | _leased(store))
    return Collected(blobs, freed, layers)


def lease(store: ImageStore, layers: Sequence[Path], container_id: str) -> Path:
    """Mark `layers` in use by the container (call with the lock held); the lease file."""
    path = store.leases / container_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(layer.name for layer in layers) + "\n")
    return path


def release(store: ImageStore, layers: Sequence[Path]) -> Collected | None:
    """A container on `layers` ended (its lease dropped): collect when some layer is
    no tagged image's any more (takes the lock)."""
    if not layers:
        return None  # an adopted container's layers are not known
    with store.locked():
        tagged = {name for image in store.images() for name in store.layer_names(image)}
        if all(layer.name in tagged for layer in layers):
            return None
        return collect(store)
