"""Small real OCI images for tests and benchmarks, built from Debian's busybox-static.

`build_layout(dest, tag, config)` writes an OCI image layout (`oci-layout`,
`index.json`, `blobs/sha256/...`) holding one single-layer image: `/bin/busybox`
with a symlink per applet, `/etc/passwd` and `/etc/group` (root, app 1000,
nobody 65534), `/tmp` (1777) and `/root`, plus optional `extra` files.  Everything
is deterministic (sorted tar entries, uid/gid 0, mtime 0, gzip mtime 0), so the
same inputs give the same digests.  `start_registry` runs Debian's docker-registry
in a sandbox and `push` copies an image there with skopeo; skopeo's `oci-archive:` /
`docker-archive:` make the tarballs `portico image load` takes.  `store_manifest`
puts a hand-made manifest straight into an `ImageStore`'s layout (unit tests of the
store, no tools needed).
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

from portico.oci._store import REF_NAME, ImageStore
from portico.testing.sandbox import Sandbox, wait_for

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


def upper_tar(files: Mapping[str, bytes]) -> bytes:
    """A layer of just `files` (their directories made): `.wh.NAME` whiteouts too."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in sorted({str(Path(n).parent) for n in files} - {"."}):
            tar.addfile(_entry(d + "/", tarfile.DIRTYPE, 0o755))
        for name, data in sorted(files.items()):
            tar.addfile(_entry(name, size=len(data)), io.BytesIO(data))
    return buf.getvalue()


def _blob(blobs: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build_layout(dest: Path, tag: str, config: Mapping[str, Any],
                 extra: Mapping[str, bytes] | None = None, padding: int = 0,
                 architecture: str = "amd64",
                 uppers: Sequence[Mapping[str, bytes]] = ()) -> str:
    """Write (or add to) the OCI layout at `dest`; returns the manifest digest.
    `config` is the image config's `config` object (Entrypoint, Cmd, Env, User...);
    `uppers`: more layers above the busybox one (`upper_tar`)."""
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    raws = [layer_tar(extra, padding), *(upper_tar(files) for files in uppers)]
    layers = [_blob(blobs, gzip.compress(raw, mtime=0)) for raw in raws]
    image_config = {"architecture": architecture, "os": "linux", "config": dict(config),
                    "rootfs": {"type": "layers", "diff_ids": [
                        f"sha256:{hashlib.sha256(raw).hexdigest()}" for raw in raws]}}
    cfg = _blob(blobs, json.dumps(image_config, sort_keys=True).encode())
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                "config": {"mediaType": CONFIG_TYPE, **cfg},
                "layers": [{"mediaType": LAYER_TYPE, **layer} for layer in layers]}
    man = _blob(blobs, json.dumps(manifest, sort_keys=True).encode())
    index_path = dest / "index.json"
    index: dict[str, Any] = json.loads(index_path.read_text()) if index_path.exists() else {
        "schemaVersion": 2, "manifests": []}
    index["manifests"] = [m for m in index["manifests"] if m.get("annotations", {}).get(
        "org.opencontainers.image.ref.name") != tag]
    index["manifests"].append({"mediaType": MANIFEST_TYPE, **man, "annotations": {
        "org.opencontainers.image.ref.name": tag}})
    index_path.write_text(json.dumps(index))
    return str(man["digest"])


def start_registry(sandbox: Sandbox, root: Path, port: int, htpasswd: Path | None) -> None:
    """Debian's docker-registry on the sandbox's 127.0.0.1:port (anonymous, or htpasswd);
    the sandbox ends it when it closes."""
    config: dict[str, Any] = {
        "version": 0.1, "http": {"addr": f"127.0.0.1:{port}"},
        "storage": {"filesystem": {"rootdirectory": str(root / f"data-{port}")}}}
    if htpasswd is not None:
        config["auth"] = {"htpasswd": {"realm": "portico-test", "path": str(htpasswd)}}
    path = root / f"registry-{port}.yml"
    path.write_text(json.dumps(config))
    sandbox.popen(["docker-registry", "serve", str(path)], stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL)
    probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), 1)"
    wait_for(lambda: sandbox.run(["python3", "-c", probe]).returncode == 0, 20,
             message=f"the registry listening on {port}")


def push(sandbox: Sandbox, layout: Path, tag: str, dest: str, creds: str = "") -> None:
    """skopeo copy of the layout's `tag` to `dest` (a registry reference), in the sandbox."""
    sandbox.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                 *([f"--dest-creds={creds}"] if creds else []), f"oci:{layout}:{tag}",
                 f"docker://{dest}"], check=True, timeout=300)


def store_blob(store: ImageStore, content: bytes) -> str:
    """`content` as a blob of the store's layout; its digest."""
    digest = hashlib.sha256(content).hexdigest()
    path = store.layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return f"sha256:{digest}"


def store_manifest(store: ImageStore, key: str, config: bytes,
                   layers: list[bytes]) -> tuple[str, str]:
    """A manifest tagged `key` in the store's layout: (manifest digest, config digest)."""
    config_digest = store_blob(store, config)
    manifest = json.dumps({"schemaVersion": 2, "config": {"digest": config_digest, "size": 1},
                           "layers": [{"digest": store_blob(store, layer), "size": len(layer)}
                                      for layer in layers]}).encode()
    digest = store_blob(store, manifest)
    index_path = store.layout / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {"manifests": []}
    index["manifests"].append({"digest": digest, "annotations": {REF_NAME: key}})
    index_path.write_text(json.dumps(index))
    return digest, config_digest
