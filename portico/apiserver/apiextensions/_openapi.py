"""The OpenAPI definitions of a custom kind, as apiextensions-apiserver's builder makes them.

A CRD version's kind is published as `<reversed group>.<version>.<Kind>` (for
`stable.example.com/v1` CronTab: `com.example.stable.v1.CronTab`) and its list
as `…CronTabList`, both carrying `x-kubernetes-group-version-kind` (what
`kubectl explain` looks up). The kind's schema is the CRD's `openAPIV3Schema`
in the published form (`schema.openapi_v3` / `openapi_v2`) with the standard
`apiVersion`, `kind` and `metadata` (a reference to ObjectMeta) properties.
The v2 form keeps only what the Swagger encoder knows (gnostic `Schema`).
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.resources._base import ResourceType

Schema = dict[str, Any]
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
REFERENCED = (OBJECT_META, LIST_META)

API_VERSION_DESCRIPTION = (
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#resources")
KIND_DESCRIPTION = (
    "Kind is a string value representing the REST resource this object represents. Servers "
    "may infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#types-kinds")
METADATA_DESCRIPTION = (
    "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#metadata")
LIST_METADATA_DESCRIPTION = (
    "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#lists-and-simple-lists")
_V2_KEYS = ("$ref", "format", "title", "description", "default", "required", "enum",
            "additionalProperties", "type", "items", "allOf", "properties")


def definition_name(rt: ResourceType, kind: str) -> str:
    return ".".join([*reversed(rt.group.split(".")), rt.version, kind])


def _gvk(rt: ResourceType, kind: str) -> list[dict[str, str]]:
    return [{"group": rt.group, "kind": kind, "version": rt.version}]


def _kind_schema(rt: ResourceType, published: Schema, ref_prefix: str, v3: bool) -> Schema:
    out = dict(published)
    props = dict(out.get("properties") or {})
    props["apiVersion"] = {"description": API_VERSION_DESCRIPTION, "type": "string"}
    props["kind"] = {"description": KIND_DESCRIPTION, "type": "string"}
    ref = {"$ref": ref_prefix + OBJECT_META}
    props["metadata"] = ({"allOf": [ref], "description": METADATA_DESCRIPTION} if v3
                         else {**ref, "description": METADATA_DESCRIPTION})
    out["properties"] = dict(sorted(props.items()))
    out.setdefault("type", "object")
    out["x-kubernetes-group-version-kind"] = _gvk(rt, rt.kind)
    return out


def _list_schema(rt: ResourceType, ref_prefix: str, v3: bool) -> Schema:
    list_kind = rt.custom.list_kind
    meta_ref = {"$ref": ref_prefix + LIST_META}
    return {
        "description": f"{list_kind} is a list of {rt.kind}",
        "properties": {
            "apiVersion": {"description": API_VERSION_DESCRIPTION, "type": "string"},
            "items": {
                "description": f"List of {rt.plural.lower()}. More info: https://git.k8s.io/"
                               "community/contributors/devel/sig-architecture/"
                               "api-conventions.md",
                "items": {"$ref": ref_prefix + definition_name(rt, rt.kind)},
                "type": "array"},
            "kind": {"description": KIND_DESCRIPTION, "type": "string"},
            "metadata": ({"allOf": [meta_ref], "description": LIST_METADATA_DESCRIPTION} if v3
                         else {**meta_ref, "description": LIST_METADATA_DESCRIPTION}),
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": _gvk(rt, list_kind),
    }


def _engine() -> Any:
    from portico.apiserver.apiextensions import schema  # noqa: PLC0415 (first use: kept off start-up)

    return schema


def v3_definitions(rt: ResourceType, ref_prefix: str) -> dict[str, Schema]:
    """The kind and list definitions of a custom `rt` for an OpenAPI v3 document."""
    published = _engine().openapi_v3(rt.custom.schema)
    return {definition_name(rt, rt.kind): _kind_schema(rt, published, ref_prefix, True),
            definition_name(rt, rt.custom.list_kind): _list_schema(rt, ref_prefix, True)}


def v2_definitions(rt: ResourceType, ref_prefix: str) -> dict[str, Schema]:
    """The same in Swagger 2.0 form, limited to what the gnostic encoder carries."""
    published = _engine().openapi_v2(rt.custom.schema)
    kind = _encodable(_kind_schema(rt, published, ref_prefix, False))
    return {definition_name(rt, rt.kind): kind,
            definition_name(rt, rt.custom.list_kind): _list_schema(rt, ref_prefix, False)}


def _encodable(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    out: Schema = {}
    for key, value in schema.items():
        if key not in _V2_KEYS and not key.startswith("x-"):
            continue
        if key == "properties":
            out[key] = {name: _encodable(prop) for name, prop in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _encodable(value)
        elif key == "allOf":
            out[key] = [_encodable(item) for item in value]
        else:
            out[key] = value
    return out
