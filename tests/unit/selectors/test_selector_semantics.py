"""Nil and empty selectors, per kind of caller, as upstream treats each."""

from __future__ import annotations

import re

import pytest

from portico.apiserver.errors import StatusError
from portico.apiserver.selectors import parse_label_selector
from portico.controllers._placement import matches_node
from portico.controllers._slices import selected_pods
from portico.model.label_parser import parse_label_selector_text
from portico.model.selectors import (
    SelectorError,
    format_label_selector,
    label_selector_matches,
    selector_from_node_selector_requirements,
    selector_from_set,
    service_selector,
)

WEB = {"app": "web", "tier": "front", "n": "5"}


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    pytest.param(None, WEB, False, id="nil-selects-nothing"),
    pytest.param(None, {}, False, id="nil-selects-nothing-unlabelled"),
    pytest.param({}, WEB, True, id="empty-selects-all"),
    pytest.param({}, None, True, id="empty-selects-unlabelled"),
    pytest.param({"matchLabels": {}, "matchExpressions": []}, WEB, True, id="empty-parts"),
    pytest.param({"matchLabels": {"app": "web"}}, WEB, True, id="match-labels"),
    pytest.param({"matchLabels": {"app": "db"}}, WEB, False, id="match-labels-other"),
    pytest.param({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
                 WEB, True, id="in"),
    pytest.param({"matchExpressions": [{"key": "x", "operator": "In", "values": ["a"]}]},
                 WEB, False, id="in-absent-key"),
    pytest.param({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]},
                 WEB, False, id="notin"),
    pytest.param({"matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["a"]}]},
                 WEB, True, id="notin-absent-key"),
    pytest.param({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, WEB, True,
                 id="exists"),
    pytest.param({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, WEB, False,
                 id="does-not-exist"),
    pytest.param({"matchExpressions": [{"key": "n", "operator": "Gt", "values": ["1"]}]}, WEB,
                 False, id="gt-is-not-a-label-selector-operator"),
    pytest.param({"matchExpressions": [{"key": "app", "operator": "In"}]}, WEB, False,
                 id="invalid-selects-nothing"),
])
def test_label_selector_of_workloads(selector, labels, expected: bool) -> None:
    """Deployment, ReplicaSet, PDB, NetworkPolicy: `LabelSelectorAsSelector`."""
    assert label_selector_matches(selector, labels) is expected


@pytest.mark.parametrize(("selector", "text"), [
    pytest.param(None, "<none>", id="nil"),
    pytest.param({}, "<none>", id="empty"),
    pytest.param({"matchLabels": {"b": "1"}, "matchExpressions": [
        {"key": "a", "operator": "NotIn", "values": ["y", "x"]}]}, "a notin (x,y),b=1",
        id="sorted-by-key"),
    pytest.param({"matchExpressions": [{"key": "a", "operator": "Bad"}]}, "<error>",
                 id="invalid"),
])
def test_format_label_selector(selector, text: str) -> None:
    assert format_label_selector(selector) == text


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    pytest.param(None, WEB, False, id="nil-selects-nothing"),
    pytest.param({}, WEB, False, id="empty-selects-nothing"),
    pytest.param({"app": "web"}, WEB, True, id="subset"),
    pytest.param({"app": "web", "x": "y"}, WEB, False, id="missing-key"),
])
def test_service_selector(selector, labels, expected: bool) -> None:
    assert service_selector(selector).matches(labels) is expected


def _pod(name: str, labels: dict[str, str]) -> dict:
    return {"metadata": {"name": name, "labels": labels},
            "status": {"phase": "Running", "podIP": "10.0.0.1"}}


@pytest.mark.parametrize(("spec", "expected"), [
    pytest.param({}, [], id="no-selector"),
    pytest.param({"selector": {}}, [], id="empty-selector"),
    pytest.param({"selector": {"app": "web"}}, ["a"], id="selector"),
])
def test_service_selects_pods(spec: dict, expected: list[str]) -> None:
    pods = [_pod("a", {"app": "web"}), _pod("b", {"app": "db"})]
    got = selected_pods({"spec": spec}, pods)
    assert [p["metadata"]["name"] for p in got] == expected


@pytest.mark.parametrize(("labels", "expected"), [
    pytest.param(None, True, id="nil-selects-all"),
    pytest.param({}, True, id="empty-selects-all"),
    pytest.param({"app": "web"}, True, id="subset"),
    pytest.param({"app": "db"}, False, id="other"),
])
def test_plain_map_selector(labels, expected: bool) -> None:
    """`labels.SelectorFromSet`, e.g. a Pod's `nodeSelector`."""
    assert selector_from_set(labels).matches(WEB) is expected


@pytest.mark.parametrize(("expressions", "expected"), [
    pytest.param(None, False, id="nil-selects-nothing"),
    pytest.param([], False, id="empty-selects-nothing"),
    pytest.param([{"key": "n", "operator": "Gt", "values": ["4"]}], True, id="gt"),
    pytest.param([{"key": "n", "operator": "Lt", "values": ["4"]}], False, id="lt"),
    pytest.param([{"key": "app", "operator": "In", "values": ["web"]}], True, id="in"),
])
def test_node_selector_requirements(expressions, expected: bool) -> None:
    assert selector_from_node_selector_requirements(expressions).matches(WEB) is expected


def test_node_selector_rejects_label_only_operators() -> None:
    with pytest.raises(SelectorError, match='"Equal" is not a valid node selector operator'):
        selector_from_node_selector_requirements([{"key": "a", "operator": "Equal"}])


def _affinity(*terms: dict) -> dict:
    required = {"nodeSelectorTerms": list(terms)}
    return {"spec": {"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": required}}}}


@pytest.mark.parametrize(("pod", "expected"), [
    pytest.param({"spec": {}}, True, id="no-constraints"),
    pytest.param({"spec": {"nodeSelector": {}}}, True, id="empty-node-selector"),
    pytest.param(_affinity({}), False, id="empty-term-selects-nothing"),
    pytest.param(_affinity({}, {"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}), True,
        id="fields-term"),
    pytest.param(_affinity({"matchExpressions": [
        {"key": "n", "operator": "Gt", "values": ["9"]}]}), False, id="gt-term"),
])
def test_node_affinity_terms(pod: dict, expected: bool) -> None:
    node = {"metadata": {"name": "node-1", "labels": WEB}}
    assert matches_node(pod, node) is expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("", True, id="empty-selects-all"),
    pytest.param("app=web", True, id="equals"),
    pytest.param("app in (db)", False, id="in-other"),
    pytest.param("!app", False, id="does-not-exist"),
])
def test_query_parameter_selector(text: str, expected: bool) -> None:
    """`?labelSelector=`: the same selectors, parsed from text."""
    assert parse_label_selector_text(text).matches(WEB) is expected
    assert parse_label_selector(text).matches(WEB) is expected


def test_query_parameter_selector_error_is_bad_request() -> None:
    message = "found 'b', expected: in, notin, =, ==, !=, gt, lt"
    with pytest.raises(SelectorError, match=re.escape(message)):
        parse_label_selector_text("a b")
    with pytest.raises(StatusError, match=re.escape(message)) as err:
        parse_label_selector("a b")
    assert err.value.code == 400
