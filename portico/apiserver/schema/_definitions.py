"""Load `_definitions.json` once and navigate it.

A schema here is one JSON-schema dict from `$defs`. `resolve()` follows a `$ref`;
`child()` steps into an object property, a list item or a map value, so callers
can walk any object path (`spec`, `ports`, `[]`) from a kind's root.
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass
from typing import Any

import orjson

from portico.model.kinds import GroupVersionKind

KUBERNETES_VERSION = "v1.33.0"
_REF_PREFIX = "#/$defs/"

Schema = dict[str, Any]


@dataclass(frozen=True)
class ListInfo:
    """How a list field merges: SMP strategy and merge key, SSA list type and map keys."""

    patch_strategy: str = ""  # "merge", "replace", "retainKeys", "merge,retainKeys", or ""
    patch_merge_key: str = ""
    list_type: str = ""  # "atomic", "set", "map", or "" (atomic by default)
    list_map_keys: tuple[str, ...] = ()


class Definitions:
    """The 700-odd definitions of one Kubernetes release, indexed by name and by GVK."""

    def __init__(self, defs: dict[str, Schema]) -> None:
        self.defs = defs
        self._by_gvk: dict[GroupVersionKind, str] = {}
        for name, schema in defs.items():
            for gvk in schema.get("x-kubernetes-group-version-kind", []):
                self._by_gvk.setdefault(
                    GroupVersionKind(gvk["group"], gvk["version"], gvk["kind"]), name)

    def name_for(self, gvk: GroupVersionKind) -> str | None:
        """The definition name (`io.k8s.api.core.v1.Service`) of a kind, or None."""
        return self._by_gvk.get(gvk)

    def root(self, gvk: GroupVersionKind) -> Schema | None:
        name = self.name_for(gvk)
        return self.defs[name] if name else None

    def resolve(self, schema: Schema | None) -> Schema | None:
        """Follow `$ref` (possibly nested in `allOf`) to the schema it names."""
        seen = 0
        while schema is not None and seen < 16:
            seen += 1
            ref = schema.get("$ref")
            if ref is None and len(schema.get("allOf", [])) == 1:
                ref = schema["allOf"][0].get("$ref")
            if ref is None:
                return schema
            schema = self.defs.get(ref.removeprefix(_REF_PREFIX))
        return schema

    def ref_name(self, schema: Schema | None) -> str | None:
        if schema is None:
            return None
        ref = schema.get("$ref")
        if ref is None and len(schema.get("allOf", [])) == 1:
            ref = schema["allOf"][0].get("$ref")
        return ref.removeprefix(_REF_PREFIX) if ref else None

    def child(self, schema: Schema | None, step: str) -> Schema | None:
        """Step into a property (`step` = name), a list item or a map value (`step` = "[]")."""
        schema = self.resolve(schema)
        if schema is None:
            return None
        if step == "[]":
            if "items" in schema:
                return self.resolve(schema["items"])
            extra = schema.get("additionalProperties")
            return self.resolve(extra) if isinstance(extra, dict) else None
        props: dict[str, Schema] | None = schema.get("properties")
        if props and step in props:
            return props[step]
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return extra
        return None

    @staticmethod
    def types(schema: Schema | None) -> set[str]:
        """The JSON types a schema allows, without "null"; empty for any/int-or-string."""
        if schema is None:
            return set()
        kinds = schema.get("type")
        if kinds is None:
            return set()
        if isinstance(kinds, str):
            kinds = [kinds]
        return {k for k in kinds if k != "null"}

    @staticmethod
    def list_info(field_schema: Schema | None) -> ListInfo:
        """Read the list extensions from the schema of a property (before `resolve`)."""
        if not field_schema:
            return ListInfo()
        return ListInfo(
            patch_strategy=field_schema.get("x-kubernetes-patch-strategy", ""),
            patch_merge_key=field_schema.get("x-kubernetes-patch-merge-key", ""),
            list_type=field_schema.get("x-kubernetes-list-type", ""),
            list_map_keys=tuple(field_schema.get("x-kubernetes-list-map-keys", ())),
        )


@functools.cache
def definitions() -> Definitions:
    """The pinned release's definitions, loaded once per process (about 50 ms)."""
    base = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    raw = (base / f"{KUBERNETES_VERSION}-local" / "_definitions.json").read_bytes()
    return Definitions(orjson.loads(raw)["$defs"])
