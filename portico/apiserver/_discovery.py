"""Discovery documents: aggregated v2 (what kubectl 1.32/1.33 ask for first) and legacy."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

from portico.apiserver.resources._base import ResourceType
from portico.model.kinds import version_priority

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

# Preferred order of groups in /apis, as kube-apiserver lists them.
_GROUP_ORDER = ("apps", "batch", "coordination.k8s.io", "discovery.k8s.io", "networking.k8s.io")


def wants_aggregated(accept: str) -> str | None:
    """The aggregated content type the client accepts (v2 preferred), or None."""
    if "as=APIGroupDiscoveryList" not in accept:
        return None
    if "v=v2;" in accept.replace(" ", "") or accept.replace(" ", "").endswith("v=v2"):
        return AGGREGATED_V2
    return AGGREGATED_V2BETA1


def _groups(resources: Sequence[ResourceType]) -> list[tuple[str, list[str]]]:
    """Each named group with its versions, preferred first; custom groups after built-ins."""
    versions: dict[str, list[str]] = {}
    custom: set[str] = set()
    for rt in resources:
        if rt.group and rt.version not in versions.setdefault(rt.group, []):
            versions[rt.group].append(rt.version)
        if rt.custom is not None:
            custom.add(rt.group)
    order = {g: i for i, g in enumerate(_GROUP_ORDER)}
    groups = sorted(versions, key=lambda g: (g in custom, order.get(g, len(order)), g))
    return [(g, sorted(versions[g], key=version_priority)) for g in groups]


def _scope(rt: ResourceType) -> str:
    return "Namespaced" if rt.namespaced else "Cluster"


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": _scope(rt),
        "singularResource": rt.singular,
        "verbs": sorted(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    if rt.subresources:
        entry["subresources"] = [
            {
                "subresource": sub.name,
                "responseKind": {
                    "group": sub.group if sub.kind else rt.group,
                    "version": sub.version if sub.kind else rt.version,
                    "kind": sub.kind or rt.kind,
                },
                "verbs": list(sub.verbs),
            }
            for sub in rt.subresources
        ]
    return entry


def aggregated(resources: Sequence[ResourceType], core: bool, content_type: str) -> dict[str, Any]:
    """`GET /api` (core=True) or `GET /apis` as an `APIGroupDiscoveryList`."""
    version = "v2" if content_type == AGGREGATED_V2 else "v2beta1"
    groups = [("", ["v1"])] if core else _groups(resources)
    items = []
    for group, gv_versions in groups:
        versions = []
        for gv_version in gv_versions:
            members = [rt for rt in resources if rt.group == group and rt.version == gv_version]
            versions.append({
                "version": gv_version,
                "resources": [_aggregated_resource(rt) for rt in
                              sorted(members, key=lambda r: r.plural)],
                "freshness": "Current",
            })
        items.append({"metadata": {"name": group, "creationTimestamp": None},
                      "versions": versions})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group_list(resources: Sequence[ResourceType]) -> dict[str, Any]:
    groups = [_api_group_body(group, versions) for group, versions in _groups(resources)]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _api_group_body(group: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{group}/{version}", "version": version} for version in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group(resources: Sequence[ResourceType], group: str) -> dict[str, Any] | None:
    for g, versions in _groups(resources):
        if g == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **_api_group_body(group, versions)}
    return None


def _storage_hash(rt: ResourceType) -> str:
    """The hash of the version objects are stored in (the same for every served one)."""
    stored = rt.storage_version or rt.version
    digest = hashlib.sha256(f"{rt.group}/{stored}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def resource_list(resources: Sequence[ResourceType], group: str,
                  version: str) -> dict[str, Any] | None:
    members = [rt for rt in resources if rt.group == group and rt.version == version]
    if not members:
        return None
    out: list[dict[str, Any]] = []
    for rt in sorted(members, key=lambda r: r.plural):
        entry: dict[str, Any] = {
            "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
            "kind": rt.kind, "verbs": sorted(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        entry["storageVersionHash"] = _storage_hash(rt)
        out.append(entry)
        for sub in rt.subresources:
            sub_entry: dict[str, Any] = {
                "name": f"{rt.plural}/{sub.name}", "singularName": "",
                "namespaced": rt.namespaced, "kind": sub.kind or rt.kind,
                "verbs": list(sub.verbs),
            }
            if sub.kind:
                sub_entry["group"], sub_entry["version"] = sub.group, sub.version
            out.append(sub_entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}
