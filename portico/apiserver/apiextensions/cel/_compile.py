"""CRD-time compilation of every `x-kubernetes-validations` rule in a schema.

`compile_rules` walks the schema as apiextensions validation does: properties,
`items` and `additionalProperties` (junctors hold no rules of their own here).
Per node it checks each entry's fields, compiles the rules, estimates their cost
times the node's cardinality (how often the rule can run: the product of the
sizes of the lists and maps above it), and checks `oldSelf` placement: a rule
below the items of a list that is not `x-kubernetes-list-type: map`, or below an
`x-kubernetes-map-type: atomic` object, has no correlated old value.

The result is a tree of `RuleNode`s holding only the branches that lead to rules,
so validation never walks data that no rule looks at.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portico.apiserver.apiextensions.cel._cost import (
    PER_RULE_LIMIT,
    PER_SCHEMA_LIMIT,
    cost_error_text,
    estimate,
    max_cardinality,
)
from portico.apiserver.apiextensions.cel._parse import ParseError, parse
from portico.apiserver.apiextensions.cel._rule import Rule, check_entry, compile_entry
from portico.apiserver.apiextensions.cel._values import Shape, variable_type
from portico.apiserver.errors import FieldError, forbidden, invalid

Schema = Mapping[str, Any]
_MOST_EXPENSIVE = 4


@dataclass
class RuleNode:
    """The compiled rules of one schema node and the children that lead to more."""

    schema: Schema
    shape: Shape
    rules: list[Rule] = field(default_factory=list)
    properties: dict[str, RuleNode] = field(default_factory=dict)
    items: RuleNode | None = None
    additional: RuleNode | None = None
    map_keys: tuple[str, ...] = ()  # x-kubernetes-list-map-keys of a map list

    @property
    def schema_type(self) -> str:
        return str(self.schema.get("type", ""))

    def empty(self) -> bool:
        return not self.rules and not self.properties and not self.items and not self.additional


@dataclass
class _Walk:
    errors: list[FieldError] = field(default_factory=list)
    costs: list[tuple[int, str]] = field(default_factory=list)


def _costed(rule: Rule, schema: Schema) -> Rule:
    """The rule with its parsed expressions and the estimated cost of one evaluation."""
    scope: dict[str, Schema | None] = {"self": schema, "oldSelf": schema}
    sources = [str(rule.entry["rule"])]
    if rule.message_program is not None:
        sources.append(rule.message_program.source)
    try:
        trees = tuple(parse(source) for source in sources)
    except ParseError:
        return rule
    cost = sum(estimate(tree, scope) for tree in trees)
    return dataclasses.replace(rule, cost=max(cost, 1), trees=trees)


def _compile_node_rules(schema: Schema, path: str, cardinality: int, forbid_old: str,
                        walk: _Walk, root: bool) -> list[Rule]:
    rules: list[Rule] = []
    entries = schema.get("x-kubernetes-validations") or []
    entry_errors = [e for i, entry in enumerate(entries)
                    for e in check_entry(entry, schema, f"{path}.x-kubernetes-validations[{i}]")]
    if entry_errors:
        walk.errors.extend(entry_errors)
        return rules
    for i, entry in enumerate(entries):
        at = f"{path}.x-kubernetes-validations[{i}]"
        rule, errs = compile_entry(entry, schema, at, variable_type(schema), root)
        if rule is None:
            walk.errors.extend(errs)
            continue
        rule = _costed(rule, schema)
        cost = rule.cost * cardinality
        if cost > PER_RULE_LIMIT:
            walk.errors.append(forbidden(rule.path, cost_error_text(
                "estimated rule cost", cost, PER_RULE_LIMIT)))
        walk.costs.append((cost, rule.path))
        if rule.uses_old_self and forbid_old:
            walk.errors.append(invalid(rule.path, entry["rule"], (
                "oldSelf cannot be used on the uncorrelatable portion of the schema within "
                f"{forbid_old}")))
        elif not rule.uses_old_self and entry.get("optionalOldSelf") is not None:
            walk.errors.append(invalid(f"{at}.optionalOldSelf", entry["optionalOldSelf"],
                                       "may not be set if oldSelf is not used in rule"))
        rules.append(rule)
    return rules


def _build(schema: Schema, path: str, cardinality: int, forbid_old: str, walk: _Walk,
           root: bool = False) -> RuleNode:
    node = RuleNode(schema, Shape(schema, resource_root=root))
    node.rules = _compile_node_rules(schema, path, cardinality, forbid_old, walk, root)
    atomic_map = schema.get("x-kubernetes-map-type") == "atomic"
    for name, child in (schema.get("properties") or {}).items():
        child_forbid = forbid_old or (path if atomic_map else "")
        sub = _build(child, f"{path}.properties[{name}]", cardinality, child_forbid, walk)
        if not sub.empty():
            node.properties[name] = sub
    items = schema.get("items")
    if isinstance(items, Mapping):
        is_map_list = schema.get("x-kubernetes-list-type") == "map"
        item_forbid = forbid_old or ("" if is_map_list else path)
        sub = _build(items, f"{path}.items", cardinality * max_cardinality(schema),
                     item_forbid, walk)
        node.items = None if sub.empty() else sub
        node.map_keys = tuple(schema.get("x-kubernetes-list-map-keys") or ()) if (
            is_map_list) else ()
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        sub = _build(extra, f"{path}.additionalProperties",
                     cardinality * max_cardinality(schema), forbid_old, walk)
        node.additional = None if sub.empty() else sub
    return node


def _total_cost_errors(walk: _Walk, path: str) -> list[FieldError]:
    total = sum(cost for cost, _ in walk.costs)
    if total <= PER_SCHEMA_LIMIT:
        return []
    ranked = sorted(walk.costs, key=lambda c: -c[0])[:_MOST_EXPENSIVE]
    errs = [forbidden(at, "contributed to estimated rule cost total exceeding cost limit for "
                      "entire OpenAPIv3 schema") for cost, at in ranked
            if cost * 100 >= PER_SCHEMA_LIMIT]
    errs.append(forbidden(path, cost_error_text(
        "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema",
        total, PER_SCHEMA_LIMIT)))
    return errs


def compile_tree(schema: Schema, path: str) -> tuple[RuleNode, list[FieldError]]:
    walk = _Walk()
    root = _build(schema, path, 1, "", walk, root=True)
    return root, walk.errors + _total_cost_errors(walk, path)
