"""Cost limits at CRD write (10^7 per rule, 10^8 per schema) and the runtime budget."""

from __future__ import annotations

from typing import Any

import pytest

from portico.apiserver.apiextensions.cel import compile_rules
from portico.apiserver.apiextensions.cel._cost import cost_error_text

ROOT = "spec.versions[0].schema.openAPIV3Schema"
HINT = ("(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where "
        "arrays, maps, and strings are declared)")
NESTED = {"rule": "self.all(a, self.all(b, a == b))"}


def list_schema(rules: list[dict[str, Any]], **bounds: int) -> dict[str, Any]:
    items: dict[str, Any] = {"type": "string"}
    if "maxLength" in bounds:
        items["maxLength"] = bounds.pop("maxLength")
    spec = {"type": "array", "items": items, "x-kubernetes-validations": rules, **bounds}
    return {"type": "object", "properties": {"spec": spec}}


@pytest.mark.parametrize(("cost", "want"), [
    pytest.param(25_000_000, "estimated rule cost exceeds budget by factor of 2.5x", id="2.5x"),
    pytest.param(12_000_000, "estimated rule cost exceeds budget by factor of 1.200000x",
                 id="under-1.5x"),
    pytest.param(10**10, "estimated rule cost exceeds budget by factor of more than 100x",
                 id="over-100x"),
])
def test_cost_error_text(cost: int, want: str) -> None:
    assert cost_error_text("estimated rule cost", cost, 10_000_000) == f"{want} {HINT}"


def test_quadratic_rule_over_unbounded_list_is_refused() -> None:
    _, errs = compile_rules(list_schema([NESTED]), ROOT)
    assert [e.message() for e in errs] == [
        f"{ROOT}.properties[spec].x-kubernetes-validations[0].rule: Forbidden: estimated rule "
        f"cost exceeds budget by factor of more than 100x {HINT}",
        f"{ROOT}.properties[spec].x-kubernetes-validations[0].rule: Forbidden: contributed to "
        "estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema",
        f"{ROOT}: Forbidden: x-kubernetes-validations estimated rule cost total for entire "
        f"OpenAPIv3 schema exceeds budget by factor of more than 100x {HINT}",
    ]


def test_bounded_list_makes_the_same_rule_acceptable() -> None:
    _, errs = compile_rules(list_schema([NESTED], maxItems=100, maxLength=64), ROOT)
    assert errs == []


def test_rule_on_items_of_unbounded_list_is_multiplied_by_its_cardinality() -> None:
    items = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}},
             "x-kubernetes-validations": [{"rule": "self.name.contains('a') && "
                                                   "self.name.startsWith('b') && "
                                                   "self.name.endsWith('c')"}]}
    spec = {"type": "array", "items": items}
    _, errs = compile_rules({"type": "object", "properties": {"spec": spec}}, ROOT)
    assert [e.field for e in errs][:1] == [
        f"{ROOT}.properties[spec].items.x-kubernetes-validations[0].rule"]
    spec["maxItems"] = 100
    assert compile_rules({"type": "object", "properties": {"spec": spec}}, ROOT)[1] == []


def test_runtime_budget_stops_validation() -> None:
    """Two rules of up to ~6000 per item fit the CRD limits (6*10^6 each over 1000 items);
    charged for the actual string lengths, short strings cost little, but a full list of
    the longest strings spends more than one object's 10^7: validation stops there."""
    items = {"type": "string", "maxLength": 60_000, "x-kubernetes-validations": [
        {"rule": "!self.contains('a')"}, {"rule": "!self.contains('b')"}]}
    schema = {"type": "object", "properties": {"spec": {
        "type": "array", "maxItems": 1000, "items": items}}}
    rules, errs = compile_rules(schema, ROOT)
    assert errs == []
    assert rules.validate({"spec": ["x"] * 1000}) == ([], [])
    found, _ = rules.validate({"spec": ["x" * 60_000] * 1000})
    assert [e.message() for e in found] == [
        'spec[832]: Invalid value: "string": validation failed due to running out of cost '
        "budget, no further validation rules will be run"]
