"""Continue tokens: upstream wire format, round trips and exact rejection messages."""

from __future__ import annotations

import base64

import pytest

from portico.apiserver.errors import StatusError
from portico.apiserver.paging import (
    EXPIRED_CONTINUE_MESSAGE,
    decode_continue,
    encode_continue,
    expired_continue,
)

PREFIX = "invalid continue token: continue key is not valid"


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(("key", "revision", "wire"), [
    pytest.param("default/web", 107,
                 '{"v":"meta.k8s.io/v1","rv":107,"start":"default/web\\u0000"}', id="plain"),
    pytest.param("a<b>&\"c", 5,
                 '{"v":"meta.k8s.io/v1","rv":5,"start":"a\\u003cb\\u003e\\u0026\\"c\\u0000"}',
                 id="go-html-escapes"),
])
def test_encode_wire_format(key: str, revision: int, wire: str) -> None:
    token = encode_continue(key, revision)
    assert (token, "=" in token) == (b64(wire), False)


@pytest.mark.parametrize(("key", "revision"), [
    pytest.param("default/web", 107, id="namespaced"),
    pytest.param("node-1", 3, id="cluster-scoped"),
])
def test_round_trip(key: str, revision: int) -> None:
    assert decode_continue(encode_continue(key, revision)) == (key + "\x00", revision)


@pytest.mark.parametrize(("token", "result"), [
    pytest.param(b64('{"v":"meta.k8s.io/v1","rv":-1,"start":"/a/b"}'), ("a/b", -1),
                 id="rooted-latest"),
    pytest.param(b64('{"V":"meta.k8s.io/v1","RV":9,"Start":"a","x":1}'), ("a", 9),
                 id="case-insensitive-keys"),
])
def test_decode(token: str, result: tuple[str, int]) -> None:
    assert decode_continue(token) == result


@pytest.mark.parametrize(("token", "message"), [
    pytest.param("abc!", f"{PREFIX}: illegal base64 data at input byte 3", id="bad-char"),
    pytest.param("abcde", f"{PREFIX}: illegal base64 data at input byte 4", id="bad-length"),
    pytest.param("bnVsbA==", f"{PREFIX}: illegal base64 data at input byte 6", id="padded"),
    pytest.param(b64("xyz"), f"{PREFIX}: invalid character 'x' looking for beginning of value",
                 id="not-json"),
    pytest.param(b64('{"v":'), f"{PREFIX}: unexpected end of JSON input", id="truncated"),
    pytest.param(b64("[1]"), f"{PREFIX}: json: cannot unmarshal array into Go value of type "
                 "storage.continueToken", id="array"),
    pytest.param(b64('{"v":"meta.k8s.io/v1","rv":"1","start":"a"}'),
                 f"{PREFIX}: json: cannot unmarshal string into Go struct field "
                 "continueToken.rv of type int64", id="rv-string"),
    pytest.param(b64('{"v":"meta.k8s.io/v1","rv":1.5,"start":"a"}'),
                 f"{PREFIX}: json: cannot unmarshal number 1.5 into Go struct field "
                 "continueToken.rv of type int64", id="rv-float"),
    pytest.param(b64("null"), f"{PREFIX}: server does not recognize this encoded version ",
                 id="null"),
    pytest.param(b64('{"v":"x","rv":1,"start":"a"}'),
                 f"{PREFIX}: server does not recognize this encoded version x", id="version"),
    pytest.param(b64('{"v":"meta.k8s.io/v1","rv":0,"start":"a"}'),
                 f"{PREFIX}: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
                 id="zero-rv"),
    pytest.param(b64('{"v":"meta.k8s.io/v1","rv":1,"start":""}'),
                 f"{PREFIX}: encoded start key empty (version meta.k8s.io/v1)", id="empty-key"),
    pytest.param(b64('{"v":"meta.k8s.io/v1","rv":1,"start":"../x"}'), f"{PREFIX}: ../x",
                 id="path-traversal"),
    pytest.param(b64('{"v":"meta.k8s.io/v1","rv":1,"start":"a//b"}'), f"{PREFIX}: a//b",
                 id="unclean-path"),
])
def test_decode_invalid(token: str, message: str) -> None:
    with pytest.raises(StatusError) as caught:
        decode_continue(token)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        400, "BadRequest", message)


def test_resource_version_with_continue() -> None:
    with pytest.raises(StatusError) as caught:
        decode_continue(encode_continue("a", 4), resource_version="4")
    assert caught.value.message == (
        "specifying resource version is not allowed when using continue")


def test_expired_carries_latest_token() -> None:
    status = expired_continue("default/web\x00").status()
    assert (status["code"], status["reason"], status["message"]) == (
        410, "Expired", EXPIRED_CONTINUE_MESSAGE)
    assert decode_continue(status["metadata"]["continue"]) == ("default/web\x00", -1)
