"""The files of an API-backed volume, as kubelet computes them (pure).

`volume_payload(volume, pod, sources)` answers the files a `configMap`, `secret`,
`downwardAPI` or `projected` volume holds: relative path -> `File(data, mode)`, or
None for any other kind of volume.  kubelet's rules:
- configMap/secret without `items`: one file per key (`data` and `binaryData`);
  with `items`: the listed keys at their `path`s, a missing key being an error
  (`configmap references non-existent config key: K`) unless `optional`;
- a missing object is an error unless `optional`, which gives no files (the caller
  waits for non-optional objects first: `_volumes.needed_objects`);
- each file's mode is its item's `mode`, else the volume's `defaultMode`, else 0644;
- downwardAPI: `fieldRef` values as the env downward API gives them, except
  `metadata.labels` / `metadata.annotations`, which are every `key="value"` line
  sorted by key (kubelet's `FormatMap`); `resourceFieldRef` is not modelled (empty);
- projected: the sources' files together, the projected `defaultMode` for all;
  `serviceAccountToken` is the token this cluster issues (audience and
  expirationSeconds are not encoded in it); `kube-root-ca.crt`, which Portico does not
  publish, is the cluster CA (`ca.crt`) when no such ConfigMap exists.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from portico.agent._env import EnvError, field_ref
from portico.agent._volumes import ROOT_CA_CONFIG_MAP

Object = dict[str, Any]
DEFAULT_MODE = 0o644
MISSING_KEY = {"configMap": "configmap references non-existent config key: {key}",
               "secret": "references non-existent secret key: {key}"}
NOT_FOUND = {"configMap": 'configmap "{name}" not found', "secret": 'secret "{name}" not found'}


class PayloadError(Exception):
    """The volume cannot be set up (kubelet's `MountVolume.SetUp failed` text)."""


@dataclass(frozen=True)
class File:
    data: bytes
    mode: int


Payload = dict[str, File]


TokenKey = tuple[str, int]


def token_key(source: Object) -> TokenKey:
    """A projected `serviceAccountToken` source's audience and expirationSeconds."""
    return str(source.get("audience") or ""), int(source.get("expirationSeconds") or 3600)


@dataclass(frozen=True)
class VolumeSources:
    """What the files come from: the namespace's objects by name (None: not found)."""

    configmaps: dict[str, Object | None] = field(default_factory=dict)
    secrets: dict[str, Object | None] = field(default_factory=dict)
    tokens: dict[TokenKey, str] = field(default_factory=dict)  # by (audience, expiration)
    root_ca: bytes = b""
    node_ip: str = ""


def _object_data(kind: str, obj: Object) -> dict[str, bytes]:
    if kind == "secret":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return data


def _lookup(kind: str, ref: Object, sources: VolumeSources) -> Object | None:
    name = str(ref.get("name") or ref.get("secretName") or "")
    found = (sources.secrets if kind == "secret" else sources.configmaps).get(name)
    if found is None and kind == "configMap" and name == ROOT_CA_CONFIG_MAP:
        return {"data": {"ca.crt": sources.root_ca.decode()}}
    if found is None and not ref.get("optional"):
        raise PayloadError(NOT_FOUND[kind].format(name=name))
    return found


def _object_files(kind: str, ref: Object, sources: VolumeSources, default_mode: int) -> Payload:
    obj = _lookup(kind, ref, sources)
    if obj is None:
        return {}
    data = _object_data(kind, obj)
    items = ref.get("items") or []
    if not items:
        return {key: File(value, default_mode) for key, value in data.items()}
    files: Payload = {}
    for item in items:
        key = str(item.get("key", ""))
        if key not in data:
            if ref.get("optional"):
                continue
            raise PayloadError(MISSING_KEY[kind].format(key=key))
        files[str(item.get("path") or key)] = File(data[key], _mode(item, default_mode))
    return files


def format_map(values: dict[str, str]) -> str:
    """kubelet's `FormatMap`: `key="value"` lines sorted by key, no trailing newline."""
    return "\n".join(f"{key}={json.dumps(values[key])}" for key in sorted(values))


def _field_value(pod: Object, path: str, node_ip: str) -> str:
    meta = pod.get("metadata") or {}
    if path in ("metadata.labels", "metadata.annotations"):
        return format_map({str(k): str(v) for k, v in (meta.get(path[9:]) or {}).items()})
    try:
        return field_ref(pod, path, node_ip)
    except EnvError as error:
        raise PayloadError(str(error)) from None


def _downward_files(items: list[Object], pod: Object, node_ip: str,
                    default_mode: int) -> Payload:
    files: Payload = {}
    for item in items:
        ref = item.get("fieldRef")
        value = _field_value(pod, str(ref.get("fieldPath", "")), node_ip) if ref else ""
        files[str(item.get("path", ""))] = File(value.encode(), _mode(item, default_mode))
    return files


def _mode(item: Object, default_mode: int) -> int:
    mode = item.get("mode")
    return int(mode) if mode is not None else default_mode


def _projected_files(projected: Object, pod: Object, sources: VolumeSources) -> Payload:
    default_mode = _mode({"mode": projected.get("defaultMode")}, DEFAULT_MODE)
    files: Payload = {}
    for source in projected.get("sources") or []:
        for kind in ("configMap", "secret"):
            if kind in source:
                files.update(_object_files(kind, source[kind], sources, default_mode))
        if "downwardAPI" in source:
            files.update(_downward_files(source["downwardAPI"].get("items") or [], pod,
                                         sources.node_ip, default_mode))
        token = source.get("serviceAccountToken")
        if token is not None:
            issued = sources.tokens.get(token_key(token), "")
            files[str(token.get("path", "token"))] = File(issued.encode(), default_mode)
    return files


def volume_payload(volume: Object, pod: Object, sources: VolumeSources) -> Payload | None:
    """The files of an API-backed volume, or None for other kinds (raises PayloadError)."""
    for kind in ("configMap", "secret"):
        if kind in volume:
            ref = volume[kind]
            return _object_files(kind, ref, sources,
                                 _mode({"mode": ref.get("defaultMode")}, DEFAULT_MODE))
    if "downwardAPI" in volume:
        ref = volume["downwardAPI"]
        return _downward_files(ref.get("items") or [], pod, sources.node_ip,
                               _mode({"mode": ref.get("defaultMode")}, DEFAULT_MODE))
    if "projected" in volume:
        return _projected_files(volume["projected"], pod, sources)
    return None
