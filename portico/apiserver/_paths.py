"""Parse resource URLs the way kube-apiserver's `RequestInfoFactory` does."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    plural: str
    namespace: str | None  # None: all namespaces (or a cluster-scoped kind)
    name: str = ""
    subresource: str = ""


_NAMESPACE_SUBRESOURCES = ("status", "finalize")


def parse(group: str, version: str, rest: str) -> ResourcePath | None:
    """`rest` is what follows `/api/v1/` or `/apis/<group>/<version>/`."""
    parts = [p for p in rest.split("/") if p]
    if not parts:
        return None
    if parts[0] == "namespaces" and len(parts) >= 3 and not (
        len(parts) == 3 and parts[2] in _NAMESPACE_SUBRESOURCES
    ):
        namespace, parts = parts[1], parts[2:]
        return _tail(group, version, namespace, parts)
    return _tail(group, version, None, parts)


def _tail(group: str, version: str, namespace: str | None, parts: list[str]) -> ResourcePath | None:
    if len(parts) > 3:
        return None
    plural = parts[0]
    name = parts[1] if len(parts) > 1 else ""
    sub = parts[2] if len(parts) > 2 else ""
    return ResourcePath(group, version, plural, namespace, name, sub)
