"""check_fields / decode_problems: kube-apiserver's strict decoding, worded exactly."""

from __future__ import annotations

from typing import Any

import pytest

from portico.apiserver.errors import StatusError
from portico.apiserver.openapi import check_fields, decode_problems
from portico.model.kinds import GroupVersionKind

SERVICE_GVK = GroupVersionKind("", "v1", "Service")

SVC_PREFIX = 'Service in version "v1" cannot be handled as a Service: '


def svc(spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": spec,
            **extra}


@pytest.mark.parametrize(("obj", "mode", "warnings"), [
    pytest.param(svc({"ports": [{"port": 80, "targetPort": "http"}]}), "Strict", [],
                 id="clean-strict"),
    pytest.param(svc({"portz": 1}), "Warn", ['unknown field "spec.portz"'], id="warn"),
    pytest.param(svc({"portz": 1}), "", ['unknown field "spec.portz"'], id="empty-is-warn"),
    pytest.param(svc({"portz": 1}), "Ignore", [], id="ignore"),
    pytest.param(
        {"kind": "Service", "metadata": {"labelz": {}}, "spec": {"ports": [{"port": 1, "x": 2}]}},
        "Warn", ['unknown field "metadata.labelz"', 'unknown field "spec.ports[0].x"'],
        id="nested-paths-in-document-order"),
    pytest.param(svc({}, status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "q": 1}]}}),
                 "Warn", ['unknown field "status.loadBalancer.ingress[0].q"'], id="status"),
    pytest.param(svc({}, extra=1), "Warn", ['unknown field "extra"'], id="top-level"),
    pytest.param(svc({"selector": None, "ports": None}), "Strict", [], id="null-accepted"),
    pytest.param({"metadata": {"managedFields": [{"fieldsV1": {"f:spec": {"f:x": {}}}}]}},
                 "Strict", [], id="fieldsv1-opaque"),
])
def test_check_fields_returns(obj: dict[str, Any], mode: str, warnings: list[str]) -> None:
    assert check_fields(SERVICE_GVK, obj, mode) == warnings


@pytest.mark.parametrize(("obj", "mode", "message"), [
    pytest.param(svc({"portz": 1}), "Strict",
                 SVC_PREFIX + 'strict decoding error: unknown field "spec.portz"', id="one"),
    pytest.param(svc({"a": 1, "b": 2}), "Strict",
                 SVC_PREFIX + 'strict decoding error: unknown field "spec.a", '
                 'unknown field "spec.b"', id="several"),
    pytest.param(svc({"ports": [{"port": "80"}]}), "Ignore",
                 SVC_PREFIX + "json: cannot unmarshal string into Go struct field "
                 "ServicePort.spec.ports.port of type int32", id="type-error-any-mode"),
    pytest.param(svc({"portz": 1, "ports": [{"port": True}]}), "Strict",
                 SVC_PREFIX + "json: cannot unmarshal bool into Go struct field "
                 "ServicePort.spec.ports.port of type int32", id="type-error-beats-unknown"),
])
def test_check_fields_raises(obj: dict[str, Any], mode: str, message: str) -> None:
    with pytest.raises(StatusError) as caught:
        check_fields(SERVICE_GVK, obj, mode)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        400, "BadRequest", message)


def _unmarshal(value: str, where: str, go_type: str) -> str:
    return f"json: cannot unmarshal {value} into Go struct field {where} of type {go_type}"


QUANTITY_RE = "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


@pytest.mark.parametrize(("group", "kind", "obj", "error"), [
    pytest.param("", "Service", {"spec": {"ports": [{"port": 1.5}]}},
                 _unmarshal("number 1.5", "ServicePort.spec.ports.port", "int32"), id="float"),
    pytest.param("", "Service", {"spec": {"ports": [{"port": 2**31}]}},
                 _unmarshal("number 2147483648", "ServicePort.spec.ports.port", "int32"),
                 id="int32-overflow"),
    pytest.param("", "Service", {"spec": {"ports": "80"}},
                 _unmarshal("string", "ServiceSpec.spec.ports", "[]v1.ServicePort"), id="list"),
    pytest.param("", "Service", {"spec": {"ports": [7]}},
                 _unmarshal("number", "ServiceSpec.spec.ports", "v1.ServicePort"), id="item"),
    pytest.param("", "Service", {"spec": []},
                 _unmarshal("array", "Service.spec", "v1.ServiceSpec"), id="struct"),
    pytest.param("", "Service", {"spec": {"type": 3}},
                 _unmarshal("number", "ServiceSpec.spec.type", "v1.ServiceType"), id="named"),
    pytest.param("", "Service", {"spec": {"ipFamilies": [4]}},
                 _unmarshal("number", "ServiceSpec.spec.ipFamilies", "v1.IPFamily"),
                 id="named-item"),
    pytest.param("", "Service", {"spec": {"publishNotReadyAddresses": "yes"}},
                 _unmarshal("string", "ServiceSpec.spec.publishNotReadyAddresses", "bool"),
                 id="bool"),
    pytest.param("", "Service", {"metadata": {"labels": {"a": 1}}},
                 _unmarshal("number", "ObjectMeta.metadata.labels", "string"), id="map-value"),
    pytest.param("", "Service", {"metadata": {"labels": ["a"]}},
                 _unmarshal("array", "ObjectMeta.metadata.labels", "map[string]string"),
                 id="map"),
    pytest.param("", "Service", {"metadata": {"creationTimestamp": 5}},
                 _unmarshal("number", "ObjectMeta.metadata.creationTimestamp", "string"),
                 id="time"),
    pytest.param("", "Service", {"spec": {"ports": [{"port": "x", "targetPort": {}}]}},
                 _unmarshal("object", "ServicePort.spec.ports.targetPort", "int32"),
                 id="int-or-string-abort-beats-earlier-error"),
    pytest.param("", "Service", {"spec": {"ports": [{"port": 1, "targetPort": 1.5}]}},
                 _unmarshal("number 1.5", "ServicePort.spec.ports.targetPort", "int32"),
                 id="int-or-string-float"),
    pytest.param("", "Secret", {"data": {"k": 1}},
                 _unmarshal("number", "Secret.data", "[]uint8"), id="bytes"),
    pytest.param("", "Pod", {"spec": {"containers": [{"resources": {"limits": {"cpu": "1x"}}}]}},
                 "quantities must match the regular expression " + QUANTITY_RE,
                 id="quantity-format"),
    pytest.param("", "Pod", {"spec": {"containers": [{"resources": {"limits": {"cpu": "1Mi2"}}}]}},
                 "unable to parse quantity's suffix", id="quantity-suffix"),
    pytest.param("apps", "Deployment",
                 {"spec": {"replicas": "3", "template": {"spec": {"containers": [
                     {"ports": [{"containerPort": 80, "protocol": 6}]}]}}}},
                 _unmarshal("string", "DeploymentSpec.spec.replicas", "int32"),
                 id="first-saved-error-wins"),
])
def test_type_errors(group: str, kind: str, obj: dict[str, Any], error: str) -> None:
    problems = decode_problems(GroupVersionKind(group, "v1", kind), obj)
    assert (problems.type_error, problems.unknown_fields) == (error, [])


@pytest.mark.parametrize(("kind", "obj"), [
    pytest.param("Service", {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}, id="ios-int"),
    pytest.param("Pod", {"spec": {"containers": [{"resources": {"limits": {
        "cpu": "500m", "memory": 1e9, "ephemeral-storage": "1.5Gi", "x/y": "2e3"}}}]}},
        id="quantities"),
    pytest.param("Secret", {"data": {"k": "YQ=="}, "stringData": {"a": "b"}}, id="bytes"),
    pytest.param("Service", {"metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"}},
                 id="time"),
    pytest.param("Widget", {"anything": 1}, id="unknown-kind"),
])
def test_accepted(kind: str, obj: dict[str, Any]) -> None:
    problems = decode_problems(GroupVersionKind("", "v1", kind), obj)
    assert (problems.type_error, problems.unknown_fields) == (None, [])


@pytest.mark.parametrize(("mode", "warnings"), [
    pytest.param("Warn", ['unknown field "spec.bogus"', 'unknown field "spec.ports[0].x"'],
                 id="warn"),
    pytest.param("Ignore", [], id="ignore"),
])
def test_unknown_fields_are_dropped(mode: str, warnings: list[str]) -> None:
    obj = svc({"bogus": {"deep": [[[1]]]}, "ports": [{"port": 80, "x": 1}]})
    assert check_fields(SERVICE_GVK, obj, mode) == warnings
    assert obj["spec"] == {"ports": [{"port": 80}]}


def test_strict_refuses_and_keeps_the_object() -> None:
    obj = svc({"bogus": 1})
    with pytest.raises(StatusError):
        check_fields(SERVICE_GVK, obj, "Strict")
    assert obj["spec"] == {"bogus": 1}


@pytest.mark.parametrize(("mode", "expected"), [
    pytest.param("Warn", ['duplicate field "metadata.name"', 'unknown field "spec.bogus"'],
                 id="warn"),
    pytest.param("Strict", SVC_PREFIX + 'strict decoding error: duplicate field "metadata.name", '
                 'unknown field "spec.bogus"', id="strict"),
])
def test_duplicate_fields_are_strict_errors(mode: str, expected: object) -> None:
    obj = svc({"bogus": 1})
    if mode == "Strict":
        with pytest.raises(StatusError) as caught:
            check_fields(SERVICE_GVK, obj, mode, ("metadata.name",))
        assert caught.value.message == expected
    else:
        assert check_fields(SERVICE_GVK, obj, mode, ("metadata.name",)) == expected


def test_schemaless_values_are_bounded() -> None:
    deep: dict[str, Any] = {}
    for _ in range(300):
        deep = {"f:x": deep}
    obj = {"metadata": {"name": "web", "managedFields": [{"fieldsV1": deep}]}}
    with pytest.raises(StatusError) as caught:
        check_fields(SERVICE_GVK, obj, "Warn")
    assert caught.value.message == SVC_PREFIX + (
        "json: metadata.managedFields[0].fieldsV1 is nested deeper than 200 levels")


def test_fields_as_decoded_before_are_not_walked_again() -> None:
    """An update's fields equal to the stored object's (which was decoded when it was
    written) are taken as they are; what changed is checked as ever."""
    stored = svc({"ports": [{"port": 80}]})
    # (a spec no decode would have stored, to show that an equal one is not walked)
    odd = svc({"portz": 1})
    same_spec = svc({"portz": 1}, status={"loadBalancer": {"q": 1}})
    assert check_fields(SERVICE_GVK, same_spec, "Warn", decoded=odd) == [
        'unknown field "status.loadBalancer.q"']
    assert check_fields(SERVICE_GVK, svc({"portz": 1}), "Warn") == ['unknown field "spec.portz"']
    changed = svc({"ports": [{"port": 81, "x": 1}]})
    assert check_fields(SERVICE_GVK, changed, "Warn", decoded=stored) == [
        'unknown field "spec.ports[0].x"']
    bad_type = svc({"ports": [{"port": "80"}]})
    with pytest.raises(StatusError):
        check_fields(SERVICE_GVK, bad_type, "Warn", decoded=stored)
    assert check_fields(SERVICE_GVK, svc({"ports": [{"port": 80}]}), "Warn",
                        decoded=stored) == []
