"""`CompiledSchema`: one CRD version's schema, compiled once, with the request-time steps.

The serving code builds one per served version and calls, in kube's order,
`prune` (returns unknown-field paths), `default` (drops nulls, applies defaults) and
`validate` (schema, embedded resources, list-type uniqueness). The module-level
functions of this package do the same for a raw schema dict, compiling it on first use.

Validation with `old` (an update) ratchets: schema errors on values unchanged from
their correlated old value are dropped, and list-type uniqueness is only enforced when
the old object had no duplicates, as kube-apiserver does since 1.33.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portico.apiserver.apiextensions.schema._default import apply_defaults, prune_nulls
from portico.apiserver.apiextensions.schema._embedded import embedded_errors
from portico.apiserver.apiextensions.schema._listtype import list_errors
from portico.apiserver.apiextensions.schema._node import MISSING, Node, compile_node
from portico.apiserver.apiextensions.schema._openapi_validate import OpenAPIValidator
from portico.apiserver.apiextensions.schema._prune import prune_object
from portico.apiserver.errors import ErrorType, FieldError

_CEL_BLOCKERS = frozenset((ErrorType.NOT_SUPPORTED, ErrorType.REQUIRED, ErrorType.TOO_LONG,
                           ErrorType.TOO_MANY, ErrorType.TYPE_INVALID))


def blocks_cel(errors: list[FieldError]) -> bool:
    """Whether CEL rules must be skipped because of these schema errors."""
    return any(e.type in _CEL_BLOCKERS for e in errors)


def prune_with(node: Node, obj: dict[str, Any], is_resource_root: bool) -> list[str]:
    return prune_object(obj, node, is_resource_root)


def default_with(node: Node, obj: Any) -> None:
    prune_nulls(obj, node)
    if node.has_defaults:
        apply_defaults(obj, node)


def validate_with(node: Node, obj: Any, path: str, old: Any) -> list[FieldError]:
    errs = OpenAPIValidator(path).run(node, obj, old)
    errs += embedded_errors(node, obj, path)
    if node.has_list_checks and (old is MISSING or not list_errors(node, old, path)):
        errs += list_errors(node, obj, path)
    return errs


class CompiledSchema:
    """A CRD version's `openAPIV3Schema`, compiled once for every request's steps."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self.root = compile_node(schema)

    @property
    def has_defaults(self) -> bool:
        return self.root.has_defaults

    def property(self, name: str) -> CompiledSchema | None:
        """The compiled schema of one root property (e.g. `status` for `/status`)."""
        sub = self.schema.get("properties", {}).get(name)
        return CompiledSchema(sub) if isinstance(sub, Mapping) else None

    def prune(self, obj: dict[str, Any], *, is_resource_root: bool = True) -> list[str]:
        return prune_with(self.root, obj, is_resource_root)

    def default(self, obj: dict[str, Any]) -> None:
        default_with(self.root, obj)

    def validate(self, obj: Any, *, path: str = "", old: Any = MISSING) -> list[FieldError]:
        return validate_with(self.root, obj, path, old)
