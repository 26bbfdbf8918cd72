"""What a request asks to do, as kube-apiserver's `RequestInfoFactory` reads it from the URL.

Resource requests (`/api/v1/...`, `/apis/<group>/<version>/...`) carry a verb
(`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`),
API group, resource, subresource, namespace and name; everything else is a
non-resource request whose verb is the lower-cased HTTP method. Rules kube-apiserver
applies and Portico keeps:
- `/api/v1/namespaces/<name>` is the namespace `<name>` in namespace `<name>`;
- a list or watch whose field selector pins `metadata.name` is about that name;
- `exec`, `attach` and `portforward` need `create`, also over a WebSocket GET
  (`AuthorizePodWebsocketUpgradeCreatePermission`, on since 1.30).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_CONNECT_CREATE = ("exec", "attach", "portforward")
_WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


class Attributes(NamedTuple):
    """Immutable and hashable (a decision cache key); a tuple, for speed."""

    verb: str
    resource_request: bool
    path: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


def _name_from_selector(selector: str) -> str:
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if key.strip() == "metadata.name" and value and not value.startswith("="):
            return value.strip()
        if key.strip() == "metadata.name" and value.startswith("="):
            return value[1:].strip()
    return ""


def _verb(method: str, name: str, subresource: str, query: Mapping[str, str]) -> str:
    if subresource in _CONNECT_CREATE:
        return "create"
    if method in ("GET", "HEAD"):
        if name:
            return "get"
        return "watch" if _true(query.get("watch")) else "list"
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    return _WRITE_VERBS.get(method, method.lower())


def attributes(method: str, path: str, query: Mapping[str, str]) -> Attributes:
    """The authorization attributes of `method path?query`."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api" and parts[1] == "v1":
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return Attributes(method.lower(), False, path=path)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    verb = _verb(method, name, subresource, query)
    if verb in ("list", "watch") and not name:
        name = _name_from_selector(query.get("fieldSelector", ""))
    return Attributes(verb, True, path=path, api_group=group, api_version=version,
                      resource=resource, subresource=subresource, namespace=namespace,
                      name=name)
