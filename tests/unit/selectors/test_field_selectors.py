"""Field selectors: parsing, escaping, matching and unsupported-field messages."""

from __future__ import annotations

import pytest

from portico.apiserver.errors import StatusError
from portico.apiserver.selectors import parse_field_selector

META = {"metadata.name", "metadata.namespace"}
SERVICE = META | {"spec.clusterIP", "spec.type"}
FIELDS = {"metadata.name": "web", "metadata.namespace": "default", "spec.type": "ClusterIP"}


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("", True, id="empty"),
    pytest.param("metadata.name=web", True, id="equals"),
    pytest.param("metadata.name==web", True, id="double-equals"),
    pytest.param("metadata.name=db", False, id="equals-miss"),
    pytest.param("metadata.name!=db", True, id="not-equals"),
    pytest.param("metadata.name=web,spec.type=ClusterIP", True, id="and"),
    pytest.param("metadata.name=web,spec.type=NodePort", False, id="and-miss"),
    pytest.param("spec.clusterIP=", True, id="absent-field-is-empty"),
    pytest.param("spec.clusterIP!=", False, id="absent-field-not-empty"),
    pytest.param("metadata.name=web,,", True, id="empty-terms-skipped"),
])
def test_matches(text: str, expected: bool) -> None:
    assert parse_field_selector(text, SERVICE, "Service", "v1").matches(FIELDS) is expected


@pytest.mark.parametrize(("text", "requirements"), [
    pytest.param("metadata.namespace!=b,metadata.name==a",
                 [("metadata.name", "=", "a"), ("metadata.namespace", "!=", "b")], id="sorted"),
    pytest.param(r"metadata.name=a\,b\=c\\d", [("metadata.name", "=", "a,b=c\\d")],
                 id="escapes"),
    pytest.param(r"metadata.name!=\=a", [("metadata.name", "!=", "=a")], id="not-equals"),
])
def test_requirements(text: str, requirements: list[tuple[str, str, str]]) -> None:
    assert parse_field_selector(text, META, "Service", "v1").requirements() == requirements


@pytest.mark.parametrize(("text", "kind", "version", "message"), [
    pytest.param("spec.foo=bar", "Pod", "v1", "field label not supported: spec.foo",
                 id="registered-kind"),
    pytest.param("spec.foo=bar", "EndpointSlice", "discovery.k8s.io/v1",
                 '"spec.foo" is not a known field selector: only "metadata.name", '
                 '"metadata.namespace"', id="default-conversion"),
    pytest.param("z=1,spec.b=2", "Service", "v1", "field label not supported: spec.b",
                 id="first-sorted-term-reported"),
    pytest.param("a", "Service", "v1", "invalid selector: 'a'; can't understand 'a'",
                 id="no-operator"),
    pytest.param("metadata.name=a,b", "Service", "v1",
                 "invalid selector: 'metadata.name=a,b'; can't understand 'b'", id="bad-term"),
    pytest.param(r"metadata.name=a\x", "Service", "v1",
                 r"invalid field selector: invalid escape sequence: \x", id="bad-escape"),
    pytest.param("metadata.name=a\\", "Service", "v1",
                 "invalid field selector: invalid escape sequence: \\", id="trailing-slash"),
    pytest.param("metadata.name=a=b", "Service", "v1",
                 "invalid field selector: unescaped character in value: 61", id="unescaped"),
    pytest.param("metadata.name!==a", "Service", "v1",
                 "invalid field selector: unescaped character in value: 61", id="not-equals-eq"),
    pytest.param("metadata.name=a,b=c", "Service", "v1",
                 "field label not supported: b", id="unescaped-comma-splits"),
])
def test_invalid(text: str, kind: str, version: str, message: str) -> None:
    with pytest.raises(StatusError) as caught:
        parse_field_selector(text, SERVICE - {"spec.b"}, kind, version)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        400, "BadRequest", message)


def test_string_and_exact_match() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b", META, "Service", "v1")
    assert (str(selector), selector.requires_exact_match("metadata.name")) == (
        r"metadata.name=a\,b", "a,b")
