"""Decode hand-encoded Kubernetes protobuf bodies shaped like kubectl's, compare exact dicts.

The tiny encoder below writes what gogo-protobuf writes: every non-pointer
scalar (even "" and 0), every non-pointer struct (even empty), and pointer
fields only when set.
"""

from __future__ import annotations

from typing import Any

import pytest

from portico.apiserver.errors import StatusError
from portico.apiserver.protobuf import PROTOBUF_CONTENT_TYPE, decode
from portico.apiserver.protobuf._wire import encode_varint as varint


def num(field: int, value: int | bool) -> bytes:
    return varint(field << 3) + varint(int(value))


def raw(field: int, data: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(data)) + data


def text(field: int, value: str) -> bytes:
    return raw(field, value.encode())


def msg(field: int, *parts: bytes) -> bytes:
    return raw(field, b"".join(parts))


def entry(field: int, key: str, value: bytes) -> bytes:
    return msg(field, text(1, key), raw(2, value))


def body(api_version: str, kind: str, obj: bytes) -> bytes:
    type_meta = msg(1, text(1, api_version), text(2, kind))
    return b"k8s\x00" + type_meta + raw(2, obj) + text(3, "") + text(4, "")


def object_meta(field: int, name: str, labels: dict[str, str], *extra: bytes) -> bytes:
    """ObjectMeta as gogo writes it: all value fields, zero Time as an empty message."""
    return msg(
        field,
        text(1, name),
        text(2, ""),
        text(3, ""),
        text(4, ""),
        text(5, ""),
        text(6, ""),
        num(7, 0),
        msg(8),
        *(entry(11, k, v.encode()) for k, v in labels.items()),
        *extra,
    )


def int_or_string(field: int, value: int | str) -> bytes:
    if isinstance(value, int):
        return msg(field, num(1, 0), num(2, value), text(3, ""))
    return msg(field, num(1, 1), num(2, 0), text(3, value))


SERVICE_NODEPORT = body(
    "v1",
    "Service",
    object_meta(1, "web", {"app": "web"})
    + msg(
        2,
        msg(
            1,
            text(1, "80-8080"),
            text(2, "TCP"),
            num(3, 80),
            int_or_string(4, 8080),
            num(5, 30080),
        ),
        entry(2, "app", b"web"),
        text(3, ""),
        text(4, "NodePort"),
        text(7, ""),
        text(8, ""),
        text(10, ""),
        text(11, ""),
        num(12, 0),
        num(13, False),
    )
    + msg(3, msg(1)),
)

CONTAINER_ZEROES = (
    text(5, ""),
    text(13, ""),
    text(14, ""),
    num(16, False),
    num(17, False),
    num(18, False),
    text(20, ""),
)
POD_SPEC_ZEROES = (
    text(3, ""),
    text(6, ""),
    text(8, ""),
    text(9, ""),
    text(10, ""),
    num(11, False),
    num(12, False),
    num(13, False),
    text(16, ""),
    text(17, ""),
    text(19, ""),
    text(24, ""),
)

DEPLOYMENT = body(
    "apps/v1",
    "Deployment",
    object_meta(1, "web", {"app": "web"})
    + msg(
        2,
        num(1, 3),
        msg(2, entry(1, "app", b"web")),
        msg(
            3,
            object_meta(1, "", {"app": "web"}),
            msg(
                2,
                msg(
                    2,
                    text(1, "nginx"),
                    text(2, "nginx"),
                    text(3, "sleep"),
                    text(3, "1"),
                    msg(6, text(1, ""), num(2, 0), num(3, 80), text(4, ""), text(5, "")),
                    msg(8),
                    *CONTAINER_ZEROES,
                ),
                *POD_SPEC_ZEROES,
            ),
        ),
        msg(4, text(1, "")),
        num(5, 0),
        num(7, False),
    )
    + msg(3, num(1, 0), num(2, 0), num(3, 0), num(4, 0), num(5, 0), num(7, 0)),
)

NAMESPACE = body("v1", "Namespace", object_meta(1, "shop", {}) + msg(2) + msg(3, text(1, "")))

SECRET = body("v1", "Secret", object_meta(1, "s", {}) + entry(2, "a", b"b") + text(3, ""))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            SERVICE_NODEPORT,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}},
                "spec": {
                    "ports": [
                        {
                            "name": "80-8080",
                            "protocol": "TCP",
                            "port": 80,
                            "targetPort": 8080,
                            "nodePort": 30080,
                        }
                    ],
                    "selector": {"app": "web"},
                    "type": "NodePort",
                },
                "status": {"loadBalancer": {}},
            },
            id="create-service-nodeport",
        ),
        pytest.param(
            DEPLOYMENT,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}},
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "nginx",
                                    "image": "nginx",
                                    "command": ["sleep", "1"],
                                    "ports": [{"containerPort": 80}],
                                    "resources": {},
                                }
                            ]
                        },
                    },
                    "strategy": {},
                },
                "status": {},
            },
            id="create-deployment",
        ),
        pytest.param(
            NAMESPACE,
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "shop", "creationTimestamp": None},
                "spec": {},
                "status": {},
            },
            id="create-namespace",
        ),
        pytest.param(
            SECRET,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "s", "creationTimestamp": None},
                "data": {"a": "Yg=="},
            },
            id="create-secret-generic",
        ),
    ],
)
def test_kubectl_generators(data: bytes, expected: dict[str, Any]) -> None:
    assert decode(data) == expected


def _pod(spec: bytes, *meta: bytes) -> dict[str, Any]:
    decoded = decode(body("v1", "Pod", object_meta(1, "p", {}, *meta) + msg(2, spec)))
    return {"metadata": decoded["metadata"], "spec": decoded["spec"]}


@pytest.mark.parametrize(
    ("spec", "meta", "expected_spec", "expected_meta"),
    [
        pytest.param(
            num(21, False) + num(4, 0) + num(11, False),
            (),
            {"automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0},
            {"name": "p", "creationTimestamp": None},
            id="pointer-zero-kept-value-zero-dropped",
        ),
        pytest.param(
            msg(14, num(2, -1), raw(4, varint(1) + varint(2) + varint(3))),
            (),
            {"securityContext": {"runAsUser": -1, "supplementalGroups": [1, 2, 3]}},
            {"name": "p", "creationTimestamp": None},
            id="negative-int64-and-packed-repeated",
        ),
        pytest.param(
            msg(1, text(1, "cfg"), msg(2, msg(19, msg(1, text(1, "app-config")), num(3, 420)))),
            (),
            {"volumes": [{"name": "cfg", "configMap": {"name": "app-config", "defaultMode": 420}}]},
            {"name": "p", "creationTimestamp": None},
            id="inline-volume-source-and-local-object-reference",
        ),
        pytest.param(
            msg(
                2,
                text(1, "c"),
                msg(11, msg(1, msg(2, text(1, "/healthz"), int_or_string(2, "http"))), num(4, 5)),
                msg(8, entry(1, "cpu", text(1, "500m")), entry(2, "memory", b"")),
            ),
            (),
            {
                "containers": [
                    {
                        "name": "c",
                        "readinessProbe": {
                            "httpGet": {"path": "/healthz", "port": "http"},
                            "periodSeconds": 5,
                        },
                        "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "0"}},
                    }
                ]
            },
            {"name": "p", "creationTimestamp": None},
            id="inline-probe-handler-int-or-string-quantity",
        ),
        pytest.param(
            num(99, 7) + text(98, "ignored"),
            (
                msg(8, num(1, 1767323045)),
                msg(13, text(5, "apps/v1"), text(1, "ReplicaSet"), text(3, "rs"), num(6, True)),
                msg(
                    17,
                    text(1, "kubectl"),
                    text(2, "Update"),
                    msg(4, num(1, 0)),
                    text(6, "FieldsV1"),
                    msg(7, raw(1, b'{"f:metadata":{}}')),
                ),
                msg(999, text(1, "x")),
            ),
            {},
            {
                "name": "p",
                "creationTimestamp": "2026-01-02T03:04:05Z",
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "rs",
                        "controller": True,
                    }
                ],
                "managedFields": [
                    {
                        "manager": "kubectl",
                        "operation": "Update",
                        "time": "1970-01-01T00:00:00Z",
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:metadata": {}},
                    }
                ],
            },
            id="metadata-time-owner-managed-fields-unknown-skipped",
        ),
    ],
)
def test_pod_fields(
    spec: bytes, meta: tuple[bytes, ...], expected_spec: Any, expected_meta: Any
) -> None:
    assert _pod(spec, *meta) == {"metadata": expected_meta, "spec": expected_spec}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            body(
                "apps/v1",
                "Deployment",
                msg(
                    2, num(1, 0), msg(4, text(1, "RollingUpdate"), msg(2, int_or_string(1, "25%")))
                ),
            ),
            {
                "spec": {
                    "replicas": 0,
                    "strategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxUnavailable": "25%"},
                    },
                }
            },
            id="replicas-zero-and-rolling-update",
        ),
        pytest.param(
            body(
                "v1",
                "ConfigMap",
                entry(2, "k", b"v") + entry(3, "bin", b"\x00\xff") + num(4, False),
            ),
            {"data": {"k": "v"}, "binaryData": {"bin": "AP8="}, "immutable": False},
            id="configmap-bytes-and-pointer-bool",
        ),
        pytest.param(
            body("v1", "ServiceAccount", msg(3, text(1, "pull")) + num(4, True)),
            {"imagePullSecrets": [{"name": "pull"}], "automountServiceAccountToken": True},
            id="serviceaccount",
        ),
        pytest.param(
            body(
                "networking.k8s.io/v1",
                "Ingress",
                msg(
                    2,
                    text(4, "nginx"),
                    msg(
                        3,
                        text(1, "shop.example"),
                        msg(
                            2,
                            msg(
                                1,
                                msg(
                                    1,
                                    text(1, "/"),
                                    text(3, "Prefix"),
                                    msg(2, msg(4, text(1, "web"), msg(2, text(1, ""), num(2, 80)))),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
            {
                "spec": {
                    "ingressClassName": "nginx",
                    "rules": [
                        {
                            "host": "shop.example",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {
                                            "service": {"name": "web", "port": {"number": 80}}
                                        },
                                    }
                                ]
                            },
                        }
                    ],
                }
            },
            id="ingress-inline-rule-value",
        ),
    ],
)
def test_other_kinds(data: bytes, expected: dict[str, Any]) -> None:
    decoded = decode(data)
    del decoded["apiVersion"], decoded["kind"]
    assert decoded == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "the object provided is unrecognized: empty data", id="empty"),
        pytest.param(
            b'{"kind":"Service"}',
            "the object provided is unrecognized: provided data does not appear to be a "
            "protobuf message, expected prefix [107 56 115 0]",
            id="json-not-protobuf",
        ),
        pytest.param(
            b"k8s\x00\x0a\x80",
            "the object provided is unrecognized: unexpected EOF",
            id="truncated-varint",
        ),
        pytest.param(
            body("v1", "Frobnicator", b""),
            'no kind "Frobnicator" is registered for version "v1"',
            id="unknown-kind",
        ),
        pytest.param(
            body("v1", "Service", b"\x00\x01"),
            'Service in version "v1" cannot be handled as a Service: illegal tag 0 (wire type 0)',
            id="illegal-tag-0",
        ),
        pytest.param(
            body("v1", "Service", num(1, 5)),
            'Service in version "v1" cannot be handled as a Service: '
            "proto: wrong wireType = 0 for field",
            id="wrong-wire-type",
        ),
        pytest.param(
            body("v1", "Service", raw(1, b"\x0a\x05ab")),
            'Service in version "v1" cannot be handled as a Service: unexpected EOF',
            id="truncated-nested",
        ),
    ],
)
def test_malformed(data: bytes, message: str) -> None:
    with pytest.raises(StatusError) as info:
        decode(data)
    assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", message)


def test_content_type() -> None:
    assert PROTOBUF_CONTENT_TYPE == "application/vnd.kubernetes.protobuf"
