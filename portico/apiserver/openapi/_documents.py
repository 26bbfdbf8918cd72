"""`GET /openapi/v3` and `GET /openapi/v3/<group-version path>`, built once and cached.

The root lists one entry per served group-version, `api/v1` or `apis/<group>/<v>`,
each with a `serverRelativeURL` carrying `?hash=<SHA-512, upper-case hex>` of that
document's bytes (kube-apiserver's scheme: clients cache by URL, so the hash must
change whenever the document does and only then).

A group-version document holds the `paths` of its resources and, under
`components.schemas`, every definition its kinds reach (their `List` kinds,
subresource kinds such as `autoscaling/v1` Scale, the meta kinds Status,
DeleteOptions, Patch, WatchEvent and APIResourceList, and all they reference).
A kind with no upstream definition gets a stand-in object schema that keeps
unknown fields, so `kubectl --validate=strict` still finds its operations.

Documents are cached per (path, resource signature); the conversion runs once.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from portico.apiserver.apiextensions._openapi import (
    REFERENCED,
    definition_name,
    v2_definitions,
    v3_definitions,
)
from portico.apiserver.openapi._convert import REF_PREFIX, components
from portico.apiserver.openapi._paths import (
    DELETE_OPTIONS,
    META,
    PATCH,
    STATUS,
    WATCH_EVENT,
    resource_paths,
)
from portico.apiserver.resources._base import ResourceType
from portico.apiserver.schema import definitions
from portico.apiserver.schema._definitions import KUBERNETES_VERSION
from portico.model.kinds import GroupVersionKind

META_KINDS = (STATUS, DELETE_OPTIONS, PATCH, WATCH_EVENT, META + "APIResourceList")


@dataclass(frozen=True)
class Document:
    """One served document: the body, its serialized bytes and their hash."""

    body: dict[str, Any]
    data: bytes
    hash: str


_CACHE: dict[tuple[Any, ...], Document] = {}
_LOCK = threading.Lock()


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def parse_gv_path(path: str) -> tuple[str, str] | None:
    """`api/v1` -> ("", "v1"); `apis/apps/v1` -> ("apps", "v1"); anything else None."""
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        return "", parts[1]
    if len(parts) == 3 and parts[0] == "apis":
        return parts[1], parts[2]
    return None


def signature(rts: Sequence[ResourceType]) -> tuple[Any, ...]:
    """What a document of `rts` depends on (its cache key)."""
    return tuple(
        (rt.group, rt.version, rt.kind, rt.plural, rt.namespaced, rt.verbs,
         tuple((s.name, s.kind, s.group, s.version, s.verbs) for s in rt.subresources),
         rt.custom.schema_hash if rt.custom is not None else "")
        for rt in rts
    )


def _stand_in(rt: ResourceType, kind: str) -> tuple[str, dict[str, Any]]:
    """A name and schema for a kind the upstream definitions do not know."""
    prefix = ".".join(reversed(rt.group.split("."))) if rt.group else "io.portico.core"
    schema = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-group-version-kind": [
            {"group": rt.group, "kind": kind, "version": rt.version}],
    }
    return f"{prefix}.{rt.version}.{kind}", schema


@dataclass
class Parts:
    """What the documents of some resources are made of (v3 forms; v2 converts them)."""

    roots: list[str]  # definition names the kinds reach (kinds, Lists, subresource kinds)
    extra: dict[str, dict[str, Any]]  # stand-ins and custom kinds' schemas (v3 form)
    paths: dict[str, Any]
    extra_v2: dict[str, dict[str, Any]] = field(default_factory=dict)  # custom kinds, v2 form


def collect(rts: Sequence[ResourceType]) -> Parts:
    """The definitions and paths of `rts` (any mix of group-versions)."""
    defs = definitions()
    parts = Parts(list(META_KINDS), {}, {})
    sub_names: dict[tuple[str, str, str], str] = {}
    for rt in rts:
        for sub in rt.subresources:
            name = defs.name_for(GroupVersionKind(sub.group, sub.version, sub.kind)) \
                if sub.kind else None
            if name:
                sub_names[(sub.group, sub.version, sub.kind)] = name
                parts.roots.append(name)
        if rt.custom is not None:
            names = _custom(rt, parts)
            parts.paths.update(resource_paths(rt, names[0], names[1], sub_names))
            continue
        names = []
        for kind in (rt.kind, rt.kind + "List"):
            name = defs.name_for(GroupVersionKind(rt.group, rt.version, kind))
            if name is None:
                name, parts.extra[name] = _stand_in(rt, kind)
            else:
                parts.roots.append(name)
            names.append(name)
        parts.paths.update(resource_paths(rt, names[0], names[1], sub_names))
    return parts


def _custom(rt: ResourceType, parts: Parts) -> list[str]:
    """Add a custom kind's definitions (from its CRD schema); its kind and list names."""
    parts.extra.update(v3_definitions(rt, REF_PREFIX))
    parts.extra_v2.update(v2_definitions(rt, "#/definitions/"))
    parts.roots.extend(r for r in REFERENCED if r not in parts.roots)
    return [definition_name(rt, rt.kind), definition_name(rt, rt.custom.list_kind)]


def _build(rts: Sequence[ResourceType]) -> dict[str, Any]:
    parts = collect(rts)
    schemas = {**components(definitions(), parts.roots), **parts.extra}
    return {
        "components": {"schemas": dict(sorted(schemas.items()))},
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "openapi": "3.0.0",
        "paths": dict(sorted(parts.paths.items())),
    }


def document(path: str, resources: Sequence[ResourceType]) -> Document | None:
    """The cached document served at `/openapi/v3/<path>`, or None if not served."""
    gv = parse_gv_path(path)
    if gv is None:
        return None
    rts = [rt for rt in resources if (rt.group, rt.version) == gv]
    if not rts:
        return None
    key = (gv, signature(rts))
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            body = _build(rts)
            data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
            cached = Document(body, data, hashlib.sha512(data).hexdigest().upper())
            _CACHE[key] = cached
    return cached


def openapi_document(path: str, resources: Sequence[ResourceType]) -> dict[str, Any] | None:
    """Body of `GET /openapi/v3/<path>` (e.g. `api/v1`, `apis/apps/v1`); None if not served.

    The dict is shared by every caller: do not mutate it (serve `document().data`).
    """
    doc = document(path, resources)
    return doc.body if doc else None


def openapi_root(resources: Sequence[ResourceType]) -> dict[str, Any]:
    """Body of `GET /openapi/v3`: every served group-version with its hashed URL."""
    out: dict[str, Any] = {}
    for group, version in sorted({(rt.group, rt.version) for rt in resources}):
        path = gv_path(group, version)
        doc = document(path, resources)
        if doc is not None:
            out[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={doc.hash}"}
    return {"paths": out}
