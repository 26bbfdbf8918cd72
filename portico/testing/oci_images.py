"""Small real OCI images for tests and benchmarks, built from Debian's busybox-static.

`build_layout(dest, tag, config)` writes an OCI image layout (`oci-layout`,
`index.json`, `blobs/sha256/...`) holding one single-layer image: `/bin/busybox`
with a symlink per applet, `/etc/passwd` and `/etc/group` (root, app 1000,
nobody 65534), `/tmp` (1777) and `/root`, plus optional `extra` files.  Everything
is deterministic (sorted tar entries, uid/gid 0, mtime 0, gzip mtime 0), so the
same inputs give the same digests.  `skopeo copy oci:DEST:TAG docker://...` pushes
it; `oci-archive:`/`docker-archive:` make the tarballs `portico image load` takes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

BUSYBOX = Path("/bin/busybox")
PASSWD = ("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\n"
          "nobody:x:65534:65534::/:/bin/false\n")
GROUP = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


def _applets() -> list[str]:
    out = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True)
    return sorted({a for a in out.stdout.split() if a and a != "busybox"})


def _entry(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644,
           size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, link
    info.uid = info.gid = 0
    info.mtime = 0
    return info


def layer_tar(extra: Mapping[str, bytes] | None = None, padding: int = 0) -> bytes:
    """The uncompressed layer; `padding` bytes of random-looking data in /pad (size tests)."""
    files: dict[str, tuple[bytes, int]] = {
        "bin/busybox": (BUSYBOX.read_bytes(), 0o755),
        "etc/passwd": (PASSWD.encode(), 0o644), "etc/group": (GROUP.encode(), 0o644)}
    for name, data in (extra or {}).items():
        files[name.lstrip("/")] = (data, 0o755)
    if padding:
        files["pad"] = (hashlib.shake_256(b"portico").digest(padding), 0o644)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = {"bin", "etc", "root", "tmp"} | {str(Path(n).parent) for n in files} - {"."}
        for d in sorted(dirs):
            tar.addfile(_entry(d + "/", tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755))
        for name, (data, mode) in sorted(files.items()):
            tar.addfile(_entry(name, mode=mode, size=len(data)), io.BytesIO(data))
        for applet in _applets():
            if f"bin/{applet}" not in files:
                tar.addfile(_entry(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox"))
    return buf.getvalue()


def _blob(blobs: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build_layout(dest: Path, tag: str, config: Mapping[str, Any],
                 extra: Mapping[str, bytes] | None = None, padding: int = 0,
                 architecture: str = "amd64") -> str:
    """Write (or add to) the OCI layout at `dest`; returns the manifest digest.
    `config` is the image config's `config` object (Entrypoint, Cmd, Env, User...)."""
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    raw = layer_tar(extra, padding)
    layer = _blob(blobs, gzip.compress(raw, mtime=0))
    image_config = {"architecture": architecture, "os": "linux", "config": dict(config),
                    "rootfs": {"type": "layers",
                               "diff_ids": [f"sha256:{hashlib.sha256(raw).hexdigest()}"]}}
    cfg = _blob(blobs, json.dumps(image_config, sort_keys=True).encode())
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                "config": {"mediaType": CONFIG_TYPE, **cfg},
                "layers": [{"mediaType": LAYER_TYPE, **layer}]}
    man = _blob(blobs, json.dumps(manifest, sort_keys=True).encode())
    index_path = dest / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {
        "schemaVersion": 2, "manifests": []}
    index["manifests"] = [m for m in index["manifests"] if m.get("annotations", {}).get(
        "org.opencontainers.image.ref.name") != tag]
    index["manifests"].append({"mediaType": MANIFEST_TYPE, **man, "annotations": {
        "org.opencontainers.image.ref.name": tag}})
    index_path.write_text(json.dumps(index))
    return str(man["digest"])


def skopeo_copy(source: str, dest: str, extra: Sequence[str] = (),
                prefix: Sequence[str] = ()) -> None:
    """`skopeo copy` (through `prefix`, e.g. nsenter into a sandbox); raises with stderr."""
    subprocess.run([*prefix, "skopeo", "copy", "--quiet", *extra, source, dest],
                   check=True, capture_output=True, timeout=120)
