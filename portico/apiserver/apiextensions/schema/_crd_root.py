"""The root-keyword rule for CRDs with the status subresource.

Upstream walks the `JSONSchemaProps` struct fields in declaration order and reports the
first non-empty one outside `allowedFieldsAtRootSchema` (or a root type other than
object), so that `properties[status]` alone carries the status validation. The bad
value is the whole schema struct, rendered here as Go prints `apiextensions.JSONSchemaProps`
in short form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portico.apiserver.apiextensions.schema._gofmt import go_text
from portico.apiserver.errors import FieldError, invalid

# JSONSchemaProps fields in declaration order: (Go name, JSON name)
_FIELDS = (
    ("ID", "id"), ("Schema", "$schema"), ("Ref", "$ref"), ("Description", "description"),
    ("Type", "type"), ("Nullable", "nullable"), ("Format", "format"), ("Title", "title"),
    ("Default", "default"), ("Maximum", "maximum"), ("ExclusiveMaximum", "exclusiveMaximum"),
    ("Minimum", "minimum"), ("ExclusiveMinimum", "exclusiveMinimum"),
    ("MaxLength", "maxLength"), ("MinLength", "minLength"), ("Pattern", "pattern"),
    ("MaxItems", "maxItems"), ("MinItems", "minItems"), ("UniqueItems", "uniqueItems"),
    ("MultipleOf", "multipleOf"), ("Enum", "enum"), ("MaxProperties", "maxProperties"),
    ("MinProperties", "minProperties"), ("Required", "required"), ("Items", "items"),
    ("AllOf", "allOf"), ("OneOf", "oneOf"), ("AnyOf", "anyOf"), ("Not", "not"),
    ("Properties", "properties"), ("AdditionalProperties", "additionalProperties"),
    ("PatternProperties", "patternProperties"), ("Dependencies", "dependencies"),
    ("AdditionalItems", "additionalItems"), ("Definitions", "definitions"),
    ("ExternalDocs", "externalDocs"), ("Example", "example"),
    ("XPreserveUnknownFields", "x-kubernetes-preserve-unknown-fields"),
    ("XEmbeddedResource", "x-kubernetes-embedded-resource"),
    ("XIntOrString", "x-kubernetes-int-or-string"),
    ("XListMapKeys", "x-kubernetes-list-map-keys"), ("XListType", "x-kubernetes-list-type"),
    ("XMapType", "x-kubernetes-map-type"), ("XValidations", "x-kubernetes-validations"),
)
_ALLOWED = ("Description", "Type", "Format", "Title", "Maximum", "ExclusiveMaximum", "Minimum",
            "ExclusiveMinimum", "MaxLength", "MinLength", "Pattern", "MaxItems", "MinItems",
            "UniqueItems", "MultipleOf", "Required", "Items", "Properties", "ExternalDocs",
            "Example", "XPreserveUnknownFields", "XValidations")


def _is_zero(value: Any) -> bool:
    """Go's zero value test for the decoded field (nil, false, "", 0)."""
    if value is None or value is False or value == "":
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and value == 0


def status_root_errors(schema: Mapping[str, Any], path: str) -> list[FieldError]:
    for go_name, json_name in _FIELDS:
        if json_name not in schema or _is_zero(schema[json_name]):
            continue
        if go_name == "Type":
            if schema["type"] != "object":
                return [invalid(f"{path}.type", schema["type"], 'only "object" is allowed as '
                                "the type at the root of the schema if the status subresource "
                                "is enabled")]
            continue
        if go_name not in _ALLOWED:
            allowed = "[" + " ".join(_ALLOWED) + "]"
            return [invalid(path, go_text(_struct_text(schema)),
                            f"only {allowed} fields are allowed at the root of the schema if "
                            "the status subresource is enabled")]
    return []


def _struct_text(schema: Mapping[str, Any]) -> str:
    present = [f"{go}:{schema[js]!r}" for go, js in _FIELDS if js in schema]
    return "apiextensions.JSONSchemaProps{" + ", ".join(present) + "}"
