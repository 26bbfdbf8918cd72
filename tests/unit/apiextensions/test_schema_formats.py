"""The string formats kube enforces on custom resources, and the ones it ignores."""

from __future__ import annotations

import pytest

from portico.apiserver.apiextensions.schema import validate


def errors(fmt: str, value: object, typ: str = "string") -> list[str]:
    schema = {"type": "object", "properties": {"f": {"type": typ, "format": fmt}}}
    return [e.message() for e in validate({"f": value}, schema)]


@pytest.mark.parametrize(("fmt", "good", "bad"), [
    pytest.param("bsonobjectid", "507f1f77bcf86cd799439011", "507f1f77", id="bsonobjectid"),
    pytest.param("uri", "https://example.com/a?b=c", "example.com", id="uri"),
    pytest.param("email", "a@example.com", "not-an-email", id="email"),
    pytest.param("hostname", "www.example.com", "-bad-.com", id="hostname"),
    pytest.param("ipv4", "10.0.0.1", "::1", id="ipv4"),
    pytest.param("ipv6", "fd00::1", "10.0.0.1", id="ipv6"),
    pytest.param("cidr", "10.0.0.0/8", "10.0.0.0", id="cidr"),
    pytest.param("mac", "00:1a:2b:3c:4d:5e", "00:1a:2b", id="mac"),
    pytest.param("uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567", id="uuid"),
    pytest.param("uuid4", "123e4567-e89b-42d3-a456-426614174000",
                 "123e4567-e89b-12d3-a456-426614174000", id="uuid4"),
    pytest.param("isbn10", "0321751043", "0321751044", id="isbn10"),
    pytest.param("isbn13", "978-0321751041", "978-0321751042", id="isbn13"),
    pytest.param("creditcard", "4111 1111 1111 1111", "4111 1111 1111 1112", id="creditcard"),
    pytest.param("ssn", "111-11-1111", "111-111-111", id="ssn"),
    pytest.param("hexcolor", "#ffaa00", "#ffaa0", id="hexcolor"),
    pytest.param("rgbcolor", "rgb(255, 0, 10)", "rgb(256,0,0)", id="rgbcolor"),
    pytest.param("byte", "aGVsbG8=", "hello!", id="byte"),
    pytest.param("date", "2026-02-28", "2026-02-30", id="date"),
    pytest.param("date-time", "2026-12-07T10:53:26.5+01:00", "2026-12-07 10:53", id="date-time"),
    pytest.param("duration", "1h30m", "soon", id="duration"),
])
def test_enforced_formats(fmt: str, good: str, bad: str) -> None:
    assert errors(fmt, good) == []
    assert errors(fmt, bad) == [
        f'f: Invalid value: "{bad}": f in body must be of type {fmt}: "{bad}"']


@pytest.mark.parametrize(("fmt", "value", "typ"), [
    pytest.param("password", "anything", "string", id="password"),
    pytest.param("int32", 2 ** 40, "integer", id="int32"),
    pytest.param("int64", 2 ** 62, "integer", id="int64"),
    pytest.param("float", 1e300, "number", id="float"),
    pytest.param("quantity", "not a quantity", "string", id="quantity"),
    pytest.param("k8s-short-name", "NOT_A_NAME", "string", id="k8s-short-name"),
    pytest.param("url", "::", "string", id="unknown"),
])
def test_formats_not_enforced(fmt: str, value: object, typ: str) -> None:
    assert errors(fmt, value, typ) == []


def test_int32_format_names_the_wrong_type() -> None:
    assert errors("int32", 1.5, "integer") == [
        'f: Invalid value: "float64": f in body must be of type int32: "float64"']
