"""Embedded resources (`x-kubernetes-embedded-resource`): TypeMeta and ObjectMeta inside a CR.

`coerce_metadata` is `objectmeta.Coerce` for one embedded object: its `metadata` is
round-tripped through `ObjectMeta`, which drops unknown keys (reported as unknown
fields, like pruned ones) and empty values, exactly as the Go struct's `omitempty`
does. `embedded_errors` is `objectmeta.Validate`: every embedded object needs a string
`apiVersion` (a valid group/version) and `kind` (a DNS-1035 label in any case), and its
metadata passes `ValidateObjectMeta` with the path-segment name rule; a missing name is
allowed. Paths are kube `field.Path`s (`spec.template.metadata.name`).

The name/label validators live in `portico.apiserver.resources._meta`, imported when
first needed: the resources package imports this package's users.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.apiextensions.schema._gofmt import go_value
from portico.apiserver.apiextensions.schema._node import Node
from portico.apiserver.errors import FieldError, invalid, required

_STRING_FIELDS = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
                  "creationTimestamp", "deletionTimestamp")
_INT_FIELDS = ("generation", "deletionGracePeriodSeconds")
_MAP_FIELDS = ("labels", "annotations")
_LIST_FIELDS = ("ownerReferences", "finalizers", "managedFields")
_KNOWN = frozenset(_STRING_FIELDS + _INT_FIELDS + _MAP_FIELDS + _LIST_FIELDS)
_GO_TYPES = {**dict.fromkeys(_STRING_FIELDS, "string"), **dict.fromkeys(_INT_FIELDS, "int64"),
             **dict.fromkeys(_MAP_FIELDS, "map[string]string"),
             "finalizers": "[]string", "ownerReferences": "[]v1.OwnerReference",
             "managedFields": "[]v1.ManagedFieldsEntry"}
_JSON_NAMES = {bool: "bool", int: "number", float: "number", str: "string", list: "array",
               dict: "object"}


def coerce_metadata(obj: dict[str, Any], path: str, unknown: list[str]) -> None:
    """Drop unknown and empty keys of an embedded object's `metadata` (in place)."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or meta_type_error(meta):
        return
    for key in list(meta):
        if key not in _KNOWN:
            unknown.append(f"{path}.metadata.{key}" if path else f"metadata.{key}")
            del meta[key]
        elif meta[key] in (None, "", 0, {}, []) and not isinstance(meta[key], bool):
            del meta[key]


def meta_type_error(meta: dict[str, Any]) -> str:
    """The JSON decoding error of `metadata` into `ObjectMeta`, or ""."""
    for key in sorted(meta):
        value, go_type = meta[key], _GO_TYPES.get(key)
        if value is None or go_type is None:
            continue
        bad: Any = None
        wrong_int = isinstance(value, bool) or not isinstance(value, int)
        if (go_type == "string" and not isinstance(value, str)) or (
                go_type == "int64" and wrong_int):
            bad = value
        elif go_type == "map[string]string":
            if not isinstance(value, dict):
                bad = value
            else:
                bad = next((v for v in value.values() if not isinstance(v, str | None)), None)
                go_type = "string" if bad is not None else go_type
        elif go_type.startswith("[]") and not isinstance(value, list):
            bad = value
        if bad is not None:
            shown = _JSON_NAMES.get(type(bad), "value")
            return (f"json: cannot unmarshal {shown} into Go struct field "
                    f"ObjectMeta.{key} of type {go_type}")
    return ""


def embedded_errors(node: Node, obj: Any, path: str) -> list[FieldError]:
    """`objectmeta.Validate(path, obj, schema, isResourceRoot=false)`."""
    errs: list[FieldError] = []
    if node.has_embedded:
        _walk(node, obj, path, errs)
    return errs


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _walk(node: Node, value: Any, path: str, errs: list[FieldError]) -> None:
    if isinstance(value, dict):
        if node.embedded:
            errs.extend(_resource_errors(value, path))
        for key in sorted(value):
            sub = node.properties.get(key)
            if sub is not None:
                if sub.has_embedded:
                    _walk(sub, value[key], _child(path, key), errs)
            elif node.additional is not None and node.additional.has_embedded:
                _walk(node.additional, value[key], f"{path}[{key}]", errs)
    elif isinstance(value, list) and node.items is not None and node.items.has_embedded:
        for i, item in enumerate(value):
            _walk(node.items, item, f"{path}[{i}]", errs)


def _resource_errors(obj: dict[str, Any], path: str) -> list[FieldError]:
    from portico.apiserver.resources._meta import is_dns1035_label

    errs: list[FieldError] = []
    for key in ("apiVersion", "kind"):
        if key not in obj:
            errs.append(required(_child(path, key)))
    for key in sorted(obj):
        value, where = obj[key], _child(path, key)
        if key in ("apiVersion", "kind") and not isinstance(value, str):
            errs.append(invalid(where, go_value(value), "must be a string"))
        elif key in ("apiVersion", "kind") and not value:
            errs.append(required(where))
        elif key == "apiVersion" and value.count("/") > 1:
            errs.append(invalid(where, value, f"unexpected GroupVersion string: {value}"))
        elif key == "kind" and (msgs := is_dns1035_label(value.lower())):
            detail = "may have mixed case, but should otherwise match: " + ",".join(msgs)
            errs.append(invalid(where, value, detail))
        elif key == "metadata":
            errs.extend(_meta_errors(value, where))
    return errs


def _segment_errors(name: str, prefix: bool) -> list[str]:
    """`path.ValidatePathSegmentName`."""
    if not prefix and name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _meta_errors(meta: Any, path: str) -> list[FieldError]:
    from portico.apiserver.resources._meta import (
        is_dns1123_label,
        validate_annotations,
        validate_finalizers,
        validate_labels,
        validate_nonnegative,
    )

    if not isinstance(meta, dict):
        shown = _JSON_NAMES.get(type(meta), "value")
        return [invalid(path, go_value(meta),
                        f"json: cannot unmarshal {shown} into Go value of type v1.ObjectMeta")]
    if problem := meta_type_error(meta):
        return [invalid(path, go_value(meta), problem)]
    errs: list[FieldError] = []
    if generate_name := meta.get("generateName") or "":
        errs += [invalid(f"{path}.generateName", generate_name, m)
                 for m in _segment_errors(generate_name, True)]
    name = meta.get("name") or "fakename"
    errs += [invalid(f"{path}.name", name, m) for m in _segment_errors(name, False)]
    if namespace := meta.get("namespace") or "":
        errs += [invalid(f"{path}.namespace", namespace, m) for m in is_dns1123_label(namespace)]
    errs += validate_nonnegative(meta.get("generation"), f"{path}.generation")
    errs += validate_labels(meta.get("labels"), f"{path}.labels")
    errs += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    errs += validate_finalizers(meta.get("finalizers"), f"{path}.finalizers")
    return errs
