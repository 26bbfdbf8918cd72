"""kube-openapi's schema validator (`validate.SchemaValidator`), with kube's error mapping.

Each schema node runs the validators in kube-openapi's order: type, junctors
(allOf/anyOf/oneOf/not), string, format, number, slice, enum, object. Names follow
kube-openapi: a property is `spec.replicas`, an item `spec.ports[0]`, a map value
`spec.labels.key`, and the messages say `<name> in body ...`. Errors are mapped to
field errors as `kubeOpenAPIResultToFieldErrors` does: Required, NotSupported (enum),
TooLong, TooMany (maxItems, maxProperties), TypeInvalid (type and format), and Invalid
for the rest, at `<prefix>.<name>` (the bare prefix, or `<nil>`, for unnamed errors).

anyOf/oneOf report the failures of the branch with the most successful checks
(`MatchCount`), as kube-openapi does. With an old value (ratcheting), a subtree whose
value is unchanged from its correlated old value reports nothing; values correlate
through properties, map keys and `x-kubernetes-list-type: map` keys.
Map iteration in Go is random; here keys are visited in sorted order.
"""

from __future__ import annotations

import json
from typing import Any

from portico.apiserver.apiextensions.schema._formats import format_ok, is_string_format
from portico.apiserver.apiextensions.schema._gofmt import go_float, go_number, go_value
from portico.apiserver.apiextensions.schema._node import MISSING, Node
from portico.apiserver.apiextensions.schema._values import (
    deep_equal,
    freeze,
    go_kind,
    is_json_integer,
    is_number,
)
from portico.apiserver.errors import ErrorType, FieldError
from portico.model.validation import go_quote


class _Result:
    """kube-openapi's `Result`: errors plus the count of checks that applied."""

    __slots__ = ("errors", "matches")

    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self.matches = 0

    def merge(self, other: _Result) -> None:
        self.errors.extend(other.errors)
        self.matches += other.matches


class OpenAPIValidator:
    """Validates values against compiled nodes, reporting at paths under `prefix`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def field(self, name: str) -> str:
        if name and name != ".":
            name = name[1:] if name.startswith(".") else name
            return f"{self.prefix}.{name}" if self.prefix else name
        return self.prefix or "<nil>"

    def error(self, kind: ErrorType, name: str, value: Any, detail: str) -> FieldError:
        return FieldError(kind, self.field(name), go_value(value), detail)

    def invalid(self, name: str, value: Any, detail: str) -> FieldError:
        return self.error(ErrorType.INVALID, name, value, detail)

    def run(self, node: Node, data: Any, old: Any = MISSING) -> list[FieldError]:
        return self.validate(node, data, "", old).errors

    def validate(self, node: Node, data: Any, name: str, old: Any) -> _Result:
        if old is not MISSING and deep_equal(old, data):
            return _Result()
        res = _Result()
        if data is None:
            if node.types and not node.nullable:
                res.errors.append(self._type_error(name, ",".join(node.types), "null"))
            self._enum(node, data, name, res)
            return res
        # `matches` counts as kube-openapi's MatchCount does: one per validator that
        # applied, one more for each passing type check, number, slice and junctor step
        kind, go_format = go_kind(data)
        if node.types or node.format:
            failed = len(res.errors)
            self._type(node, data, kind, go_format, name, res)
            res.matches += 1 + (len(res.errors) == failed)
        self._junctors(node, data, name, old, res)
        res.matches += 2
        if kind == "string":
            self._string(node, data, name, res)
            res.matches += 1
            if node.format and is_string_format(node.format):
                if not format_ok(node.format, data):
                    res.errors.append(self._type_error(name, node.format, data))
                res.matches += 1
        elif kind in ("integer", "number"):
            self._number(node, data, name, res)
            res.matches += 2
        elif kind == "array":
            self._slice(node, data, name, old, res)
            res.matches += 2
        self._enum(node, data, name, res)
        res.matches += 1
        if kind == "object":
            self._object(node, data, name, old, res)
            res.matches += 1
        res.matches += 1
        return res

    def _type_error(self, name: str, type_name: str, value: str) -> FieldError:
        msg = f"{name} in body must be of type {type_name}: {go_quote(value)}"
        return self.error(ErrorType.TYPE_INVALID, name, value, msg)

    def _type(self, node: Node, data: Any, kind: str, go_format: str, name: str,
              res: _Result) -> None:
        types, fmt = node.types, node.format
        float_int = kind == "number" and is_json_integer(data) and "integer" in types
        int_float = kind == "integer" and "number" in types
        if kind not in ("string", "array") and fmt and not (
                kind in types or go_format == fmt or float_int or int_float):
            res.errors.append(self._type_error(name, fmt, go_format))
            return
        numeric = "number" in types or "integer" in types
        if not numeric and fmt and kind in ("string", "array"):
            return
        if not (kind in types or float_int or int_float):
            res.errors.append(self._type_error(name, ",".join(types), kind))

    def _junctors(self, node: Node, data: Any, name: str, old: Any, res: _Result) -> None:
        if not node.has_junctors:
            return
        path = go_quote(name)
        if node.any_of:
            best: _Result | None = None
            for branch in node.any_of:
                result = self.validate(branch, data, name, old)
                if not result.errors:
                    best = result
                    break
                if best is None or result.matches > best.matches:
                    best = result
            if best is not None and best.errors:
                res.errors.append(self.invalid(
                    "", "", f"{path} must validate at least one schema (anyOf)"))
            if best is not None:
                res.merge(best)
        if node.one_of:
            self._one_of(node, data, name, old, res)
        if node.all_of:
            passed = 0
            for branch in node.all_of:
                result = self.validate(branch, data, name, old)
                passed += not result.errors
                res.merge(result)
            if passed != len(node.all_of):
                extra = ". None validated" if passed == 0 else ""
                res.errors.append(self.invalid(
                    "", "", f"{path} must validate all the schemas (allOf){extra}"))
        if node.not_ is not None and not self.validate(node.not_, data, name, old).errors:
            res.errors.append(self.invalid("", "", f"{path} must not validate the schema (not)"))

    def _one_of(self, node: Node, data: Any, name: str, old: Any, res: _Result) -> None:
        best: _Result | None = None
        first_ok: _Result | None = None
        passed = 0
        for branch in node.one_of:
            result = self.validate(branch, data, name, old)
            if not result.errors:
                passed += 1
                best = None
                first_ok = first_ok or result
            elif passed == 0 and (best is None or result.matches > best.matches):
                best = result
        if passed == 1 and first_ok is not None:
            res.merge(first_ok)
            return
        extra = "Found none valid" if passed == 0 else f"Found {passed} valid alternatives"
        res.errors.append(self.invalid(
            "", "", f"{go_quote(name)} must validate one and only one schema (oneOf). {extra}"))
        if best is not None:
            res.merge(best)

    def _string(self, node: Node, data: str, name: str, res: _Result) -> None:
        if node.max_length is not None and len(data) > node.max_length:
            unit = "byte" if node.max_length == 1 else "bytes"
            res.errors.append(self.error(
                ErrorType.TOO_LONG, name, data, f"may not be more than {node.max_length} {unit}"))
        elif node.min_length is not None and len(data) < node.min_length:
            res.errors.append(self.invalid(
                name, data, f"{name} in body should be at least {node.min_length} chars long"))
        elif node.pattern is not None and not node.pattern.search(data):
            shown = node.pattern.source
            if node.pattern.error:
                shown += f", but pattern is invalid: {node.pattern.error}"
            res.errors.append(self.invalid(name, data, f"{name} in body should match '{shown}'"))

    def _number(self, node: Node, data: int | float, name: str, res: _Result) -> None:
        is_int = isinstance(data, int)
        if node.multiple_of is not None:
            self._multiple_of(node.multiple_of, data, name, res)
        for bound, exclusive, below in (
                (node.minimum, node.exclusive_minimum, True),
                (node.maximum, node.exclusive_maximum, False)):
            if bound is None:
                continue
            limit: int | float = int(bound) if is_int else float(bound)
            bad = (data <= limit if exclusive else data < limit) if below else (
                data >= limit if exclusive else data > limit)
            if bad:
                word = "greater" if below else "less"
                rel = f"{word} than" if exclusive else f"{word} than or equal to"
                res.errors.append(self.invalid(
                    name, data, f"{name} in body should be {rel} {go_number(limit)}"))

    def _multiple_of(self, factor: float, data: int | float, name: str, res: _Result) -> None:
        if isinstance(data, int):
            int_factor = int(factor)
            if int_factor == 0:
                return
            if int_factor < 0:
                msg = f"factor MultipleOf declared for {name} must be positive: {int_factor}"
                res.errors.append(self.invalid(name, int_factor, msg))
            elif data % int_factor:
                res.errors.append(self.invalid(
                    name, data, f"{name} in body should be a multiple of {int_factor}"))
            return
        if factor < 0:
            msg = f"factor MultipleOf declared for {name} must be positive: {go_float(factor)}"
            res.errors.append(self.invalid(name, factor, msg))
            return
        mult = (1 / factor * data) if factor < 1 else data / factor
        if not is_json_integer(mult):
            res.errors.append(self.invalid(
                name, data, f"{name} in body should be a multiple of {go_float(factor)}"))

    def _slice(self, node: Node, data: list[Any], name: str, old: Any, res: _Result) -> None:
        if node.items is not None:
            olds = _correlate_items(node, data, old)
            for i, item in enumerate(data):
                res.merge(self.validate(node.items, item, f"{name}[{i}]", olds[i]))
        size = len(data)
        if node.min_items is not None and size < node.min_items:
            res.errors.append(self.invalid(
                name, size, f"{name} in body should have at least {node.min_items} items"))
        if node.max_items is not None and size > node.max_items:
            noun = "item" if node.max_items == 1 else "items"
            res.errors.append(self.error(
                ErrorType.TOO_MANY, name, size, f"must have at most {node.max_items} {noun}"))
        if node.unique_items and len({freeze(v) for v in data}) != size:
            res.errors.append(self.invalid(
                name, "", f"{name} in body shouldn't contain duplicates"))

    def _enum(self, node: Node, data: Any, name: str, res: _Result) -> None:
        if not node.enum or any(_enum_match(data, ev) for ev in node.enum):
            return
        supported = tuple(ev if isinstance(ev, str) else _json(ev) for ev in node.enum)
        res.errors.append(FieldError(
            ErrorType.NOT_SUPPORTED, self.field(name), go_value(data), supported=supported))

    def _object(self, node: Node, data: dict[str, Any], name: str, old: Any,
                res: _Result) -> None:
        count = len(data)
        if node.min_properties is not None and count < node.min_properties:
            detail = f"{name} in body should have at least {node.min_properties} properties"
            res.errors.append(self.invalid(name, count, detail))
            return
        if node.max_properties is not None and count > node.max_properties:
            noun = "item" if node.max_properties == 1 else "items"
            res.errors.append(self.error(
                ErrorType.TOO_MANY, name, count, f"must have at most {node.max_properties} {noun}"))
            return
        old_map = old if isinstance(old, dict) else {}
        props = node.properties
        extra = sorted(k for k in data if k not in props)
        if node.additional_present and node.additional is None and not node.additional_allows:
            for key in extra:
                res.errors.append(self.invalid(
                    name, key, f"{name}.{key} in body is a forbidden property"))
        elif node.additional is not None:
            for key in extra:
                res.merge(self.validate(node.additional, data[key], f"{name}.{key}",
                                        old_map.get(key, MISSING)))
        for key in node.property_order:
            if key in data:
                child = f"{name}.{key}" if name else key
                res.merge(self.validate(props[key], data[key], child, old_map.get(key, MISSING)))
        for key in node.required:
            if key not in data:
                res.errors.append(FieldError(ErrorType.REQUIRED, self.field(f"{name}.{key}")))


def _correlate_items(node: Node, data: list[Any], old: Any) -> list[Any]:
    """Old items matched by list-map key (the only correlatable lists), else MISSING."""
    if node.list_type != "map" or not isinstance(old, list) or not node.list_map_keys:
        return [MISSING] * len(data)
    by_key: dict[Any, Any] = {}
    for item in old:
        if isinstance(item, dict):
            by_key.setdefault(_map_key(node, item), item)
    return [by_key.get(_map_key(node, item), MISSING) if isinstance(item, dict) else MISSING
            for item in data]


def _map_key(node: Node, item: dict[str, Any]) -> Any:
    return tuple(freeze(item[k]) if k in item else None for k in node.list_map_keys)


def _enum_match(data: Any, allowed: Any) -> bool:
    """kube-openapi's enum check: equal after converting to the enum value's Go type."""
    if allowed is None or data is None:
        return False
    if isinstance(allowed, bool) or isinstance(data, bool):
        return type(allowed) is type(data) and allowed == data
    if is_number(allowed) and is_number(data):
        return bool((int(data) if isinstance(allowed, int) else float(data)) == allowed)
    return deep_equal(data, allowed)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
