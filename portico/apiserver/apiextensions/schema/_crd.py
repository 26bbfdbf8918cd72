"""`structural_errors`: the CRD-time checks of one version's `openAPIV3Schema` (minus CEL).

In upstream's order (`validateCustomResourceDefinitionValidation`):
1. with the status subresource, the root may only use the keywords of
   `allowedFieldsAtRootSchema` and must be `type: object` (first offence only);
2. the root may not be nullable;
3. the structural rules (`_structural`), and only when they pass, every `default`
   (`ValidateDefaults`): pruned (no unknown fields), valid embedded metadata, and valid
   against its own schema (errors at `...default.<field>`);
4. the keyword rules (`_keywords`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portico.apiserver.apiextensions.schema._crd_root import status_root_errors
from portico.apiserver.apiextensions.schema._default import json_copy
from portico.apiserver.apiextensions.schema._embedded import embedded_errors
from portico.apiserver.apiextensions.schema._gofmt import go_value
from portico.apiserver.apiextensions.schema._keywords import keyword_errors
from portico.apiserver.apiextensions.schema._node import MISSING, Node, compile_node
from portico.apiserver.apiextensions.schema._openapi_validate import OpenAPIValidator
from portico.apiserver.apiextensions.schema._prune import prune_object
from portico.apiserver.apiextensions.schema._structural import key, structural_schema_errors
from portico.apiserver.apiextensions.schema._values import deep_equal
from portico.apiserver.errors import FieldError, forbidden, invalid


def structural_errors(schema: Mapping[str, Any], path: str, *,
                      status_subresource: bool = False) -> list[FieldError]:
    errs: list[FieldError] = []
    if status_subresource:
        errs += status_root_errors(schema, path)
    if schema.get("nullable") is True:
        errs.append(forbidden(f"{path}.nullable", "nullable cannot be true at the root"))
    structural = structural_schema_errors(schema, path)
    errs += structural or default_errors(compile_node(schema), path)
    return errs + keyword_errors(schema, path)


def default_errors(root: Node, path: str) -> list[FieldError]:
    """`ValidateDefaults` with pruned defaults required (every new CRD)."""
    return _defaults(root, path, root, inside_meta=False)


def _defaults(node: Node, path: str, root: Node, inside_meta: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if node.embedded:
        inside_meta = False
    if node.default is not MISSING and not inside_meta:
        errs += _default_value_errors(node, f"{path}.default")
    if node.items is not None:
        errs += _defaults(node.items, f"{path}.items", root, inside_meta)
    for name in sorted(node.properties):
        sub_meta = inside_meta or (node.embedded and name in ("metadata", "apiVersion", "kind"))
        errs += _defaults(node.properties[name], key(f"{path}.properties", name), root, sub_meta)
    return errs


def _default_value_errors(node: Node, path: str) -> list[FieldError]:
    value = node.default
    pruned = json_copy(value)
    prune_object(pruned, node, node.embedded, coerce_meta=False)
    if not deep_equal(pruned, value):
        return [invalid(path, go_value(value), "must not have unknown fields")]
    if errs := embedded_errors(node, value, path):
        return errs
    return OpenAPIValidator(path).run(node, value)
