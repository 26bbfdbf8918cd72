"""Status bodies byte for byte as kube-apiserver writes them.

The expected bodies are real kube-apiserver answers captured by users (kubectl -v=8
and the Python client print them with their Content-Length): compact JSON in the
field order of metav1.Status, empty fields left out, and the newline Go's
`json.Encoder` ends every document with (Content-Length = body + 1).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from portico.apiserver import errors
from portico.apiserver._bodies import status_json

SVCS = "/api/v1/namespaces/default/services"
CMS = "/api/v1/namespaces/default/configmaps"

# kubectl -v=8, "Content-Length: 200" (199 bytes shown + the newline)
NOT_FOUND = (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
             b'"services \\"ktrack-mysql\\" not found","reason":"NotFound","details":{"name":'
             b'"ktrack-mysql","kind":"services"},"code":404}\n')
# the Python client's ApiException, "Content-Length: 264"
ALREADY_EXISTS = (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                  b'"message":"services \\"heda67549c751ee5663beab4873afe403---ssh\\" already '
                  b'exists","reason":"AlreadyExists","details":{"name":'
                  b'"heda67549c751ee5663beab4873afe403---ssh","kind":"services"},"code":409}\n')


async def raw(api: Any, method: str, path: str, body: Any = None) -> tuple[int, bytes, str]:
    data = orjson.dumps(body) if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    async with api.session.request(method, api.base + path, data=data,
                                   headers=headers) as resp:
        return resp.status, await resp.read(), resp.headers.get("Content-Length", "")


def service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"ports": [{"port": 80}]}}


async def test_not_found_is_upstreams_body(api: Any) -> None:
    status, body, length = await raw(api, "GET", f"{SVCS}/ktrack-mysql")
    assert (status, body, length) == (404, NOT_FOUND, "200")


async def test_already_exists_is_upstreams_body(api: Any) -> None:
    name = "heda67549c751ee5663beab4873afe403---ssh"
    assert (await raw(api, "POST", SVCS, service(name)))[0] == 201
    status, body, length = await raw(api, "POST", SVCS, service(name))
    assert (status, body, length) == (409, ALREADY_EXISTS, "264")


async def test_invalid_puts_details_before_code(api: Any) -> None:
    status, body, _ = await raw(api, "POST", SVCS, {**service("x"), "spec": {"ports": [
        {"port": 80}], "clusterIP": "10.1.0.5"}})
    assert status == 422
    assert body == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
        b'"Service \\"x\\" is invalid: spec.clusterIPs: Invalid value: []string{\\"10.1.0.5\\"}'
        b': failed to allocate IP 10.1.0.5: the provided IP (10.1.0.5) is not in the valid '
        b'range. The range of valid IPs is 10.0.0.0/16","reason":"Invalid","details":{"name":'
        b'"x","kind":"Service","causes":[{"reason":"FieldValueInvalid","message":"Invalid '
        b'value: []string{\\"10.1.0.5\\"}: failed to allocate IP 10.1.0.5: the provided IP '
        b'(10.1.0.5) is not in the valid range. The range of valid IPs is 10.0.0.0/16",'
        b'"field":"spec.clusterIPs"}]},"code":422}\n')


async def test_delete_success_leaves_out_the_empty_group(api: Any) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    created = orjson.loads((await raw(api, "POST", CMS, cm))[1])
    status, body, _ = await raw(api, "DELETE", f"{CMS}/c")
    uid = created["metadata"]["uid"]
    assert (status, body) == (200, (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":'
        f'{{"name":"c","kind":"configmaps","uid":"{uid}"}}}}\n').encode())


async def test_objects_end_with_a_newline(api: Any) -> None:
    status, body, _ = await raw(api, "GET", "/api/v1/namespaces/default")
    assert status == 200 and body.endswith(b"}\n") and body.count(b"\n") == 1


@pytest.mark.parametrize(("message", "expected"), [
    pytest.param("a <nil> & b", b'"a \\u003cnil\\u003e \\u0026 b"', id="html"),
    pytest.param("line\u2028para\u2029", b'"line\\u2028para\\u2029"', id="separators"),
    pytest.param("caf\u00e9", '"caf\u00e9"'.encode(), id="utf8-kept"),
])
def test_status_json_escapes_as_go(message: str, expected: bytes) -> None:
    body = status_json(errors.bad_request(message).status())
    assert body == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                    b'"message":' + expected + b',"reason":"BadRequest","code":400}\n')
