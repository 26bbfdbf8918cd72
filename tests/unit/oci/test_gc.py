"""The image store's garbage collection on a hand-made layout (no tools needed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from portico.oci._gc import collect, lease, release
from portico.oci._store import REF_NAME, ImageStore, StoredImage, layer_name
from portico.testing.oci_images import store_blob as _blob
from portico.testing.oci_images import store_manifest as _image


def _blobs(store: ImageStore) -> set[str]:
    return {f"sha256:{p.name}" for p in (store.layout / "blobs" / "sha256").iterdir()}


def test_collect_keeps_what_tagged_images_reach_and_leased_layers(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    kept_manifest, kept_config = _image(store, "k1", b"config-1", [b"base", b"app-1"])
    _, gone_config = _image(store, "k2", b"config-2", [b"base", b"app-2"])
    store.record(StoredImage("reg/app:1", "", "k1", kept_config, 10), ("node-1",))
    base, app1, app2 = (store.layers / layer_name(_blob(store, b)) for b in (
        b"base", b"app-1", b"app-2"))
    for layer in (base, app1, app2):
        (layer / "bin").mkdir(parents=True)
    (store.layers / ".unpack-crashed").mkdir()
    in_use = lease(store, [app2, base], "abc-c-0")

    collected = collect(store)

    assert _blobs(store) == {kept_manifest, kept_config, _blob(store, b"base"),
                             _blob(store, b"app-1")}
    assert (collected.blobs, collected.bytes) == (
        3, len(b"config-2") + len(b"app-2") + _manifest_size(gone_config))
    keys = [e["annotations"][REF_NAME] for e in json.loads(
        (store.layout / "index.json").read_text())["manifests"]]
    assert keys == ["k1"]
    assert app2.is_dir() and collected.layers == 0  # a container runs on it
    assert not (store.layers / ".unpack-crashed").exists()

    assert release(store, [app2, base]) is not None  # app-2 is no tagged image's
    assert app2.is_dir()  # still leased: the lease goes first (`OciContainer.finish`)
    in_use.unlink()
    assert collect(store).layers == 1
    assert not app2.exists() and base.is_dir() and app1.is_dir()
    assert release(store, [base]) is None  # base is still the tagged image's


def _manifest_size(config_digest: str) -> int:
    return len(json.dumps({"schemaVersion": 2, "config": {"digest": config_digest, "size": 1},
                           "layers": [{"digest": f"sha256:{hashlib.sha256(b).hexdigest()}",
                                       "size": len(b)} for b in (b"base", b"app-2")]}).encode())


def test_untagging_the_last_node_lets_everything_go(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    _, config = _image(store, "k1", b"config-1", [b"layer"])
    store.record(StoredImage("reg/app:1", "", "k1", config, 10), ("node-1", "node-2"))
    store.remove("reg/app:1", ("node-1",))
    assert collect(store).blobs == 0
    store.remove("reg/app:1")
    assert collect(store).blobs == 3 and _blobs(store) == set()
