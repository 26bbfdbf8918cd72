"""The CRD-time keyword rules of `ValidateCustomResourceDefinitionOpenAPISchema` (minus CEL).

Walked in upstream's order: the node's own keywords (`type` among the OpenAPI v3 types,
no `$ref`, `id`, `definitions`, `dependencies`, `patternProperties`, `additionalItems`,
`type: null`, item arrays, `uniqueItems`, `additionalProperties` beside `properties`),
then its children (additionalProperties, properties, not, allOf, oneOf, anyOf, items),
then its extensions (`x-kubernetes-preserve-unknown-fields: false`, map/list types,
list-map keys, set items atomic, map keys required or defaulted) and the
`x-kubernetes-validations` entries' own shape (compiling them is the CEL package's job).

Defaults are forbidden in the root's `metadata`, `apiVersion` and `kind` and inside
additionalProperties under resource metadata; embedded resources are forbidden inside
resource metadata. Properties are visited in sorted order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from portico.apiserver.apiextensions.schema._gofmt import go_value
from portico.apiserver.apiextensions.schema._structural import key
from portico.apiserver.errors import (
    ErrorType,
    FieldError,
    forbidden,
    invalid,
    not_supported,
    required,
)

Schema = Mapping[str, Any]
_V3_TYPES = ("array", "boolean", "integer", "number", "object", "string")
_META_FIELDS = ("apiVersion", "kind", "metadata")
_REASONS = ("FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid",
            "FieldValueRequired")
_UNSUPPORTED = (
    ("id", "id is not supported"),
    ("additionalItems", "additionalItems is not supported"),
    ("patternProperties", "patternProperties is not supported"),
    ("definitions", "definitions is not supported"),
    ("dependencies", "dependencies is not supported"),
    ("$ref", "$ref is not supported"),
)
_NEWLINES = re.compile(r"[\n\r]+")


@dataclass(frozen=True)
class _Context:
    allow_defaults: bool = True
    disallow_reason: str = ""
    inside_resource_meta: bool = False


def keyword_errors(schema: Schema, path: str) -> list[FieldError]:
    return _walk(schema, path, _Context(), True)


def _maps(value: Any) -> list[Schema]:
    return [v for v in value or () if isinstance(v, Mapping)] if isinstance(value, list) else []


def _own(s: Schema, path: str, ctx: _Context) -> list[FieldError]:
    errs: list[FieldError] = []
    typ = s.get("type") or ""
    if typ and typ not in _V3_TYPES:
        errs.append(not_supported(f"{path}.type", typ, _V3_TYPES))
    if "default" in s and not ctx.allow_defaults:
        detail = "must not be set" + (f" {ctx.disallow_reason}" if ctx.disallow_reason else "")
        errs.append(forbidden(f"{path}.default", detail))
    errs += [forbidden(f"{path}.{k}", detail) for k, detail in _UNSUPPORTED if s.get(k)]
    if typ == "null":
        errs.append(forbidden(f"{path}.type",
                              "type cannot be set to null, use nullable as an alternative"))
    if isinstance(s.get("items"), list) and s["items"]:
        errs.append(forbidden(f"{path}.items", "items must be a schema object and not an array"))
    if ctx.inside_resource_meta and s.get("x-kubernetes-embedded-resource") is True:
        errs.append(forbidden(f"{path}.x-kubernetes-embedded-resource",
                              "must not be used inside of resource meta"))
    if s.get("uniqueItems") is True:
        errs.append(forbidden(f"{path}.uniqueItems", "uniqueItems cannot be set to true since "
                              "the runtime complexity becomes quadratic"))
    additional = s.get("additionalProperties")
    if additional is not None and s.get("properties") and (
            additional is False or isinstance(additional, Mapping)):
        errs.append(forbidden(f"{path}.additionalProperties",
                              "additionalProperties and properties are mutual exclusive"))
    return errs


def _walk(s: Schema, path: str, ctx: _Context, is_root: bool) -> list[FieldError]:
    errs = _own(s, path, ctx)
    additional = s.get("additionalProperties")
    if isinstance(additional, Mapping):
        sub = ctx
        if ctx.inside_resource_meta:
            sub = replace(ctx, allow_defaults=False,
                          disallow_reason="inside additionalProperties applying to object metadata")
        errs += _walk(additional, f"{path}.additionalProperties", sub, False)
    embedded = s.get("x-kubernetes-embedded-resource") is True
    props = s.get("properties") or {}
    for name in sorted(props):
        sub = ctx
        if (is_root or embedded) and name in _META_FIELDS:
            sub = replace(sub, inside_resource_meta=True)
            if is_root:
                sub = replace(sub, allow_defaults=False, disallow_reason=f"in top-level {name}")
        if isinstance(props[name], Mapping):
            errs += _walk(props[name], key(f"{path}.properties", name), sub, False)
    if isinstance(s.get("not"), Mapping):
        errs += _walk(s["not"], f"{path}.not", ctx, False)
    for junctor in ("allOf", "oneOf", "anyOf"):
        for i, sub_schema in enumerate(_maps(s.get(junctor))):
            errs += _walk(sub_schema, f"{path}.{junctor}[{i}]", ctx, False)
    items = s.get("items")
    if isinstance(items, Mapping):
        errs += _walk(items, f"{path}.items", ctx, False)
    elif isinstance(items, list):
        for i, sub_schema in enumerate(_maps(items)):
            errs += _walk(sub_schema, f"{path}.items[{i}]", ctx, False)
    return errs + _extension_errors(s, path) + _map_list_errors(s, path) + _rule_shape_errors(
        s, path)


def _type_required(s: Schema, path: str, wanted: str, why: str) -> list[FieldError]:
    typ = s.get("type") or ""
    if typ == wanted:
        return []
    detail = f"must be {wanted} if {why}"
    return [invalid(f"{path}.type", typ, detail) if typ else required(f"{path}.type", detail)]


def _extension_errors(s: Schema, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False,
                            "must be true or undefined"))
    map_type = s.get("x-kubernetes-map-type")
    if map_type is not None:
        errs += _type_required(s, path, "object", "x-kubernetes-map-type is specified")
        if map_type not in ("atomic", "granular"):
            errs.append(not_supported(f"{path}.x-kubernetes-map-type", map_type,
                                      ("atomic", "granular")))
    list_type = s.get("x-kubernetes-list-type")
    items = s.get("items")
    if list_type is not None and (s.get("type") or "") != "array":
        errs += _type_required(s, path, "array", "x-kubernetes-list-type is specified")
    elif list_type == "set" and isinstance(items, Mapping):
        errs += _set_item_errors(items, path)
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        errs.append(not_supported(f"{path}.x-kubernetes-list-type", list_type,
                                  ("atomic", "set", "map")))
    if s.get("x-kubernetes-list-map-keys"):
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        if list_type is None:
            errs.append(required(f"{path}.x-kubernetes-list-type", detail))
        elif list_type != "map":
            errs.append(invalid(f"{path}.x-kubernetes-list-type", list_type, detail))
    if list_type == "map":
        errs += _list_map_errors(s, path)
    return errs


def _set_item_errors(items: Schema, path: str) -> list[FieldError]:
    detail = "must be atomic as item of a list with x-kubernetes-list-type=set"
    item_type = items.get("type")
    if item_type == "array" and items.get("x-kubernetes-list-type") not in (None, "atomic"):
        return [invalid(f"{path}.items.x-kubernetes-list-type",
                        items["x-kubernetes-list-type"], detail)]
    if item_type == "object" and items.get("x-kubernetes-map-type") != "atomic":
        return [invalid(f"{path}.items.x-kubernetes-map-type",
                        go_value(items.get("x-kubernetes-list-type")), detail)]
    return []


def _list_map_errors(s: Schema, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    keys = list(s.get("x-kubernetes-list-map-keys") or ())
    items = s.get("items")
    if not keys:
        errs.append(required(f"{path}.x-kubernetes-list-map-keys",
                             "must not be empty if x-kubernetes-list-type is map"))
    if items is None:
        errs.append(required(f"{path}.items",
                             "must have a schema if x-kubernetes-list-type is map"))
        return errs
    if not isinstance(items, Mapping):
        errs.append(invalid(f"{path}.items", go_value(items),
                            "must only have a single schema if x-kubernetes-list-type is map"))
        return errs
    if items.get("type") != "object":
        errs.append(invalid(f"{path}.items.type", items.get("type") or "",
                            "must be object if parent array's x-kubernetes-list-type is map"))
        return errs
    props = items.get("properties") or {}
    seen: set[str] = set()
    keys_value = keys  # a []string, printed as []string{"a"}
    for name in keys:
        sub = props.get(name)
        if sub is None:
            errs.append(invalid(f"{path}.x-kubernetes-list-map-keys", keys_value,
                                "entries must all be names of item properties"))
        elif sub.get("type") in ("array", "object"):
            errs.append(invalid(f"{key(f'{path}.items.properties', name)}.type", "object",
                                "must be a scalar type if parent array's x-kubernetes-list-type "
                                "is map"))
        if name in seen:
            errs.append(invalid(f"{path}.x-kubernetes-list-map-keys", keys_value,
                                "must not contain duplicate entries"))
        seen.add(name)
    return errs


def _map_list_errors(s: Schema, path: str) -> list[FieldError]:
    """`validateMapListKeysMapSet`: set/map items not nullable, map keys required or defaulted."""
    items, list_type = s.get("items"), s.get("x-kubernetes-list-type")
    if not isinstance(items, Mapping) or list_type not in ("set", "map"):
        return []
    errs: list[FieldError] = []
    if items.get("nullable") is True:
        errs.append(forbidden(f"{path}.items.nullable",
                              f"cannot be nullable when x-kubernetes-list-type is {list_type}"))
    if list_type == "map":
        required_keys = set(items.get("required") or ())
        props = items.get("properties") or {}
        for name in s.get("x-kubernetes-list-map-keys") or ():
            sub = props.get(name)
            if not isinstance(sub, Mapping):
                continue
            where = key(f"{path}.items.properties", name)
            if name not in required_keys and "default" not in sub:
                errs.append(required(f"{where}.default", "this property is in x-kubernetes-"
                                     "list-map-keys, so it must have a default or be a required "
                                     "property"))
            if sub.get("nullable") is True:
                errs.append(forbidden(f"{where}.nullable", "this property is in x-kubernetes-list-"
                                      "map-keys, so it cannot be nullable"))
    return errs


def _rule_shape_errors(s: Schema, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(_maps(s.get("x-kubernetes-validations"))):
        where = f"{path}.x-kubernetes-validations[{i}]"
        text, message = str(rule.get("rule") or ""), str(rule.get("message") or "")
        if not text.strip():
            errs.append(required(f"{where}.rule", "rule is not specified"))
        elif message and not message.strip():
            errs.append(invalid(f"{where}.message", message,
                                "message must be non-empty if specified"))
        elif _NEWLINES.search(message.strip()):
            errs.append(invalid(f"{where}.message", message,
                                "message must not contain line breaks"))
        elif _NEWLINES.search(text.strip()) and not message.strip():
            errs.append(required(f"{where}.message",
                                 "message must be specified if rule contains line breaks"))
        expression = str(rule.get("messageExpression") or "")
        if expression and not expression.strip():
            errs.append(required(f"{where}.messageExpression",
                                 "messageExpression must be non-empty if specified"))
        reason = rule.get("reason")
        if reason is not None and reason not in _REASONS:
            errs.append(FieldError(ErrorType.NOT_SUPPORTED, f"{where}.reason", reason,
                                   supported=_REASONS))
        field_path = str(rule.get("fieldPath") or "")
        if field_path and not field_path.strip():
            errs.append(invalid(f"{where}.fieldPath", field_path,
                                "fieldPath must be non-empty if specified"))
        if _NEWLINES.search(field_path):
            errs.append(invalid(f"{where}.fieldPath", field_path,
                                "fieldPath must not contain line breaks"))
    return errs
