"""`portico image load`: `docker save` tarballs and OCI archives into the store.

What `kind load docker-image` and `k3s ctr images import` do, on the shared store:
each archive's images are named by the archive itself (docker-save `manifest.json`
`RepoTags`; an OCI archive's `index.json` annotations `io.containerd.image.name`,
else `org.opencontainers.image.ref.name` when it is a full reference; Docker >= 25
writes both, `manifest.json` wins).  Each named image is copied by skopeo
(`docker-archive:FILE:NAME` / `oci-archive:FILE:REF`) into the layout (blobs already
there are not copied again), checked for this machine's platform, unpacked, then
tagged for the chosen nodes; an image that fails leaves no tag and nothing
half-unpacked.  A tag that already named another image is re-pointed and reported
(old -> new).  Loaded images are pinned (as k3s pins its imports): kubelet's
disk-usage collection (`_disk_gc`) never removes them, only `portico image rm`
does.  Loaded images have no repo digest: `imageID` is their config
digest, as containerd reports imports.  A `:latest` image gets a warning: its
default pull policy is `Always`, so a pod would still pull it (kind's most reported
surprise).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from portico.images._reference import parse
from portico.oci._pull import check_platform, full_ref
from portico.oci._store import ImageStore, StoredImage, StoreError, last_line, layout_key

SKOPEO = "skopeo"
CONTAINERD_NAME = "io.containerd.image.name"
REF_NAME = "org.opencontainers.image.ref.name"
LATEST_WARNING = ("warning: {ref} is tagged latest: a pod's imagePullPolicy then defaults to "
                  "Always and it is pulled from its registry anyway; set imagePullPolicy: "
                  "IfNotPresent (or Never), or load and use another tag")


class ArchiveError(Exception):
    """The file is not an image archive Portico can load (the message says why)."""


def _json_member(tar: tarfile.TarFile, name: str) -> object | None:
    try:
        member = tar.extractfile(name)
    except KeyError:
        return None
    return json.loads(member.read()) if member is not None else None


def archive_images(path: Path) -> list[tuple[str, str]]:
    """(skopeo source, normalized reference) for every named image of the archive."""
    try:
        with tarfile.open(path) as tar:
            manifest = _json_member(tar, "manifest.json")
            index = _json_member(tar, "index.json")
    except (tarfile.TarError, OSError, ValueError, EOFError) as error:
        raise ArchiveError(f"{path}: not a readable image archive: {error}") from None
    out: list[tuple[str, str]] = []
    if isinstance(manifest, list):
        for entry in manifest:
            for tag in entry.get("RepoTags") or []:
                out.append((f"docker-archive:{path}:{tag}", full_ref(parse(tag))))
    elif isinstance(index, dict):
        for entry in index.get("manifests") or []:
            notes = entry.get("annotations") or {}
            ref_name = str(notes.get(REF_NAME) or "")
            name = notes.get(CONTAINERD_NAME) or (ref_name if "/" in ref_name else "")
            if name:
                out.append((f"oci-archive:{path}" + (f":{ref_name}" if ref_name else ""),
                            full_ref(parse(str(name)))))
    else:
        raise ArchiveError(f"{path}: neither a docker-save tarball (manifest.json) nor an OCI "
                           "archive (index.json)")
    if not out:
        raise ArchiveError(f"{path}: no named image in the archive (docker save NAME:TAG, or "
                           f"an OCI archive with {CONTAINERD_NAME} annotations)")
    return out


def load(store: ImageStore, files: Sequence[Path], nodes: tuple[str, ...]) -> Iterator[str]:
    """Load every file's images for `nodes`; yields one line per image (or warning)."""
    for path in files:
        for source, ref in archive_images(path):
            yield from _load_one(store, source, ref, nodes)


def _load_one(store: ImageStore, source: str, ref: str,
              nodes: tuple[str, ...]) -> Iterator[str]:
    key = layout_key(ref)
    with store.locked():
        old = store.lookup(ref)
        done = subprocess.run([SKOPEO, "copy", "--quiet", source, f"oci:{store.layout}:{key}"],
                              capture_output=True, text=True, timeout=1800, check=False)
        if done.returncode != 0:
            raise ArchiveError(f"{source}: {last_line(done.stderr)}")
        try:
            image = store.describe(ref, key, "")
            check_platform(store.config(image).get("architecture", ""))
            store.unpacked(image)
        except StoreError as error:
            raise ArchiveError(f"{ref}: {error}") from None
        stored = store.record(dataclasses.replace(image, pinned=True), nodes)
    yield _loaded(stored, old)
    if not parse(ref).digest and (parse(ref).tag or "latest") == "latest":
        yield LATEST_WARNING.format(ref=ref)


def _loaded(image: StoredImage, old: StoredImage | None) -> str:
    where = ", ".join(image.nodes)
    line = f"loaded {image.ref} ({image.config_digest[:19]}, {image.size} bytes) on {where}"
    if old is not None and old.config_digest != image.config_digest:
        line += f"; the tag moved from {old.config_digest[:19]}"
    return line
