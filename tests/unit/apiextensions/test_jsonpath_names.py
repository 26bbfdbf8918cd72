"""Pure parts of the CRD serving: printer-column JSONPath, cells, names and conditions,
version order."""

from __future__ import annotations

import datetime

import pytest

from portico.apiserver.apiextensions._jsonpath import compile_path
from portico.apiserver.apiextensions._kinds import cell
from portico.apiserver.apiextensions._names import names_condition, next_status
from portico.apiserver.apiextensions._validation import protected, validate_names
from portico.model.kinds import version_priority

NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)
OBJ = {"metadata": {"labels": {"app.kubernetes.io/name": "web"}},
       "spec": {"hostnames": ["a", "b"], "replicas": 3},
       "status": {"conditions": [{"type": "Accepted", "status": "True"},
                                 {"type": "Programmed", "status": "False"}],
                  "addresses": [{"value": "10.0.0.1"}, {"value": "10.0.0.2"}]}}


@pytest.mark.parametrize(("path", "found"), [
    (".spec.replicas", [3]),
    (".spec.hostnames", [["a", "b"]]),
    (".spec.hostnames[1]", ["b"]),
    (".status.addresses[*].value", ["10.0.0.1", "10.0.0.2"]),
    ('.status.conditions[?(@.type=="Programmed")].status', ["False"]),
    (".metadata.labels['app.kubernetes.io/name']", ["web"]),
    ("{.spec.missing}", []),
])
def test_paths(path: str, found: list) -> None:
    assert compile_path(path).find(OBJ) == found


@pytest.mark.parametrize("path", ["spec.replicas", ".spec[", ".status.x[?(@.a > 1)]"])
def test_bad_paths(path: str) -> None:
    with pytest.raises(SyntaxError):
        compile_path(path)


def test_cells_by_type() -> None:
    assert cell("string", [["a", "b"]], NOW) == '["a","b"]'
    assert cell("integer", [3.0], NOW) == 3
    assert cell("boolean", ["yes"], NOW) is None
    assert cell("date", ["2026-01-01T11:55:00Z"], NOW) == "5m"
    assert cell("string", [], NOW) is None


def test_name_conflicts_in_order() -> None:
    taken = [{"status": {"acceptedNames": {"plural": "foos", "singular": "foo", "kind": "Foo",
                                           "listKind": "FooList", "shortNames": ["f"]}}}]
    assert names_condition({"plural": "foos", "kind": "Bar"}, taken) == (
        "False", "PluralConflict", '"foos" is already in use')
    assert names_condition({"plural": "bars", "shortNames": ["f"], "kind": "Bar"}, taken)[1] \
        == "ShortNamesConflict"
    assert names_condition({"plural": "bars", "kind": "Bar", "listKind": "FooList"},
                           taken)[1] == "ListKindConflict"
    assert names_condition({"plural": "bars", "kind": "Bar"}, taken)[0] == "True"


def test_established_stays_after_a_later_conflict() -> None:
    crd = {"metadata": {}, "spec": {"group": "x.io", "names": {"plural": "bars",
                                                               "kind": "Bar"}}}
    first = next_status(crd, [], "t1")
    assert [c["type"] for c in first["conditions"]] == ["NamesAccepted", "Established"]
    crd["status"] = first
    crd["spec"]["names"] = {"plural": "foos", "kind": "Bar"}
    taken = [{"status": {"acceptedNames": {"plural": "foos", "kind": "Foo"}}}]
    later = next_status(crd, taken, "t2")
    conditions = {c["type"]: c for c in later["conditions"]}
    assert conditions["NamesAccepted"]["status"] == "False"
    assert conditions["Established"]["status"] == "True"
    assert conditions["Established"]["lastTransitionTime"] == "t1"
    assert later["acceptedNames"]["plural"] == "bars"


def test_names_validation_and_protected_groups() -> None:
    errs = validate_names({"plural": "Foos", "kind": "Foo", "listKind": "Foo"}, "spec.names")
    assert [e.field for e in errs] == ["spec.names.plural", "spec.names.listKind"]
    assert protected("gateway.networking.k8s.io") and protected("kubernetes.io")
    assert not protected("example.com")


def test_version_order() -> None:
    versions = ["v1alpha1", "foo", "v1", "v2beta1", "v1beta2", "v2", "v1beta1"]
    assert sorted(versions, key=version_priority) == [
        "v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "foo"]


def test_conversion_rules() -> None:
    from portico.apiserver.apiextensions._validation import _conversion

    assert _conversion({"strategy": "None"}) == []
    assert [e.message() for e in _conversion({"strategy": "Webhook"})] == [
        "spec.conversion.webhook: Required value: required when strategy is set to Webhook"]
    reviews = _conversion({"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v2"]}})
    assert reviews[0].field == "spec.conversion.webhook.conversionReviewVersions"
