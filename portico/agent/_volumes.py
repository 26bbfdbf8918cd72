"""A pod's volumes, as kubelet's volume manager plans them (pure).

Where each volume lives on the machine (`volume_dir`: kubelet's
`pods/<uid>/volumes/<plugin>/<name>` under the node's data dir), which machine path
backs it (`VolumePaths`), and what each container mounts where
(`container_mounts`: mountPath, readOnly, subPath / subPathExpr; configMap, secret,
downwardAPI and projected volumes are always read-only, as kubelet mounts them).
The mounts themselves happen in the container's mount namespace (`_mounts`); the
files of API-backed volumes come from `_volume_payload`; `_volume_manager` does the I/O.

Before any of that, kubelet's gate: a pod whose `configMap` or `secret` volume (or projected source)
names an object that does not exist, and is not `optional`, does not start; kubelet
reports it with `FailedMount` events (`MountVolume.SetUp failed for volume "cfg" :
configmap "app-config" not found`) and retries until the object appears.
`needed_objects` lists what to check (pure).  `kube-root-ca.crt` is not among them:
Portico has no root-CA publisher, and manifests copied from a cluster name that
ConfigMap in their `kube-api-access-*` volume.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from portico.agent._mounts import Mount

Object = dict[str, Any]
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
MOUNT_FAILED = 'MountVolume.SetUp failed for volume "{volume}" : {kind} "{name}" not found'


class SourceKind(StrEnum):
    CONFIG_MAP = "configmap"
    SECRET = "secret"


@dataclass(frozen=True)
class NeededObject:
    volume: str
    kind: SourceKind
    name: str

    def mount_failed(self) -> str:
        return MOUNT_FAILED.format(volume=self.volume, kind=self.kind.value, name=self.name)


def _source(volume: str, source: Object) -> NeededObject | None:
    for key, kind, name_key in (("configMap", SourceKind.CONFIG_MAP, "name"),
                                ("secret", SourceKind.SECRET, "secretName"),
                                ("secret", SourceKind.SECRET, "name")):
        ref = source.get(key)
        if not isinstance(ref, dict) or not ref.get(name_key) or ref.get("optional"):
            continue
        if (kind, ref[name_key]) != (SourceKind.CONFIG_MAP, ROOT_CA_CONFIG_MAP):
            return NeededObject(volume, kind, str(ref[name_key]))
    return None


def needed_objects(spec: Object) -> list[NeededObject]:
    """The ConfigMaps and Secrets the pod's volumes need, in volume order."""
    needed = []
    for volume in spec.get("volumes") or []:
        name = str(volume.get("name", ""))
        sources = [volume] + list((volume.get("projected") or {}).get("sources") or [])
        needed += [n for s in sources if (n := _source(name, s)) is not None]
    return needed


class VolumeKind(StrEnum):
    """kubelet's plugin directory names (`pods/<uid>/volumes/<kind>/<name>`)."""
    EMPTY_DIR = "kubernetes.io~empty-dir"
    CONFIG_MAP = "kubernetes.io~configmap"
    SECRET = "kubernetes.io~secret"
    DOWNWARD_API = "kubernetes.io~downward-api"
    PROJECTED = "kubernetes.io~projected"
    HOST_PATH = "kubernetes.io~host-path"
    PERSISTENT_VOLUME_CLAIM = "kubernetes.io~local-volume"


_KINDS = {"emptyDir": VolumeKind.EMPTY_DIR, "configMap": VolumeKind.CONFIG_MAP,
          "secret": VolumeKind.SECRET, "downwardAPI": VolumeKind.DOWNWARD_API,
          "projected": VolumeKind.PROJECTED, "hostPath": VolumeKind.HOST_PATH,
          "persistentVolumeClaim": VolumeKind.PERSISTENT_VOLUME_CLAIM}
API_DATA = frozenset({VolumeKind.CONFIG_MAP, VolumeKind.SECRET, VolumeKind.DOWNWARD_API,
                      VolumeKind.PROJECTED})
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class VolumeError(Exception):
    """A volume a container needs cannot be given to it (a FailedMount message)."""


def volume_kind(volume: Object) -> VolumeKind | None:
    """The volume's source kind, or None for sources Portico does not serve."""
    for key, kind in _KINDS.items():
        if key in volume:
            return kind
    return None


def volume_dir(pod_dir: Path, volume: Object) -> Path:
    kind = volume_kind(volume)
    return pod_dir / "volumes" / (kind.value if kind else "unknown") / str(volume["name"])


# volume name -> (machine path backing it, the path may gain subPath directories)
VolumePaths = dict[str, tuple[Path, bool]]


def _sub_path(mount: Object, env: dict[str, str]) -> str:
    expr = mount.get("subPathExpr")
    if expr:
        return _VAR.sub(lambda m: env.get(m.group(1), ""), str(expr))
    return str(mount.get("subPath") or "")


def _mount_source(base: Path, sub_path: str, may_create: bool) -> Path:
    """`base/sub_path`; a missing subPath directory is made in a volume of our own."""
    source = base / sub_path if sub_path else base
    if sub_path and not os.path.lexists(source):
        if not may_create:
            raise VolumeError(f"subPath {sub_path!r} does not exist in the volume")
        source.mkdir(mode=0o777, parents=True, exist_ok=True)
    return source


def container_mounts(container: Object, volumes: list[Object], paths: VolumePaths,
                     env: dict[str, str]) -> tuple[Mount, ...]:
    """The container's mounts in `volumeMounts` order (creates missing subPath dirs in
    the pod's own volumes, so this does I/O there)."""
    kinds = {str(v.get("name")): volume_kind(v) for v in volumes}
    mounts = []
    for mount in container.get("volumeMounts") or []:
        name = str(mount.get("name"))
        if name not in paths:
            raise VolumeError(f"volume {name!r} is not set up")
        base, may_create = paths[name]
        read_only = bool(mount.get("readOnly")) or kinds.get(name) in API_DATA
        mounts.append(Mount(str(_mount_source(base, _sub_path(mount, env), may_create)),
                            str(mount.get("mountPath")), read_only))
    return tuple(mounts)
