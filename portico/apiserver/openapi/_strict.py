"""Strict field validation: what kube-apiserver's JSON decoder reports for a request body.

kube-apiserver decodes a body into the kind's Go struct with `sigs.k8s.io/json`.
That decoder reports two kinds of problems, which this module finds by walking the
object along the kind's schema (in document order, as the decoder does):

- **type errors** (`json: cannot unmarshal string into Go struct field
  ServicePort.spec.ports.port of type int32`). The first one wins, whatever the
  `fieldValidation` mode; a failing custom unmarshaller (IntOrString, Quantity,
  Time) aborts decoding at once, so its error beats an earlier saved one.
  The Go struct name is the struct holding the field; the field path lists JSON
  names only (no indices, no map keys).
- **unknown fields** (`unknown field "spec.ports[0].foo"`), all of them, reported
  only when there is no type error. Paths use `.name`, `[index]` and `.mapKey`.

`null` is accepted everywhere (it decodes to the zero value). `apiVersion` and
`kind` are part of every kind's schema. Opaque types (FieldsV1, RawExtension,
apiextensions JSON) accept anything.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from portico.apiserver._decode import nesting_exceeds
from portico.apiserver.errors import bad_request, json_kind
from portico.apiserver.openapi._gotypes import NAMED_STRINGS, go_type, struct_name
from portico.apiserver.schema import Definitions, definitions
from portico.model.kinds import GroupVersionKind

Schema = dict[str, Any]

_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_TIMES = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
}
_OPAQUE = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
}
# Portico's own bound for schema-less values (managedFields' fieldsV1): everything else
# is bounded by its schema or dropped as unknown, and stored objects must stay encodable
MAX_OPAQUE_DEPTH = 200
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}

QUANTITY_FORMAT_ERROR = (
    "quantities must match the regular expression "
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
_QUANTITY_RE = re.compile(r"([+-]?)([0-9]*)(\.?)([0-9]*)(.*)", re.DOTALL)
_QUANTITY_SUFFIXES = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "m", "k", "M", "G", "T", "P", "E"}
_SUFFIX_RE = re.compile(r"[eEinumkKMGTP]*[-+]?[0-9]*")
_EXPONENT_RE = re.compile(r"[eE][+-]?[0-9]+")


class FieldValidation(enum.StrEnum):
    """The `fieldValidation` query parameter; absent or empty means Warn."""

    STRICT = "Strict"
    WARN = "Warn"
    IGNORE = "Ignore"


@dataclass
class DecodeProblems:
    """What decoding a body would report: the winning type error, else unknown fields."""

    type_error: str | None = None
    unknown_fields: list[str] = field(default_factory=list)
    # where each unknown field sits: (the object holding it, its key)
    unknown_places: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    def strict_errors(self, duplicates: tuple[str, ...] = ()) -> list[str]:
        """The strict decoding errors, each worded as its Warning header text."""
        return ([f'duplicate field "{path}"' for path in duplicates]
                + [f'unknown field "{path}"' for path in self.unknown_fields])

    def drop_unknown_fields(self) -> None:
        """Remove the unknown fields from the decoded object, as decoding into Go types does."""
        for holder, key in self.unknown_places:
            holder.pop(key, None)


def strict_decoding_message(errors: list[str]) -> str:
    """`runtime.NewStrictDecodingError(errs).Error()`."""
    return "strict decoding error: " + ", ".join(errors)


class _Ctx(NamedTuple):
    """Where the decoder is: Go struct holding the field, Go field path, strict path."""

    struct: str
    go_path: str
    path: str
    named: str  # named Go string type of the field, if any

    @classmethod
    def root(cls) -> _Ctx:
        return cls("", "", "", "")


class _Abort(Exception):
    """A custom unmarshaller failed; the decoder stops and returns this error."""


def _number_literal(value: int | float) -> str:
    return "number " + repr(value)


def quantity_error(value: Any) -> str | None:
    """The error `resource.Quantity.UnmarshalJSON` gives for a JSON value, or None."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return None
    if not isinstance(value, str):
        return QUANTITY_FORMAT_ERROR
    match = _QUANTITY_RE.fullmatch(value.strip())
    if match is None or not (match.group(2) or match.group(4)):
        return QUANTITY_FORMAT_ERROR
    suffix = match.group(5)
    if not _SUFFIX_RE.fullmatch(suffix):
        return QUANTITY_FORMAT_ERROR
    if suffix in _QUANTITY_SUFFIXES or _EXPONENT_RE.fullmatch(suffix):
        return None
    return "unable to parse quantity's suffix"


class _Decoder:
    """One walk over one body; `struct`/`go_path` are the Go error context."""

    def __init__(self, defs: Definitions) -> None:
        self.defs = defs
        self.problems = DecodeProblems()

    def type_error(self, value: str, struct: str, go_path: str, go_name: str) -> str:
        if not struct:
            return f"json: cannot unmarshal {value} into Go value of type {go_name}"
        return (
            f"json: cannot unmarshal {value} into Go struct field "
            f"{struct}.{go_path} of type {go_name}"
        )

    def save(self, message: str) -> None:
        if self.problems.type_error is None:
            self.problems.type_error = message

    def value(self, value: Any, prop: Schema | None, ctx: _Ctx) -> None:
        """Decode `value` against property schema `prop`; in context `ctx`."""
        if value is None or prop is None:
            return
        ref = self.defs.ref_name(prop)
        if ref in _OPAQUE:
            if nesting_exceeds(value, MAX_OPAQUE_DEPTH):
                raise _Abort(f"json: {ctx.path} is nested deeper than {MAX_OPAQUE_DEPTH} levels")
            return
        if ref is not None and self._special(value, ref, ctx):
            return
        schema = self.defs.resolve(prop)
        kinds = Definitions.types(schema)
        if schema is None or not kinds:
            return
        if "object" in kinds:
            self._object(value, prop, schema, ref, ctx)
        elif "array" in kinds:
            self._array(value, prop, schema, ctx)
        else:
            self._scalar(value, prop, schema, kinds, ctx)

    def _special(self, value: Any, ref: str, ctx: _Ctx) -> bool:
        struct, go_path, _, _ = ctx
        if ref == _INT_OR_STRING:
            if not isinstance(value, str):
                message = self._integer_error(value, "int32")
                if message:
                    raise _Abort(self.type_error(message, struct, go_path, "int32"))
            return True
        if ref == _QUANTITY:
            message = quantity_error(value)
            if message:
                raise _Abort(message)
            return True
        if ref in _TIMES:
            if not isinstance(value, str):
                raise _Abort(self.type_error(json_kind(value), struct, go_path, "string"))
            return True
        return False

    def _mismatch(self, value: Any, prop: Schema, ctx: _Ctx) -> None:
        struct, go_path, _, named = ctx
        self.save(self.type_error(json_kind(value), struct, go_path,
                                  go_type(self.defs, prop, named)))

    def _object(
        self, value: Any, prop: Schema, schema: Schema, ref: str | None,
        ctx: _Ctx, decoded: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(value, dict):
            self._mismatch(value, prop, ctx)
            return
        struct, go_path, path, named = ctx
        props = schema.get("properties")
        if props is not None:
            owner = struct_name(ref) if ref else struct
            for key, item in value.items():
                if decoded is not None and key in decoded and decoded[key] == item:
                    continue  # as it was decoded before: nothing new to find there
                sub_go = f"{go_path}.{key}" if go_path else key
                sub_path = f"{path}.{key}" if path else key
                if key not in props:
                    self.problems.unknown_fields.append(sub_path)
                    self.problems.unknown_places.append((value, key))
                    continue
                sub_named = NAMED_STRINGS.get((ref, key), "") if ref else ""
                self.value(item, props[key], _Ctx(owner, sub_go, sub_path, sub_named))
            return
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                sub_path = f"{path}.{key}" if path else key
                self.value(item, extra, _Ctx(struct, go_path, sub_path, named))

    def _array(
        self, value: Any, prop: Schema, schema: Schema, ctx: _Ctx,
    ) -> None:
        if not isinstance(value, list):
            self._mismatch(value, prop, ctx)
            return
        struct, go_path, path, named = ctx
        items = schema.get("items")
        for index, item in enumerate(value):
            self.value(item, items, _Ctx(struct, go_path, f"{path}[{index}]", named))

    def _integer_error(self, value: Any, fmt: str) -> str | None:
        """The decoder's `Value` text when `value` cannot fill an integer, else None."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return json_kind(value)
        if isinstance(value, float):
            return _number_literal(value)
        low, high = _INT_RANGES.get(fmt, _INT_RANGES["int64"])
        return None if low <= value <= high else _number_literal(value)

    def _scalar(
        self, value: Any, prop: Schema, schema: Schema, kinds: set[str],
        ctx: _Ctx,
    ) -> None:
        if "integer" in kinds:
            message = self._integer_error(value, schema.get("format", ""))
            if message:
                struct, go_path, _, _ = ctx
                self.save(self.type_error(message, struct, go_path,
                                          go_type(self.defs, prop, ctx.named)))
            return
        if "number" in kinds:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif "boolean" in kinds:
            ok = isinstance(value, bool)
        else:
            ok = json_kind(value) == "string"
        if not ok:
            self._mismatch(value, prop, ctx)


def decode_problems(gvk: GroupVersionKind, obj: Any,
                    decoded: Mapping[str, Any] | None = None) -> DecodeProblems:
    """Walk `obj` along the kind's schema; an unknown kind yields no problems.  `decoded`:
    the stored object an update or patch starts from (decoded when it was written), whose
    equal top-level fields (a status patch's spec) are not walked again."""
    defs = definitions()
    name = defs.name_for(gvk)
    if name is None:
        return DecodeProblems()
    decoder = _Decoder(defs)
    root: Schema = {"$ref": "#/$defs/" + name}
    try:
        if isinstance(obj, dict):
            decoder._object(obj, root, defs.defs[name], name, _Ctx.root(), decoded)
        else:
            decoder._mismatch(obj, root, _Ctx.root())
    except _Abort as abort:
        return DecodeProblems(type_error=str(abort))
    if decoder.problems.type_error is not None:
        decoder.problems.unknown_fields = []
    return decoder.problems


def check_fields(gvk: GroupVersionKind, obj: dict[str, Any], mode: str,
                 duplicates: tuple[str, ...] = (),
                 decoded: Mapping[str, Any] | None = None) -> list[str]:
    """Apply `fieldValidation` to a create/update body the way kube-apiserver decodes it.

    Raises `StatusError` 400 for a type error (any mode) or for unknown or duplicate
    fields (Strict). Otherwise unknown fields are dropped from `obj`, as decoding
    into the Go types drops them, and the Warning texts are returned in Warn mode
    ("" means Warn); `duplicates` are the body's repeated keys (`metadata.name`);
    `decoded` as for `decode_problems`.
    """
    problems = decode_problems(gvk, obj, decoded)
    prefix = f'{gvk.kind} in version "{gvk.version}" cannot be handled as a {gvk.kind}: '
    if problems.type_error is not None:
        raise bad_request(prefix + problems.type_error)
    errors = problems.strict_errors(duplicates)
    if errors and mode == FieldValidation.STRICT:
        raise bad_request(prefix + strict_decoding_message(errors))
    problems.drop_unknown_fields()
    if not errors or mode == FieldValidation.IGNORE:
        return []
    return errors


__all__ = [
    "DecodeProblems", "FieldValidation", "check_fields", "decode_problems",
    "quantity_error", "strict_decoding_message",
]
