"""Garbage collection of the image store: what no tagged image needs is removed.

`collect(store)` (with the store's lock held) keeps what the references in
`refs.json` reach and removes the rest:
- layout index entries whose key no reference uses (an image untagged from its last
  node, the old manifest of a re-pulled tag, a failed pull's or load's leftovers);
- blobs no kept manifest (or index) reaches: layers, configs, manifests;
- unpacked roots (`rootfs/<id>`) of no kept image, unless a container still runs on
  one: each container holds a lease file `leases/<id>/<container id>` from before
  its root is mounted until its clean-up (`OciContainer.finish`), so a root is
  never pulled from under an overlay mount, whichever namespace mounted it;
- temporary unpack directories left by a crash, and empty lease directories.
`portico image rm` collects after untagging (containerd's GC after an image delete),
and an agent whose container ended on a root no tagged image uses any more
(`release`: the image was removed while its pods ran) collects then.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portico.oci._store import REF_NAME, UNPACK_PREFIX, ImageStore


@dataclass(frozen=True)
class Collected:
    blobs: int
    bytes: int
    roots: int


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


def _leased(store: ImageStore, name: str) -> bool:
    leases = store.leases / name
    try:
        return any(leases.iterdir())
    except FileNotFoundError:
        return False


def _remove_roots(store: ImageStore, keep: set[str]) -> int:
    count, roots = 0, store.root / "rootfs"
    for root in (roots.iterdir() if roots.is_dir() else []):
        if root.name.startswith(UNPACK_PREFIX) or (
                root.name not in keep and not _leased(store, root.name)):
            shutil.rmtree(root, ignore_errors=True)
            count += not root.name.startswith(UNPACK_PREFIX)
    for leases in (store.leases.iterdir() if store.leases.is_dir() else []):
        if not any(leases.iterdir()):
            os.rmdir(leases)
    return count


def collect(store: ImageStore) -> Collected:
    """Remove what no tagged image needs (call with the lock held)."""
    images = store.images()
    reachable: set[str] = set()
    for entry in _prune_index(store, {i.key for i in images}):
        _reachable(store, entry["digest"], reachable)
    blobs, freed = _remove_blobs(store, reachable)
    roots = _remove_roots(store, {store.rootfs(i).name for i in images})
    return Collected(blobs, freed, roots)


def lease(store: ImageStore, root: Path, container_id: str) -> Path:
    """Mark `root` in use by the container (call with the lock held); the lease file."""
    path = store.leases / root.name / container_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


def release(store: ImageStore, root: Path) -> Collected | None:
    """A container on `root` ended (its lease dropped): collect when no tagged image
    uses the root any more (takes the lock)."""
    if root.parent != store.root / "rootfs":
        return None  # an adopted container's root is not known
    with store.locked():
        if not root.is_dir() or root.name in {store.rootfs(i).name for i in store.images()}:
            return None
        return collect(store)
