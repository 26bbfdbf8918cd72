"""The cluster's image store, shared by all its nodes: blobs once, tags per node.

Layout under the store directory (the cluster's `D/images`):
- `layout/`: one OCI image layout (`index.json`, `blobs/sha256/<hex>`); every image
  the cluster has (pulled by skopeo or loaded) is a manifest in it, tagged with a
  key derived from its reference, so a layer shared by images (or pulled again by
  another node) is stored once;
- `refs.json`: reference (`docker.io/library/redis:7`) -> `StoredImage` (the repo
  digest containerd would report as imageID, the layout key, the config digest,
  the size, and the nodes that have the image: a pull tags it for the pulling node,
  `portico image load` for the chosen ones, pinned as k3s pins what it imports);
- `layers/<layer digest hex>/`: each layer unpacked once (`_layers`: GNU tar,
  whiteouts in overlayfs' form), shared by every image that has it; a container's
  root is an overlay of its image's layers;
- `leases/<container id>`: the layers a container runs on (`_gc`);
- `lock`: an flock held for every change, by agents (in threads) and the CLI alike
  (shared by containers leasing layers already unpacked).
A layer is unpacked into a temporary directory renamed into place only when
complete, so nothing half-unpacked is ever used; a failed one is removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portico.images._reference import parse
from portico.oci._layers import LayerError, unpack_blob

REF_NAME = "org.opencontainers.image.ref.name"
Claim = Callable[[Path, Path], bool]  # (layer blob, target) -> unpacked there (`_layers`)


class StoreError(Exception):
    """The store cannot give the image (corrupt content, failed unpack)."""


@dataclass(frozen=True)
class StoredImage:
    ref: str
    repo_digest: str  # top-level digest in its registry ("" for an import without one)
    key: str  # tag in the shared layout
    config_digest: str
    size: int
    nodes: tuple[str, ...] = ()
    pinned: bool = False  # loaded by `portico image load`: never garbage-collected

    @property
    def image_id(self) -> str:
        """What containerd reports as `imageID`: repo@digest, else the config digest."""
        if self.repo_digest:
            return f"{parse(self.ref).name}@{self.repo_digest}"
        return self.config_digest


def layout_key(ref: str) -> str:
    """A layout tag for `ref` (tags may not hold every character a reference has)."""
    return "r" + hashlib.sha256(ref.encode()).hexdigest()[:32]


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.layout = root / "layout"
        self.layers = root / "layers"  # one directory per unpacked layer (`_layers`)
        self.leases = root / "leases"  # <container id>: the layers it runs on (`_gc`)
        self._refs = root / "refs.json"

    @contextlib.contextmanager
    def locked(self, shared: bool = False) -> Iterator[None]:
        """The store's lock: exclusive for changes; `shared` to read and lease (many
        containers at once, while no pull, load or GC runs)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.root / "lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield

    def _read_refs(self) -> dict[str, StoredImage]:
        try:
            raw = json.loads(self._refs.read_text())
        except FileNotFoundError:
            return {}
        return {ref: StoredImage(**{**item, "nodes": tuple(item["nodes"])})
                for ref, item in raw.items()}

    def _write_refs(self, refs: dict[str, StoredImage]) -> None:
        tmp = self._refs.with_suffix(".tmp")
        tmp.write_text(json.dumps({r: dataclasses.asdict(i) for r, i in sorted(refs.items())},
                                  indent=1))
        tmp.replace(self._refs)

    def images(self) -> list[StoredImage]:
        return list(self._read_refs().values())

    def lookup(self, ref: str, node: str | None = None) -> StoredImage | None:
        image = self._read_refs().get(ref)
        if image is None or (node is not None and node not in image.nodes):
            return None
        return image

    def record(self, image: StoredImage, nodes: tuple[str, ...]) -> StoredImage:
        """Tag `image` for `nodes` (call with the lock held); returns what is stored."""
        refs = self._read_refs()
        old = refs.get(image.ref)
        kept = old.nodes if old is not None and old.config_digest == image.config_digest \
            else ()
        stored = dataclasses.replace(image, nodes=tuple(sorted({*kept, *nodes})))
        refs[image.ref] = stored
        self._write_refs(refs)
        return stored

    def remove(self, ref: str, nodes: tuple[str, ...] = ()) -> StoredImage | None:
        """Untag `ref` from `nodes` (all when empty); the ref goes with its last node."""
        refs = self._read_refs()
        image = refs.get(ref)
        if image is None:
            return None
        left = tuple(n for n in image.nodes if nodes and n not in nodes)
        if left:
            refs[ref] = dataclasses.replace(image, nodes=left)
        else:
            del refs[ref]
        self._write_refs(refs)
        return image

    def blob(self, digest: str) -> bytes:
        algorithm, _, hexa = digest.partition(":")
        try:
            return (self.layout / "blobs" / algorithm / hexa).read_bytes()
        except FileNotFoundError:
            raise StoreError(f"content digest {digest}: not found") from None

    def manifest_of(self, key: str) -> tuple[str, dict[str, Any]]:
        """(manifest digest, manifest) tagged `key` in the layout."""
        index = json.loads((self.layout / "index.json").read_text())
        for entry in index.get("manifests") or []:
            if (entry.get("annotations") or {}).get(REF_NAME) == key:
                return entry["digest"], json.loads(self.blob(entry["digest"]))
        raise StoreError(f"image {key} is not in the store")

    def describe(self, ref: str, key: str, repo_digest: str) -> StoredImage:
        """A `StoredImage` for what the layout holds under `key` (no nodes yet)."""
        digest, manifest = self.manifest_of(key)
        size = len(self.blob(digest)) + int(manifest["config"]["size"]) + sum(
            int(layer["size"]) for layer in manifest.get("layers") or [])
        return StoredImage(ref, repo_digest, key, manifest["config"]["digest"], size)

    def config(self, image: StoredImage) -> dict[str, Any]:
        """The image's config (`config`: Entrypoint, Cmd, Env, User...; `architecture`)."""
        config: dict[str, Any] = json.loads(self.blob(image.config_digest))
        return config

    def layer_names(self, image: StoredImage) -> list[str]:
        """The image's layers' directory names under `layers/`, bottom first."""
        _, manifest = self.manifest_of(image.key)
        return [layer_name(layer["digest"]) for layer in manifest.get("layers") or []]

    def unpacked_if_present(self, image: StoredImage) -> tuple[Path, ...]:
        """The image's layer directories, top first, if all are unpacked (else ())."""
        dirs = tuple(self.layers / name for name in reversed(self.layer_names(image)))
        return dirs if dirs and all(d.is_dir() for d in dirs) else ()

    def unpacked(self, image: StoredImage, claim: Claim | None = None) -> tuple[Path, ...]:
        """The image's layer directories, top first (an overlay's lowerdir order),
        unpacking those not there yet (call with the lock held): from a `Follower`'s
        stream (`claim`) when it has the layer, else from its blob."""
        _, manifest = self.manifest_of(image.key)
        dirs = []
        for layer in manifest.get("layers") or []:
            target = self.layers / layer_name(layer["digest"])
            if not target.is_dir():
                algorithm, _, hexa = str(layer["digest"]).partition(":")
                blob = self.layout / "blobs" / algorithm / hexa
                try:
                    if claim is None or not claim(blob, target):
                        unpack_blob(blob, target)
                except (LayerError, OSError) as error:
                    raise StoreError(f"failed to unpack image {image.ref}: layer "
                                     f"{layer['digest']}: {error}") from None
            dirs.append(target)
        if not dirs:
            raise StoreError(f"image {image.ref} has no layers")
        return tuple(reversed(dirs))


def layer_name(digest: str) -> str:
    return digest.partition(":")[2][:24]


def last_line(text: str) -> str:
    """The last non-empty line of a tool's stderr, without its logging prefix."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else "unknown error"
    if 'msg="' in line:
        line = line.split('msg="', 1)[1].rsplit('"', 1)[0].replace('\\"', '"')
    return line
