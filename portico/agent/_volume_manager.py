"""One pod's volumes on the node: set up before the containers, kept current, torn down.

`PodVolumes.setup(pod)` makes every volume's machine path (`_volumes.volume_dir`):
- emptyDir: a directory (mode 0777); `medium: Memory` mounts a tmpfs there (size
  `sizeLimit`), in the node's data dir, unmounted by `teardown`;
- configMap, secret, downwardAPI, projected: the payload (`_volume_payload`) written
  by the atomic writer (`_atomic_writer`);
- hostPath: the machine's path itself, after kubelet's type check; Portico never
  creates it (`DirectoryOrCreate`/`FileOrCreate` of a missing path fail);
- persistentVolumeClaim: the bound PersistentVolume's directory (`local.path` or
  `hostPath.path`); a claim that is not bound yet fails and is retried.
A failure raises `VolumeError` with kubelet's `MountVolume.SetUp failed for volume
"NAME" : ...` text; the pod worker records it as a FailedMount event and retries.

The ConfigMaps and Secrets come from the node's watches of them (`_object_cache`,
kubelet's watch-based strategy), shared by the pods that read them, never a GET per pod.
`refresh(pod)` rewrites the API-backed volumes from the objects as last seen (the
pod worker calls it every `volume_sync_seconds`, as kubelet's periodic pod sync does),
so running containers see ConfigMap, Secret and label changes; a payload that did not
change is not rewritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from portico.agent._atomic_writer import write_payload
from portico.agent._config import AgentConfig
from portico.agent._mounts import MNT_DETACH, MS_NODEV, MS_NOSUID
from portico.agent._object_cache import ObjectCache, ObjectRef
from portico.agent._tokens import TokenManager, token_sources
from portico.agent._volume_payload import PayloadError, VolumeSources, volume_payload
from portico.agent._volumes import (
    API_DATA,
    SourceKind,
    VolumeError,
    VolumeKind,
    VolumePaths,
    needed_objects,
    volume_dir,
    volume_kind,
)
from portico.client import Api
from portico.model.kinds import (
    CONFIG_MAP,
    PERSISTENT_VOLUME,
    PERSISTENT_VOLUME_CLAIM,
    SECRET,
    Kind,
)
from portico.model.quantity import parse_quantity

log = logging.getLogger("portico.agent.volumes")
Object = dict[str, Any]
RETRY_FIRST, RETRY_MAX = 0.5, 16.0  # kubelet: 0.5 s doubling to 2m2s
SETUP_FAILED = 'MountVolume.SetUp failed for volume "{volume}" : {message}'
_libc = ctypes.CDLL(None, use_errno=True)
EMPTY_DIR_MODE = 0o777
_HOST_PATH_TYPES = {
    "Directory": (stat.S_ISDIR, "is not a directory"),
    "DirectoryOrCreate": (stat.S_ISDIR, "is not a directory"),
    "File": (stat.S_ISREG, "is not a file"),
    "FileOrCreate": (stat.S_ISREG, "is not a file"),
    "Socket": (stat.S_ISSOCK, "is not a socket file"),
    "CharDevice": (stat.S_ISCHR, "is not a character device"),
    "BlockDevice": (stat.S_ISBLK, "is not a block device"),
}


def referenced_names(volumes: list[Object]) -> tuple[set[str], set[str]]:
    """Names of the ConfigMaps and Secrets the API-backed volumes read (optional too)."""
    configmaps, secrets = set(), set()
    for volume in volumes:
        sources = [volume] + list((volume.get("projected") or {}).get("sources") or [])
        for source in sources:
            if isinstance(source.get("configMap"), dict):
                configmaps.add(str(source["configMap"].get("name", "")))
            if isinstance(source.get("secret"), dict):
                ref = source["secret"]
                secrets.add(str(ref.get("secretName") or ref.get("name") or ""))
    return configmaps, secrets


def _host_path(volume: Object) -> Path:
    source = volume["hostPath"]
    path, kind = Path(str(source.get("path", ""))), str(source.get("type") or "")
    if kind not in _HOST_PATH_TYPES:
        return path
    check, message = _HOST_PATH_TYPES[kind]
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise VolumeError(f"hostPath type check failed: {path} does not exist (Portico does "
                          "not create paths on the machine)") from None
    if not check(mode):
        raise VolumeError(f"hostPath type check failed: {path} {message}")
    return path


def _mount_tmpfs(path: Path, size_limit: Any) -> None:
    if os.path.ismount(path):
        return
    options = "mode=1777"
    if size_limit is not None:
        options += f",size={int(parse_quantity(size_limit))}"
    if _libc.mount(b"tmpfs", str(path).encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                   options.encode()) != 0:
        err = ctypes.get_errno()
        raise VolumeError(f"mount tmpfs on {path}: {os.strerror(err)}")


class PodVolumes:
    def __init__(self, client: Api, config: AgentConfig, pod_dir: Path,
                 tokens: TokenManager, objects: ObjectCache) -> None:
        self.client = client
        self.config = config
        self.tokens = tokens
        self.objects = objects
        self.pod_dir = pod_dir
        self.paths: VolumePaths = {}
        self._memory: list[Path] = []

    def _watched(self, pod: Object, kind: Kind, name: str) -> ObjectRef:
        """The object's reference, its watch shared with the node's other pods."""
        meta = pod["metadata"]
        ref = (kind, str(meta["namespace"]), name)
        self.objects.register(str(meta["uid"]), [ref])
        return ref

    async def _sources(self, pod: Object) -> VolumeSources:
        configmaps, secrets = referenced_names(pod["spec"].get("volumes") or [])
        cfg = self.config
        get = self.objects.get
        return VolumeSources(
            configmaps={n: await get(self._watched(pod, CONFIG_MAP, n)) for n in configmaps},
            secrets={n: await get(self._watched(pod, SECRET, n)) for n in secrets},
            tokens={(s.audience, s.expiration_seconds): await self.tokens.token(pod, s)
                    for s in token_sources(pod)},
            root_ca=await asyncio.to_thread(cfg.client_ca.read_bytes), node_ip=cfg.node_ip)

    async def _claim_path(self, volume: Object, namespace: str) -> Path:
        claim_name = str(volume["persistentVolumeClaim"].get("claimName", ""))
        claim = await self.client.get_or_none(PERSISTENT_VOLUME_CLAIM, claim_name, namespace)
        if claim is None:
            raise VolumeError(f'persistentvolumeclaim "{claim_name}" not found')
        pv_name = (claim.get("spec") or {}).get("volumeName")
        if not pv_name or (claim.get("status") or {}).get("phase") != "Bound":
            raise VolumeError(f'persistentvolumeclaim "{claim_name}" is not bound')
        pv = await self.client.get_or_none(PERSISTENT_VOLUME, pv_name, None) or {}
        spec = pv.get("spec") or {}
        path = (spec.get("local") or spec.get("hostPath") or {}).get("path")
        if not path:
            raise VolumeError(f'persistentvolume "{pv_name}" has no local or hostPath path')
        return Path(path)

    async def _setup_one(self, volume: Object, pod: Object, sources: VolumeSources) -> None:
        name, kind = str(volume["name"]), volume_kind(volume)
        where = volume_dir(self.pod_dir, volume)
        if kind is VolumeKind.EMPTY_DIR:
            await asyncio.to_thread(where.mkdir, EMPTY_DIR_MODE, True, True)
            await asyncio.to_thread(where.chmod, EMPTY_DIR_MODE)
            empty_dir = volume.get("emptyDir") or {}
            if empty_dir.get("medium") == "Memory":
                await asyncio.to_thread(_mount_tmpfs, where, empty_dir.get("sizeLimit"))
                self._memory.append(where)
            self.paths[name] = (where, True)
        elif kind in API_DATA:
            payload = volume_payload(volume, pod, sources) or {}
            await asyncio.to_thread(write_payload, where, payload)
            self.paths[name] = (where, False)
        elif kind is VolumeKind.HOST_PATH:
            self.paths[name] = (await asyncio.to_thread(_host_path, volume), False)
        elif kind is VolumeKind.PERSISTENT_VOLUME_CLAIM:
            self.paths[name] = (await self._claim_path(volume, pod["metadata"]["namespace"]),
                                True)

    async def setup(self, pod: Object) -> None:
        """Every volume ready (raises VolumeError with kubelet's FailedMount text)."""
        sources = await self._sources(pod)
        for volume in pod["spec"].get("volumes") or []:
            try:
                await self._setup_one(volume, pod, sources)
            except (VolumeError, PayloadError, ValueError) as error:
                raise VolumeError(SETUP_FAILED.format(volume=volume.get("name"),
                                                      message=error)) from None

    async def _failures(self, pod: Object) -> list[str]:
        """FailedMount messages: the missing objects, else the first volume that failed."""
        kinds = {SourceKind.CONFIG_MAP: CONFIG_MAP, SourceKind.SECRET: SECRET}
        missing = [n.mount_failed() for n in needed_objects(pod.get("spec") or {})
                   if await self.objects.get(self._watched(pod, kinds[n.kind], n.name)) is None]
        if missing:
            return missing
        try:
            await self.setup(pod)
        except VolumeError as error:
            return [str(error)]
        return []

    async def wait_ready(self, pod: Callable[[], Object],
                         failed: Callable[[list[str]], None]) -> None:
        """kubelet's volume manager: retry until every volume is set up, reporting each
        failed round to `failed` (FailedMount events)."""
        delay = RETRY_FIRST
        while True:
            current = pod()
            try:
                messages = await self._failures(current)
            except Exception as error:  # the API is unreachable: try again
                log.warning("pod %s/%s: volume set-up failed: %r",
                            current["metadata"]["namespace"], current["metadata"]["name"], error)
                messages = []
            else:
                if not messages:
                    return
            failed(messages)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    async def refresh(self, pod: Object) -> None:
        """Rewrite the API-backed volumes whose files changed (errors: kept as they were)."""
        volumes = [v for v in pod["spec"].get("volumes") or [] if volume_kind(v) in API_DATA]
        if not volumes:
            return
        sources = await self._sources(pod)
        for volume in volumes:
            with contextlib.suppress(PayloadError):
                payload = volume_payload(volume, pod, sources) or {}
                await asyncio.to_thread(write_payload, volume_dir(self.pod_dir, volume), payload)

    def has_api_data(self, pod: Object) -> bool:
        return any(volume_kind(v) in API_DATA for v in pod["spec"].get("volumes") or [])

    async def teardown(self) -> None:
        """Unmount the memory-backed emptyDirs (the caller removes the directories)."""
        for path in self._memory:
            await asyncio.to_thread(_libc.umount2, str(path).encode(), MNT_DETACH)
        self._memory.clear()
