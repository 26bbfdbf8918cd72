"""The objects a pod's volumes need before it may start, as kubelet's volume manager waits.

Portico mounts no volumes (containers share the machine's filesystem), but it keeps
kubelet's gate: a pod whose `configMap` or `secret` volume (or projected source)
names an object that does not exist, and is not `optional`, does not start; kubelet
reports it with `FailedMount` events (`MountVolume.SetUp failed for volume "cfg" :
configmap "app-config" not found`) and retries until the object appears.
`needed_objects` lists what to check (pure).  `kube-root-ca.crt` is not among them:
Portico has no root-CA publisher, and manifests copied from a cluster name that
ConfigMap in their `kube-api-access-*` volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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
