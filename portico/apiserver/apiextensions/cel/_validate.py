"""Evaluating compiled rules on a custom resource (`AE:pkg/apiserver/schema/cel/validation.go`).

The walk follows the `RuleNode` tree over the new object, carrying the
correlated old value: by property name, by map key, and by the
`x-kubernetes-list-map-keys` of map lists (items of other lists have none).
At each non-null node every rule runs with `self` (and `oldSelf`); a rule using
`oldSelf` runs only where an old value correlates, unless `optionalOldSelf` is
set (then `oldSelf` is an optional, `optional.none()` on create).

A failed rule becomes a field error at the node's path (plus its `fieldPath`)
with the node's schema type as value and `message`, the evaluated
`messageExpression`, or `failed rule: <rule>` as detail, typed by `reason`.
Ratcheting: on update, a failure of a rule that does not use `oldSelf`, on a
value equal to its correlated old value (for an item of a list that does not
correlate its items: the list equal to the old list), is a warning instead.

Cost: every evaluation is charged against the per-object budget of 10^7: its
static estimate, or for a costly rule the same estimate made with the sizes of
the actual value (`_cost.runtime_cost`); past the budget, validation stops with
kube's out-of-budget error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portico.apiserver.apiextensions.cel._compile import RuleNode
from portico.apiserver.apiextensions.cel._cost import runtime_cost
from portico.apiserver.apiextensions.cel._env import Program
from portico.apiserver.apiextensions.cel._rule import OLD_PRESENT, OLD_VALUE, Rule
from portico.apiserver.apiextensions.cel._values import convert_self
from portico.apiserver.errors import ErrorType, FieldError

RUNTIME_BUDGET = 10_000_000
RECOST_ABOVE = 1000  # costlier evaluations can be re-estimated for their actual value
_OUT_OF_BUDGET = ("validation failed due to running out of cost budget, no further validation "
                  "rules will be run")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING_OLD"


MISSING_OLD: Any = _Missing()


class _OutOfBudget(Exception):
    pass


_Pending = tuple[tuple[Any, ...], Any, Any, Any, int]  # trees, schema, new, old, charged


@dataclass
class _Run:
    budget: int = RUNTIME_BUDGET
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # costly evaluations charged their static estimate, refundable down to their actual one
    pending: list[_Pending] = field(default_factory=list)

    def charge(self, rule: Rule, schema: Any, new: Any, old: Any) -> bool:
        """Spend a rule's cost; False when the budget cannot pay for it. Static estimates
        are charged first; only when they exhaust the budget are costly evaluations
        re-estimated for their actual values (`_cost.runtime_cost`)."""
        cost = rule.cost
        if cost > self.budget:
            self._refund()
            if cost > self.budget and rule.trees:
                cost = min(cost, runtime_cost(rule.trees, schema, (new, old)))
            if cost > self.budget:
                return False
        elif cost > RECOST_ABOVE and rule.trees:
            self.pending.append((rule.trees, schema, new, old, cost))
        self.budget -= cost
        return True

    def _refund(self) -> None:
        for trees, schema, new, old, charged in self.pending:
            self.budget += charged - min(charged, runtime_cost(trees, schema, (new, old)))
        self.pending.clear()


class _Bindings:
    """One node's variables, bound once per environment the node's programs use."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.activations: dict[tuple[tuple[str, str], ...], Any] = {}

    def get(self, program: Program) -> Any:
        activation = self.activations.get(program.variables)
        if activation is None:
            names = {name for name, _ in program.variables}
            activation = program.activation({k: v for k, v in self.data.items() if k in names})
            self.activations[program.variables] = activation
        return activation


def _display(path: str) -> str:
    return path or "<nil>"


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _join(path: str, suffix: str) -> str:
    """`path` followed by a relative field path (`a.b`, `[key]`, or nothing)."""
    if not suffix or suffix.startswith("["):
        return path + suffix
    return _child(path, suffix)


def _error(rule: Rule, path: str, schema_type: str, detail: str) -> FieldError:
    """`fieldErrorForReason`."""
    where = _display(_join(path, rule.field_path))
    match rule.reason:
        case "FieldValueForbidden":
            return FieldError(ErrorType.FORBIDDEN, where, detail=detail)
        case "FieldValueRequired":
            return FieldError(ErrorType.REQUIRED, where, detail=detail)
        case "FieldValueDuplicate":
            return FieldError(ErrorType.DUPLICATE, where, schema_type)
        case _:
            return FieldError(ErrorType.INVALID, where, schema_type, detail)


def _message(rule: Rule, bound: _Bindings) -> str:
    if rule.message_program is None:
        return rule.default_message
    value, err = rule.message_program.run(bound.get(rule.message_program))
    if err or not isinstance(value, str) or not value.strip() or "\n" in value:
        return rule.default_message
    return value


def _evaluate(node: RuleNode, new: Any, old: Any, path: str, unchanged: Callable[[], bool],
              run: _Run) -> None:
    self_value = convert_self(node.shape, node.schema, new)
    has_old = old is not MISSING_OLD and old is not None
    old_value = convert_self(node.shape, node.schema, old) if has_old else None
    bound = _Bindings({"self": self_value, "oldSelf": old_value, OLD_VALUE: old_value,
                       OLD_PRESENT: has_old})
    for rule in node.rules:
        if rule.uses_old_self and not has_old and not rule.optional_old_self:
            continue
        if not run.charge(rule, node.schema, new, old if has_old else None):
            run.errors.append(FieldError(ErrorType.INVALID, _display(path), node.schema_type,
                                         _OUT_OF_BUDGET))
            raise _OutOfBudget
        result, err = rule.program.run(bound.get(rule.program))
        if err:
            run.errors.append(FieldError(ErrorType.INVALID, _display(path), node.schema_type,
                                         _runtime_detail(err, rule)))
            continue
        if result is True:
            continue
        failure = _error(rule, path, node.schema_type, _message(rule, bound))
        if not rule.uses_old_self and unchanged():
            run.warnings.append(failure.message())
        else:
            run.errors.append(failure)


def _runtime_detail(err: str, rule: Rule) -> str:
    if err.startswith("no such overload"):
        return (f"'{err}': call arguments did not match a supported operator, function or "
                f"macro signature for rule: {rule.error_string}")
    return f"{err} evaluating rule: {rule.error_string}"


def _correlate_item(node: RuleNode, item: Any, old: Any) -> Any:
    if not node.map_keys or not isinstance(old, list) or not isinstance(item, dict):
        return MISSING_OLD
    key = tuple(item.get(k) for k in node.map_keys)
    for candidate in old:
        if isinstance(candidate, dict) and tuple(candidate.get(k) for k in node.map_keys) == key:
            return candidate
    return MISSING_OLD


Unchanged = Callable[[], bool]


def _unchanged(new: Any, old: Any) -> Unchanged:
    """Whether a correlated value equals its old one (computed only when a rule fails)."""
    return lambda: old is not MISSING_OLD and new == old


def walk(node: RuleNode, new: Any, old: Any, path: str, unchanged: Unchanged,
         run: _Run) -> None:
    """Evaluate the rules of `node` and below; `unchanged` tells whether the nearest
    correlated value (this one, or the list an uncorrelated item is in) is as before."""
    if new is None:
        return
    if node.rules:
        _evaluate(node, new, old, path, unchanged, run)
    old_map = old if isinstance(old, dict) else {}
    if isinstance(new, dict):
        for name, child in node.properties.items():
            if name in new:
                old_child = old_map.get(name, MISSING_OLD)
                walk(child, new[name], old_child, _child(path, name),
                     _unchanged(new[name], old_child), run)
        if node.additional is not None:
            for key, value in new.items():
                old_value = old_map.get(key, MISSING_OLD)
                walk(node.additional, value, old_value, f"{path}[{key}]",
                     _unchanged(value, old_value), run)
    if isinstance(new, list) and node.items is not None:
        for index, item in enumerate(new):
            old_item = _correlate_item(node, item, old)
            item_unchanged = unchanged if old_item is MISSING_OLD else _unchanged(item, old_item)
            walk(node.items, item, old_item, f"{path}[{index}]", item_unchanged, run)


def validate_tree(root: RuleNode, new: Any, old: Any) -> tuple[list[FieldError], list[str]]:
    run = _Run()
    with contextlib.suppress(_OutOfBudget):
        walk(root, new, old, "", _unchanged(new, old), run)
    return run.errors, run.warnings
