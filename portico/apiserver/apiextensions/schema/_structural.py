"""The structural-schema rules (`schema.ValidateStructural`, `validation.go` and `complete.go`).

A schema is structural when every node says its `type` (except under
`x-kubernetes-int-or-string` or `x-kubernetes-preserve-unknown-fields`), arrays have
`items`, the root is an object whose `metadata` may only restrict `name` and
`generateName`, and the logical junctors (`allOf`, `anyOf`, `oneOf`, `not`) only
*validate*: inside them type, default, description, nullable, additionalProperties and
the `x-kubernetes-*` extensions are forbidden, and every property or items they mention
must also be declared outside them. The two int-or-string shapes
(`anyOf: [{type: integer}, {type: string}]`, possibly as the first `allOf`) are exempt.

Errors are sorted by their text, as upstream sorts them. Paths are kube field paths:
`<prefix>.properties[spec].items.type`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portico.apiserver.apiextensions.schema._regex import compile_pattern
from portico.apiserver.errors import FieldError, forbidden, invalid, required

Schema = Mapping[str, Any]
_ROOT, _ITEM, _FIELD = "root", "item", "field"
_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
_EMPTY_TYPE_DETAIL = {
    _ROOT: "must not be empty at the root",
    _ITEM: "must not be empty for specified array items",
    _FIELD: "must not be empty for specified object fields",
}
# forbidden inside junctors: keyword -> detail
_NESTED_FORBIDDEN = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("externalDocs", "must be undefined to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)
# what a root `metadata` schema may say besides name/generateName properties
_METADATA_IGNORED = frozenset(("type", "default", "properties"))


def key(path: str, name: str) -> str:
    return f"{path}[{name}]"


def _present(schema: Schema, name: str) -> bool:
    value = schema.get(name)
    return value is not None and value is not False and value != "" and value != []


def _maps(value: Any) -> list[Schema]:
    return [v for v in value or () if isinstance(v, Mapping)] if isinstance(value, list) else []


def structural_schema_errors(schema: Schema, path: str) -> list[FieldError]:
    errs = _invariants(schema, _ROOT, path) + _completeness_of_value(schema, schema, path, path)
    return sorted(errs, key=lambda e: e.message())


def _invariants(s: Schema, level: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    typ = s.get("type") or ""
    items = s.get("items")
    if typ == "array" and items is None:
        errs.append(required(f"{path}.items", "must be specified"))
    if isinstance(items, Mapping):
        errs += _invariants(items, _ITEM, f"{path}.items")
    props = s.get("properties") or {}
    for name, sub in props.items():
        if isinstance(sub, Mapping):
            errs += _invariants(sub, _FIELD, key(f"{path}.properties", name))
    additional = s.get("additionalProperties")
    if additional is not None:
        if level == _ROOT:
            errs.append(forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if isinstance(additional, Mapping):
            errs += _invariants(additional, _FIELD, f"{path}.additionalProperties")
    errs += _extension_errors(s, path)
    errs += _value_validation(s, _skips_any_of(s), _skips_first_all_of(s), level, path)
    errs += _type_errors(s, level, path)
    errs += _meta_errors(s, level, path)
    return errs


def _extension_errors(s: Schema, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if s.get("x-kubernetes-int-or-string") is True:
        for ext in ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource"):
            if s.get(ext) is True:
                errs.append(invalid(f"{path}.{ext}", True,
                                    "must be false if x-kubernetes-int-or-string is true"))
    return errs


def _type_errors(s: Schema, level: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    typ = s.get("type") or ""
    embedded = s.get("x-kubernetes-embedded-resource") is True
    detail = "must be object if x-kubernetes-embedded-resource is true"
    if embedded and typ != "object":
        errs.append(invalid(f"{path}.type", typ, detail) if typ else
                    required(f"{path}.type", detail))
    elif not typ and not s.get("x-kubernetes-int-or-string") and not s.get(
            "x-kubernetes-preserve-unknown-fields"):
        errs.append(required(f"{path}.type", _EMPTY_TYPE_DETAIL[level]))
    if embedded and s.get("additionalProperties") is not None:
        errs.append(forbidden(f"{path}.additionalProperties",
                              "must not be used if x-kubernetes-embedded-resource is set"))
    if level == _ROOT and typ and typ != "object":
        errs.append(invalid(f"{path}.type", typ, "must be object at the root"))
    return errs


def _meta_errors(s: Schema, level: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    embedded = s.get("x-kubernetes-embedded-resource") is True
    check = level == _ROOT or embedded
    props = s.get("properties") or {}
    for name in ("kind", "apiVersion"):
        sub = props.get(name)
        if check and isinstance(sub, Mapping) and sub.get("type", "") != "string":
            errs.append(invalid(f"{key(f'{path}.properties', name)}.type",
                                sub.get("type", ""), "must be string"))
    meta = props.get("metadata")
    if isinstance(meta, Mapping):
        meta_path = key(f"{path}.properties", "metadata")
        if check and meta.get("type", "") != "object":
            errs.append(invalid(f"{meta_path}.type", meta.get("type", ""), "must be object"))
        if level == _ROOT and not _only_name_restrictions(meta):
            errs.append(forbidden(meta_path, "must not specify anything other than name and "
                                  "generateName, but metadata is implicitly specified"))
    if embedded and not s.get("x-kubernetes-preserve-unknown-fields") and not props:
        errs.append(required(f"{path}.properties", "must not be empty if x-kubernetes-embedded-"
                             "resource is true without x-kubernetes-preserve-unknown-fields"))
    return errs


def _only_name_restrictions(meta: Schema) -> bool:
    props = meta.get("properties") or {}
    if set(props) - {"name", "generateName"}:
        return False
    return not any(_present(meta, k) for k in meta if k not in _METADATA_IGNORED)


def _skips_any_of(s: Schema) -> bool:
    return _maps(s.get("anyOf")) == _INT_OR_STRING and len(s.get("anyOf") or ()) == 2


def _skips_first_all_of(s: Schema) -> bool:
    all_of = _maps(s.get("allOf"))
    return bool(all_of) and _maps(all_of[0].get("anyOf")) == _INT_OR_STRING


def _value_validation(s: Schema, skip_any_of: bool, skip_first_all_of: bool, level: str,
                      path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not skip_any_of:
        for i, sub in enumerate(_maps(s.get("anyOf"))):
            errs += _nested(sub, False, level, f"{path}.anyOf[{i}]")
    for i, sub in enumerate(_maps(s.get("allOf"))):
        errs += _nested(sub, skip_first_all_of and i == 0, level, f"{path}.allOf[{i}]")
    for i, sub in enumerate(_maps(s.get("oneOf"))):
        errs += _nested(sub, False, level, f"{path}.oneOf[{i}]")
    if isinstance(s.get("not"), Mapping):
        errs += _nested(s["not"], False, level, f"{path}.not")
    pattern = s.get("pattern")
    if pattern and (problem := compile_pattern(str(pattern)).error):
        errs.append(invalid(f"{path}.pattern", pattern,
                            f"must be a valid regular expression, but isn't: {problem}"))
    return errs


def _nested(v: Schema, skip_any_of: bool, level: str, path: str) -> list[FieldError]:
    """`validateNestedValueValidation`: a junctor branch may only validate."""
    errs = _value_validation(v, skip_any_of, False, level, path)
    if isinstance(v.get("items"), Mapping):
        errs += _nested(v["items"], False, level, f"{path}.items")
    for name, sub in (v.get("properties") or {}).items():
        if isinstance(sub, Mapping):
            errs += _nested(sub, False, _FIELD, key(f"{path}.properties", name))
    for name, detail in _NESTED_FORBIDDEN:
        bool_form = name == "additionalProperties" and isinstance(v.get(name), bool)
        if bool_form or _present(v, name):
            errs.append(forbidden(f"{path}.{name}", detail))
    if "metadata" in (v.get("properties") or {}):
        errs.append(forbidden(key(f"{path}.properties", "metadata"),
                              "must not be specified in a nested context"))
    return errs


def _complete_nested(v: Schema, s: Schema | None, s_path: str, v_path: str) -> list[FieldError]:
    if s is None:
        return [required(s_path, f"because it is defined in {v_path}")]
    errs = _completeness_of_value(v, s, s_path, v_path)
    if isinstance(v.get("items"), Mapping):
        items = s.get("items")
        errs += _complete_nested(v["items"], items if isinstance(items, Mapping) else None,
                                 f"{s_path}.items", f"{v_path}.items")
    s_props = s.get("properties") or {}
    for name, sub in (v.get("properties") or {}).items():
        sub_s = s_props.get(name)
        if not isinstance(sub_s, Mapping):
            errs.append(required(key(f"{s_path}.properties", name),
                                 f"because it is defined in {key(f'{v_path}.properties', name)}"))
        elif isinstance(sub, Mapping):
            errs += _complete_nested(sub, sub_s, key(f"{s_path}.properties", name),
                                     key(f"{v_path}.properties", name))
    return errs


def _completeness_of_value(v: Schema, s: Schema, s_path: str, v_path: str) -> list[FieldError]:
    """Everything `v`'s junctors mention must be declared by the structural schema `s`."""
    branches: list[tuple[str, Schema]] = []
    if isinstance(v.get("not"), Mapping):
        branches.append(("not", v["not"]))
    for junctor in ("allOf", "anyOf", "oneOf"):
        branches += [(f"{junctor}[{i}]", b) for i, b in enumerate(_maps(v.get(junctor)))]
    errs: list[FieldError] = []
    for suffix, branch in branches:
        errs += _complete_nested(branch, s, s_path, f"{v_path}.{suffix}")
    return errs
