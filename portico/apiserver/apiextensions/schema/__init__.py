"""The CRD schema engine: structural checks, pruning, defaulting and validation, pure.

Schemas are plain dicts exactly as in a CRD's `openAPIV3Schema`. At CRD write time
`structural_errors` gives the upstream errors for a non-structural or badly formed
schema (CEL rules are the `cel` package's). For each custom resource request the
serving code runs `prune` -> `default` -> `validate` (then CEL unless `blocks_cel`),
either through the functions below or through a `CompiledSchema` built once per CRD
version. `openapi_v3`/`openapi_v2` give the schema in its published forms.

Messages, paths and algorithms follow kube-apiserver 1.33: apiextensions-apiserver
`pkg/apiserver/schema/{validation,complete,pruning,defaulting,objectmeta,listtype}`,
`pkg/apis/apiextensions/validation` and kube-openapi `pkg/validation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portico.apiserver.apiextensions.schema._compiled import (
    CompiledSchema,
    blocks_cel,
    default_with,
    prune_with,
    validate_with,
)
from portico.apiserver.apiextensions.schema._crd import structural_errors
from portico.apiserver.apiextensions.schema._node import MISSING, node_for
from portico.apiserver.apiextensions.schema._openapi import openapi_v2, openapi_v3
from portico.apiserver.errors import FieldError


def prune(obj: dict[str, Any], schema: Mapping[str, Any], *,
          is_resource_root: bool = True) -> list[str]:
    """Remove unknown fields in place; return their sorted paths (`spec.ports[0].x`)."""
    return prune_with(node_for(schema), obj, is_resource_root)


def default(obj: dict[str, Any], schema: Mapping[str, Any]) -> None:
    """Drop non-nullable undefaulted nulls, then apply defaults, in place."""
    default_with(node_for(schema), obj)


def validate(obj: Any, schema: Mapping[str, Any], *, path: str = "",
             old: Any = MISSING) -> list[FieldError]:
    """Schema, embedded-resource and list-type errors; with `old`, ratcheted."""
    return validate_with(node_for(schema), obj, path, old)


__all__ = [
    "MISSING",
    "CompiledSchema",
    "blocks_cel",
    "default",
    "openapi_v2",
    "openapi_v3",
    "prune",
    "structural_errors",
    "validate",
]
