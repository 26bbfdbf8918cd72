"""Compiled CEL rules, shared between CRD validation and serving.

Compiling the `x-kubernetes-validations` of a large CRD (Gateway API's HTTPRoute
has hundreds of rules) is the costliest step of writing it, and kube-apiserver
does it once per CRD version. Here the CRD's validation compiles a version's
schema (errors at its field path) and serving reuses those rules: both look them
up by the schema's canonical JSON, so re-applying an unchanged CRD and serving
it compile nothing. The cache is bounded; a miss (after a restart) compiles.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import orjson

from portico.apiserver.errors import FieldError

CAPACITY = 256
_BY_PATH: OrderedDict[tuple[bytes, str], tuple[Any, list[FieldError]]] = OrderedDict()
_BY_SCHEMA: OrderedDict[bytes, Any] = OrderedDict()


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > CAPACITY:
        cache.popitem(last=False)


def compiled(schema: Mapping[str, Any], path: str) -> tuple[Any, list[FieldError]]:
    """`cel.compile_rules(schema, path)`, memoized: (CompiledRules, CRD-time errors)."""
    from portico.apiserver.apiextensions.cel import compile_rules  # noqa: PLC0415 (first use: kept off start-up)

    key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    found = _BY_PATH.get((key, path))
    if found is None:
        rules, errors = compile_rules(schema, path)
        found = (rules, list(errors))
        _remember(_BY_PATH, (key, path), found)
        if not errors:
            _remember(_BY_SCHEMA, key, rules)
    return found[0], list(found[1])


def rules_for(schema: Mapping[str, Any]) -> Any:
    """The compiled rules of a served version's schema (compiled by its CRD's validation,
    or now)."""
    key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    rules = _BY_SCHEMA.get(key)
    return rules if rules is not None else compiled(schema, "")[0]
