"""A container's environment, as kubelet's `makeEnvironmentVariables` builds it.

Pure: the caller fetches the ConfigMaps, Secrets and Services first
(`referenced_objects` says which) and passes them in as plain dicts.

Precedence, lowest first: the Service link variables (`FromServices`), then
`envFrom` sources in order, then `env` entries in order (each may use `$(VAR)`
of anything defined before it, `$$` escapes).  Service link variables only fill
names nothing else defined.  Services: every Service of the pod's namespace with
a ClusterIP when `enableServiceLinks` is true, plus the `kubernetes` Service of
`default` always (so KUBERNETES_SERVICE_HOST/PORT are always set).  Finally the
runtime's own `HOSTNAME` and Portico's `PORTICO_SERVICEACCOUNT_DIR` (the
in-cluster credentials directory; processes share the host filesystem, so in-cluster
clients read it instead of /var/run/secrets/kubernetes.io/serviceaccount).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from portico.model.core import HEADLESS

Object = dict[str, Any]
SERVICEACCOUNT_DIR_ENV = "PORTICO_SERVICEACCOUNT_DIR"
MASTER_NAMESPACE = "default"
MASTER_SERVICES = ("kubernetes",)
CONFIG_ERROR = "CreateContainerConfigError"
_ENV_NAME_RE = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_EXPAND_RE = re.compile(r"\$\$|\$\(([^)]*)\)")


class EnvError(Exception):
    """A container's env cannot be built; kubelet reports it as a waiting reason."""

    def __init__(self, message: str, reason: str = CONFIG_ERROR) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class EnvSources:
    """What the environment may refer to, fetched by the caller."""
    services: list[Object] = field(default_factory=list)  # all namespaces or pod ns + default
    configmaps: Mapping[str, Object] = field(default_factory=dict)  # name -> object
    secrets: Mapping[str, Object] = field(default_factory=dict)
    node_ip: str = ""
    serviceaccount_dir: str = ""


def env_var_name(name: str) -> str:
    return name.upper().replace("-", "_")


def _service_ip_set(svc: Object) -> bool:
    ip = (svc.get("spec") or {}).get("clusterIP") or ""
    return ip not in ("", HEADLESS)


def service_env(services: Iterable[Object]) -> dict[str, str]:
    """`envvars.FromServices`: `<NAME>_SERVICE_HOST`, `..._PORT`, the docker-link vars."""
    out: dict[str, str] = {}
    for svc in services:
        if not _service_ip_set(svc):
            continue
        spec = svc["spec"]
        ip = spec["clusterIP"]
        prefix = env_var_name(svc["metadata"]["name"])
        ports = spec.get("ports") or []
        out[f"{prefix}_SERVICE_HOST"] = ip
        if ports:
            out[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        for port in ports:
            if port.get("name"):
                out[f"{prefix}_SERVICE_PORT_{env_var_name(port['name'])}"] = str(port["port"])
        host = f"[{ip}]" if ":" in ip else ip
        for i, port in enumerate(ports):
            proto = (port.get("protocol") or "TCP").upper()
            url = f"{proto.lower()}://{host}:{port['port']}"
            if i == 0:
                out[f"{prefix}_PORT"] = url
            port_prefix = f"{prefix}_PORT_{port['port']}_{proto}"
            out[port_prefix] = url
            out[f"{port_prefix}_PROTO"] = proto.lower()
            out[f"{port_prefix}_PORT"] = str(port["port"])
            out[f"{port_prefix}_ADDR"] = ip
    return out


def visible_services(pod: Object, services: Iterable[Object]) -> list[Object]:
    """`getServiceEnvVarMap`: the pod namespace's Services (if enabled) + master Services."""
    namespace = pod["metadata"]["namespace"]
    links = (pod.get("spec") or {}).get("enableServiceLinks", True) is not False
    chosen: dict[str, Object] = {}
    for svc in services:
        meta = svc["metadata"]
        if not _service_ip_set(svc):
            continue
        if meta.get("namespace") == MASTER_NAMESPACE and meta["name"] in MASTER_SERVICES:
            chosen.setdefault(meta["name"], svc)
        elif meta.get("namespace") == namespace and links:
            chosen[meta["name"]] = svc
    return [chosen[name] for name in sorted(chosen)]


def expand(value: str, env: Mapping[str, str]) -> str:
    """`$(VAR)` -> env's value when defined (else left as is); `$$` -> `$`."""
    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)
    return _EXPAND_RE.sub(repl, value)


def referenced_objects(containers: Iterable[Object]) -> tuple[set[str], set[str]]:
    """Names of the ConfigMaps and Secrets the containers' env refers to."""
    cms: set[str] = set()
    secrets: set[str] = set()
    for ctr in containers:
        for src in ctr.get("envFrom") or []:
            if "configMapRef" in src:
                cms.add(src["configMapRef"]["name"])
            if "secretRef" in src:
                secrets.add(src["secretRef"]["name"])
        for var in ctr.get("env") or []:
            ref = var.get("valueFrom") or {}
            if "configMapKeyRef" in ref:
                cms.add(ref["configMapKeyRef"]["name"])
            if "secretKeyRef" in ref:
                secrets.add(ref["secretKeyRef"]["name"])
    return cms, secrets


def _object_data(obj: Object, secret: bool) -> dict[str, str]:
    data: dict[str, str] = {}
    if secret:
        for key, value in (obj.get("data") or {}).items():
            data[key] = base64.b64decode(value).decode("utf-8", "replace")
        data.update(obj.get("stringData") or {})
    else:
        data.update(obj.get("data") or {})
        for key, value in (obj.get("binaryData") or {}).items():
            data.setdefault(key, base64.b64decode(value).decode("utf-8", "replace"))
    return data


def _lookup(kind: str, objects: Mapping[str, Object], name: str, namespace: str,
            optional: bool, secret: bool) -> dict[str, str] | None:
    obj = objects.get(name)
    if obj is None:
        if optional:
            return None
        raise EnvError(f'{kind.lower()} "{name}" not found')
    return _object_data(obj, secret)


def _env_from(pod: Object, ctr: Object, src: EnvSources) -> dict[str, str]:
    namespace = pod["metadata"]["namespace"]
    out: dict[str, str] = {}
    for source in ctr.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        if "configMapRef" in source:
            ref, kind, objs, secret = source["configMapRef"], "ConfigMap", src.configmaps, False
        elif "secretRef" in source:
            ref, kind, objs, secret = source["secretRef"], "Secret", src.secrets, True
        else:
            continue
        data = _lookup(kind, objs, ref["name"], namespace, bool(ref.get("optional")), secret)
        for key, value in sorted((data or {}).items()):
            if _ENV_NAME_RE.match(prefix + key):
                out[prefix + key] = value
    return out


def field_ref(pod: Object, path: str, node_ip: str) -> str:
    """A `valueFrom.fieldRef.fieldPath` of the pod (the downward API)."""
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    host_ip = status.get("hostIP") or node_ip
    values = {
        "metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": status.get("podIP", ""), "status.hostIP": host_ip,
        "status.podIPs": ",".join(p["ip"] for p in status.get("podIPs") or []),
        "status.hostIPs": ",".join(p["ip"] for p in status.get("hostIPs") or []) or host_ip,
    }
    if path not in values:
        raise EnvError(f"unsupported fieldPath: {path}")
    return str(values[path])


def _value_from(pod: Object, ref: Object, src: EnvSources) -> str | None:
    namespace = pod["metadata"]["namespace"]
    if "fieldRef" in ref:
        return field_ref(pod, ref["fieldRef"]["fieldPath"], src.node_ip)
    for key_ref, kind, objs, secret in (("configMapKeyRef", "ConfigMap", src.configmaps, False),
                                        ("secretKeyRef", "Secret", src.secrets, True)):
        if key_ref in ref:
            sel = ref[key_ref]
            optional = bool(sel.get("optional"))
            data = _lookup(kind, objs, sel["name"], namespace, optional, secret)
            if data is None:
                return None
            if sel["key"] not in data:
                if optional:
                    return None
                raise EnvError(f"couldn't find key {sel['key']} in {kind} "
                               f"{namespace}/{sel['name']}")
            return data[sel["key"]]
    return ""  # resourceFieldRef: not modelled (no resource accounting)


def container_env(pod: Object, ctr: Object, src: EnvSources) -> dict[str, str]:
    """The full environment of container `ctr` of `pod` (raises EnvError)."""
    links = service_env(visible_services(pod, src.services))
    env: dict[str, str] = {}
    env.update(_env_from(pod, ctr, src))
    for var in ctr.get("env") or []:
        if "valueFrom" in var:
            value = _value_from(pod, var["valueFrom"], src)
            if value is None:
                continue
            env[var["name"]] = value
        else:
            env[var["name"]] = expand(var.get("value", ""), {**links, **env})
    for key, value in links.items():
        env.setdefault(key, value)
    env.setdefault("HOSTNAME", pod["metadata"]["name"])
    if src.serviceaccount_dir:
        env.setdefault(SERVICEACCOUNT_DIR_ENV, src.serviceaccount_dir)
    return env
