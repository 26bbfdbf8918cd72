"""Name, label and metadata validators: exact apimachinery messages."""

from __future__ import annotations

import pytest

from portico.apiserver.resources._meta import (
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    is_valid_port_num,
    validate_object_meta,
    validate_object_meta_update,
)
from portico.model.selectors import format_label_selector, label_selector_matches

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
QNAME_PART = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(("fn", "value", "want"), [
    pytest.param(is_dns1123_subdomain, "web.example", [], id="subdomain-ok"),
    pytest.param(is_dns1123_subdomain, "Web_1", [SUBDOMAIN_MSG], id="subdomain-bad"),
    pytest.param(is_dns1123_label, "a.b", ["must not contain dots"], id="label-dots"),
    pytest.param(is_dns1123_label, "-x", [LABEL_MSG], id="label-bad"),
    pytest.param(is_dns1123_label, "a" * 64, ["must be no more than 63 characters"],
                 id="label-long"),
    pytest.param(is_qualified_name, "app.kubernetes.io/name", [], id="qname-ok"),
    pytest.param(is_qualified_name, "x/-y", ["name part " + QNAME_PART], id="qname-bad-name"),
    pytest.param(is_qualified_name, "/y", ["prefix part must be non-empty"], id="qname-no-prefix"),
    pytest.param(is_valid_label_value, "", [], id="value-empty"),
    pytest.param(is_valid_label_value, "a b", [VALUE_MSG], id="value-bad"),
])
def test_string_validators(fn, value, want) -> None:
    assert fn(value) == want


@pytest.mark.parametrize(("port", "want"), [
    pytest.param(80, [], id="ok"),
    pytest.param(0, ["must be between 1 and 65535, inclusive"], id="zero"),
    pytest.param(70000, ["must be between 1 and 65535, inclusive"], id="big"),
])
def test_port_num(port: int, want: list[str]) -> None:
    assert is_valid_port_num(port) == want


@pytest.mark.parametrize(("obj", "namespaced", "rule", "want"), [
    pytest.param({"metadata": {"name": "web", "namespace": "default"}}, True, "subdomain", [],
                 id="ok"),
    pytest.param({"metadata": {"namespace": "default"}}, True, "subdomain",
                 ["metadata.name: Required value: name or generateName is required"],
                 id="no-name"),
    pytest.param({"metadata": {"name": "Web_1", "namespace": "default"}}, True, "subdomain",
                 [f'metadata.name: Invalid value: "Web_1": {SUBDOMAIN_MSG}'], id="bad-name"),
    pytest.param({"metadata": {"name": "a.b"}}, False, "label",
                 ['metadata.name: Invalid value: "a.b": must not contain dots'], id="ns-dots"),
    pytest.param({"metadata": {"name": "web"}}, True, "subdomain",
                 ["metadata.namespace: Required value"], id="no-namespace"),
    pytest.param({"metadata": {"name": "n", "namespace": "x"}}, False, "subdomain",
                 ["metadata.namespace: Forbidden: not allowed on this type"], id="cluster-ns"),
    pytest.param({"metadata": {"name": "w", "namespace": "d", "labels": {"a": "b c"}}}, True,
                 "subdomain", [f'metadata.labels: Invalid value: "b c": {VALUE_MSG}'],
                 id="bad-label"),
])
def test_validate_object_meta(obj, namespaced: bool, rule: str, want: list[str]) -> None:
    assert [e.message() for e in validate_object_meta(obj, namespaced, rule)] == want


def test_meta_update_immutable() -> None:
    old = {"metadata": {"name": "x", "uid": "1"}}
    new = {"metadata": {"name": "y", "uid": "1"}}
    assert [e.message() for e in validate_object_meta_update(new, old)] == [
        'metadata.name: Invalid value: "y": field is immutable'
    ]


@pytest.mark.parametrize(("selector", "labels", "matches", "text"), [
    pytest.param({"matchLabels": {"app": "web"}}, {"app": "web", "x": "y"}, True, "app=web",
                 id="labels"),
    pytest.param({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]},
                 {"tier": "c"}, False, "tier in (a,b)", id="in"),
    pytest.param({}, {}, True, "<none>", id="empty"),
])
def test_selector(selector, labels, matches: bool, text: str) -> None:
    got = (label_selector_matches(selector, labels), format_label_selector(selector))
    assert got == (matches, text)
