"""apply_patch (server-side apply) and update_managed_fields: ownership, pruning, conflicts."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from portico.apiserver.errors import StatusError
from portico.apiserver.patch import apply_patch, update_managed_fields
from portico.model.kinds import DEPLOYMENT as DEPLOYMENT_KIND
from portico.model.kinds import SERVICE as SERVICE_KIND

SVC, DEPLOY = SERVICE_KIND.gvk, DEPLOYMENT_KIND.gvk
T0, T1, T2 = "2025-01-01T00:00:00Z", "2025-01-01T00:01:00Z", "2025-01-01T00:02:00Z"
PORT_80 = 'k:{"port":80,"protocol":"TCP"}'
SERVICE: dict[str, Any] = {  # kubectl apply --server-side body, as traced
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"labels": {"app": "api"}, "name": "api", "namespace": "default"},
    "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
             "selector": {"app": "api"}, "type": "LoadBalancer"},
}
KUBECTL_SERVICE_FIELDS = {
    "f:metadata": {"f:labels": {"f:app": {}}},
    "f:spec": {
        "f:ports": {PORT_80: {".": {}, "f:name": {}, "f:port": {}, "f:protocol": {},
                              "f:targetPort": {}}},
        "f:selector": {},
        "f:type": {},
    },
}
DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
}


def _edit(obj: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    change(out)
    return out


def _entries(obj: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e["manager"], e["operation"], e["fieldsV1"])
            for e in obj["metadata"].get("managedFields", [])]


def _svc(live: dict[str, Any] | None, body: dict[str, Any], manager: str = "kubectl",
         force: bool = False, now: str = T0) -> dict[str, Any]:
    return apply_patch(live, body, manager, force, SVC, now)


def _deploy_csa() -> dict[str, Any]:
    return update_managed_fields(None, DEPLOYMENT, "kubectl-client-side-apply", "Update",
                                 DEPLOY, T0)


def test_apply_create_records_kubectl_service_fields() -> None:
    out = _svc(None, SERVICE)
    assert out == {**SERVICE, "metadata": {**SERVICE["metadata"], "managedFields": [{
        "manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": T0,
        "fieldsType": "FieldsV1", "fieldsV1": KUBECTL_SERVICE_FIELDS,
    }]}}
    assert list(out["metadata"]["managedFields"][0]) == [
        "manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]


@pytest.mark.parametrize(
    ("change", "expected_object", "expected_fields"),
    [
        pytest.param(
            lambda o: o["metadata"].pop("labels"),
            lambda o: o["metadata"].pop("labels"),
            {"f:spec": KUBECTL_SERVICE_FIELDS["f:spec"]},
            id="label-dropped-is-pruned",
        ),
        pytest.param(
            lambda o: o["spec"]["ports"][0].update(port=81),
            lambda o: o["spec"]["ports"][0].update(port=81),
            {**KUBECTL_SERVICE_FIELDS, "f:spec": {
                **KUBECTL_SERVICE_FIELDS["f:spec"],
                "f:ports": {'k:{"port":81,"protocol":"TCP"}': KUBECTL_SERVICE_FIELDS["f:spec"][
                    "f:ports"][PORT_80]}}},
            id="port-replaced",
        ),
        pytest.param(
            lambda o: o["spec"].pop("type"),
            lambda o: o["spec"].pop("type"),
            {**KUBECTL_SERVICE_FIELDS, "f:spec": {
                k: v for k, v in KUBECTL_SERVICE_FIELDS["f:spec"].items() if k != "f:type"}},
            id="type-dropped-is-pruned",
        ),
    ],
)
def test_reapply_prunes_dropped_fields(
    change: Callable[[dict[str, Any]], None],
    expected_object: Callable[[dict[str, Any]], None],
    expected_fields: dict[str, Any],
) -> None:
    live = _svc(None, SERVICE)
    out = _svc(live, _edit(SERVICE, change), now=T1)
    fields = out["metadata"].pop("managedFields")
    assert out == _edit(SERVICE, expected_object)
    assert [(f["manager"], f["time"], f["fieldsV1"]) for f in fields] == [
        ("kubectl", T1, expected_fields)]


def test_reapply_keeps_field_another_manager_owns() -> None:
    live = _svc(None, SERVICE)
    live = update_managed_fields(
        live, _edit(live, lambda o: o["metadata"]["labels"].update(app="api2")),
        "editor", "Update", SVC, T1)
    out = _svc(live, _edit(SERVICE, lambda o: o["metadata"].pop("labels")), now=T2)
    assert out["metadata"]["labels"] == {"app": "api2"}
    assert _entries(out) == [
        ("kubectl", "Apply", {"f:spec": KUBECTL_SERVICE_FIELDS["f:spec"]}),
        ("editor", "Update", {"f:metadata": {"f:labels": {"f:app": {}}}}),
    ]


def test_conflict_on_replicas() -> None:
    with pytest.raises(StatusError) as err:
        apply_patch(_deploy_csa(), _edit(DEPLOYMENT, lambda o: o["spec"].update(replicas=3)),
                    "kubectl", False, DEPLOY, T1)
    assert err.value.status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
                   "using apps/v1: .spec.replicas",
        "reason": "Conflict",
        "details": {"causes": [{
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
            "field": ".spec.replicas",
        }]},
        "code": 409,
    }


def test_conflicts_two_fields_message() -> None:
    body = _edit(DEPLOYMENT, lambda o: o["spec"].update(replicas=3))
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    with pytest.raises(StatusError) as err:
        apply_patch(_deploy_csa(), body, "kubectl", False, DEPLOY, T1)
    assert err.value.message == (
        "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using "
        "apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image"
    )
    assert [c["field"] for c in err.value.details["causes"]] == [
        ".spec.replicas", '.spec.template.spec.containers[name="web"].image']


def test_force_takes_ownership() -> None:
    out = apply_patch(_deploy_csa(), {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "metadata": {"name": "web"}, "spec": {"replicas": 3}},
                      "kubectl", True, DEPLOY, T1)
    assert out["spec"]["replicas"] == 3
    assert [(m, o, f.get("f:spec", {}).get("f:replicas")) for m, o, f in _entries(out)] == [
        ("kubectl", "Apply", {}), ("kubectl-client-side-apply", "Update", None)]


def test_same_value_is_not_a_conflict() -> None:
    out = apply_patch(_deploy_csa(), {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "metadata": {"name": "web"}, "spec": {"replicas": 1}},
                      "kubectl", False, DEPLOY, T1)
    assert [m for m, _, _ in _entries(out)] == ["kubectl", "kubectl-client-side-apply"]
    assert _entries(out)[1][2]["f:spec"]["f:replicas"] == {}


def test_apply_without_managed_fields_conflicts_with_before_first_apply() -> None:
    with pytest.raises(StatusError) as err:
        _svc(_edit(SERVICE, lambda o: None), _edit(SERVICE, lambda o: o["spec"].update(
            type="NodePort")))
    assert err.value.message == ('Apply failed with 1 conflict: conflict with '
                                 '"before-first-apply" using v1: .spec.type')


def test_default_hook_fills_missing_list_map_key() -> None:
    def default(obj: dict[str, Any]) -> None:
        for port in obj["spec"]["ports"]:
            port.setdefault("protocol", "TCP")

    body = _edit(SERVICE, lambda o: o["spec"]["ports"][0].pop("protocol"))
    out = apply_patch(None, body, "kubectl", False, SVC, T0, default=default)
    assert out["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:ports"] == {
        PORT_80: {".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}}}


def test_apply_rejects_managed_fields_in_body() -> None:
    with pytest.raises(StatusError) as err:
        _svc(None, _edit(SERVICE, lambda o: o["metadata"].update(managedFields=[{"a": 1}])))
    assert (err.value.code, err.value.message) == (400, "metadata.managedFields must be nil")


CREATE_FIELDS = {
    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    "f:spec": {
        "f:ports": {".": {}, PORT_80: {".": {}, "f:name": {}, "f:port": {}, "f:protocol": {},
                                      "f:targetPort": {}}},
        "f:selector": {},
        "f:type": {},
    },
}


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [("kubectl-create", lambda o: o.update(status={"loadBalancer": {}}), "")],
            [("kubectl-create", "Update", CREATE_FIELDS)],
            id="create-ignores-status-and-server-metadata",
        ),
        pytest.param(
            [("kubectl-create", lambda o: None, ""),
             ("kubectl-edit", lambda o: o["spec"].update(type="NodePort"), "")],
            [("kubectl-create", "Update", {**CREATE_FIELDS, "f:spec": {
                k: v for k, v in CREATE_FIELDS["f:spec"].items() if k != "f:type"}}),
             ("kubectl-edit", "Update", {"f:spec": {"f:type": {}}})],
            id="update-takes-changed-field",
        ),
        pytest.param(
            [("kubectl-create", lambda o: None, ""),
             ("kubectl-edit", lambda o: o["metadata"].pop("labels"), "")],
            [("kubectl-create", "Update", {"f:spec": CREATE_FIELDS["f:spec"]})],
            id="removed-field-leaves-every-set",
        ),
        pytest.param(
            [("kubectl-create", lambda o: None, ""),
             ("controller", lambda o: o.update(status={"loadBalancer": {"ingress": [
                 {"ip": "1.2.3.4"}]}}), "status")],
            [("kubectl-create", "Update", CREATE_FIELDS),
             ("controller", "Update", {"f:status": {"f:loadBalancer": {"f:ingress": {}}}})],
            id="status-subresource-entry",
        ),
    ],
)
def test_update_managed_fields(steps: list[Any], expected: list[Any]) -> None:
    old: dict[str, Any] | None = None
    current = copy.deepcopy(SERVICE)
    for index, (manager, change, subresource) in enumerate(steps):
        new = _edit(old or current, change)
        old = update_managed_fields(old, new, manager, "Update", SVC,
                                    [T0, T1, T2][index], subresource)
    assert old is not None
    assert _entries(old) == expected
    if steps[-1][2]:
        assert old["metadata"]["managedFields"][-1]["subresource"] == "status"


def test_update_reset_with_empty_entry() -> None:
    live = update_managed_fields(None, SERVICE, "a", "Update", SVC, T0)
    out = update_managed_fields(live, _edit(live, lambda o: o["metadata"].update(
        managedFields=[{}])), "b", "Update", SVC, T1)
    assert "managedFields" not in out["metadata"]


def test_unchanged_update_keeps_time() -> None:
    live = update_managed_fields(None, SERVICE, "a", "Update", SVC, T0)
    out = update_managed_fields(live, copy.deepcopy(live), "a", "Update", SVC, T1)
    assert [e["time"] for e in out["metadata"]["managedFields"]] == [T0]
