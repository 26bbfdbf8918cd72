"""strategic_merge_patch: kubectl's traced bodies and every directive."""

from __future__ import annotations

from typing import Any

import pytest

from portico.apiserver.errors import StatusError
from portico.apiserver.patch import strategic_merge_patch
from portico.model.kinds import GroupVersionKind

LAST_APPLIED = '{"apiVersion":"v1","kind":"Service"}\n'
SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "api", "labels": {"app": "api", "tier": "web"}},
    "spec": {
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080,
                   "nodePort": 30080}],
        "selector": {"app": "api"},
        "type": "LoadBalancer",
        "clusterIP": "10.96.0.77",
    },
}
POD_SPEC: dict[str, Any] = {
    "containers": [
        {"name": "web", "image": "nginx:1",
         "ports": [{"containerPort": 80, "protocol": "TCP"},
                   {"containerPort": 8080, "protocol": "TCP"}]},
        {"name": "side", "image": "busybox"},
    ],
}
DEPLOYMENT: dict[str, Any] = {
    "metadata": {"name": "web", "finalizers": ["a", "b"]},
    "spec": {
        "replicas": 1,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        "template": {"spec": POD_SPEC},
    },
}


def _with(base: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    import copy

    out = copy.deepcopy(base)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("kind", "original", "patch", "expected"),
    [
        pytest.param(
            ("", "v1", "Service"),
            SERVICE,
            {
                "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                                             LAST_APPLIED}},
                "spec": {
                    "$setElementOrder/ports": [{"port": 81}],
                    "ports": [
                        {"name": "http", "port": 81, "protocol": "TCP", "targetPort": 8080},
                        {"$patch": "delete", "port": 80},
                    ],
                },
            },
            _with(
                _with(SERVICE, ("spec", "ports"),
                      [{"name": "http", "port": 81, "protocol": "TCP", "targetPort": 8080}]),
                ("metadata", "annotations"),
                {"kubectl.kubernetes.io/last-applied-configuration": LAST_APPLIED},
            ),
            id="kubectl-apply-traced-port-change",
        ),
        pytest.param(
            ("", "v1", "Service"),
            SERVICE,
            {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}},
            _with(SERVICE, ("spec", "ports"),
                  [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 9090,
                    "nodePort": 30080}]),
            id="port-merged-by-port-keeps-nodePort",
        ),
        pytest.param(
            ("", "v1", "Service"),
            SERVICE,
            {"metadata": {"labels": {"tier": None, "new": "x"}}},
            _with(SERVICE, ("metadata", "labels"), {"app": "api", "new": "x"}),
            id="label-removed-by-null",
        ),
        pytest.param(
            ("", "v1", "Service"),
            SERVICE,
            {"spec": {"selector": {"$patch": "replace", "run": "x"}}},
            _with(SERVICE, ("spec", "selector"), {"run": "x"}),
            id="map-patch-replace",
        ),
        pytest.param(
            ("", "v1", "Service"),
            SERVICE,
            {"metadata": {"labels": {"$patch": "delete"}}},
            _with(SERVICE, ("metadata", "labels"), {}),
            id="map-patch-delete",
        ),
        pytest.param(
            ("", "v1", "Pod"),
            {"spec": POD_SPEC},
            {"spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "side"}],
                      "containers": [{"name": "web", "image": "nginx:2"}]}},
            {"spec": _with(POD_SPEC, ("containers", 0, "image"), "nginx:2")},
            id="containers-merged-by-name",
        ),
        pytest.param(
            ("", "v1", "Pod"),
            {"spec": POD_SPEC},
            {"spec": {"containers": [{"name": "web", "ports": [
                {"$patch": "delete", "containerPort": 8080}, {"containerPort": 443}]}]}},
            {"spec": _with(POD_SPEC, ("containers", 0, "ports"),
                           [{"containerPort": 443}, {"containerPort": 80, "protocol": "TCP"}])},
            id="container-ports-by-containerPort",
        ),
        pytest.param(
            ("", "v1", "Pod"),
            {"spec": POD_SPEC},
            {"spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "side"},
                                                      {"name": "new"}],
                      "containers": [{"name": "new", "image": "x"}]}},
            {"spec": {"containers": POD_SPEC["containers"] + [{"name": "new", "image": "x"}]}},
            id="new-container-placed-by-setElementOrder",
        ),
        pytest.param(
            ("", "v1", "Pod"),
            {"spec": POD_SPEC},
            {"spec": {"containers": [{"name": "new", "image": "x"}, {"$patch": "replace"}]}},
            {"spec": {"containers": [{"name": "new", "image": "x"}]}},
            id="list-patch-replace",
        ),
        pytest.param(
            ("", "v1", "Pod"),
            {"spec": POD_SPEC},
            {"spec": {"containers": [{"name": "new", "image": "x"}]}},
            {"spec": {"containers": [{"name": "new", "image": "x"}] + POD_SPEC["containers"]}},
            id="new-container-first-without-setElementOrder",
        ),
        pytest.param(
            ("apps", "v1", "Deployment"),
            DEPLOYMENT,
            {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
            _with(DEPLOYMENT, ("spec", "strategy"), {"type": "Recreate"}),
            id="retainKeys-clears-rollingUpdate",
        ),
        pytest.param(
            ("apps", "v1", "Deployment"),
            DEPLOYMENT,
            {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
            _with(DEPLOYMENT, ("metadata", "finalizers"), ["b"]),
            id="deleteFromPrimitiveList",
        ),
        pytest.param(
            ("apps", "v1", "Deployment"),
            DEPLOYMENT,
            {"metadata": {"finalizers": ["c", "a"]}},
            _with(DEPLOYMENT, ("metadata", "finalizers"), ["c", "a", "b"]),
            id="finalizers-union",
        ),
        pytest.param(
            ("apps", "v1", "Deployment"),
            DEPLOYMENT,
            {"metadata": {"$setElementOrder/finalizers": ["b", "a"]}},
            _with(DEPLOYMENT, ("metadata", "finalizers"), ["b", "a"]),
            id="setElementOrder-primitives",
        ),
        pytest.param(
            ("apps", "v1", "Deployment"),
            DEPLOYMENT,
            {"spec": {"replicas": 3}},
            _with(DEPLOYMENT, ("spec", "replicas"), 3),
            id="scalar",
        ),
        pytest.param(
            ("example.com", "v1", "Widget"),
            {"spec": {"items": [1, 2], "keep": True}},
            {"spec": {"items": [3], "keep": None}},
            {"spec": {"items": [3]}},
            id="unknown-kind-is-merge-patch",
        ),
    ],
)
def test_strategic_merge_patch(
    kind: tuple[str, str, str], original: dict[str, Any], patch: dict[str, Any], expected: Any
) -> None:
    assert strategic_merge_patch(original, patch, GroupVersionKind(*kind)) == expected


@pytest.mark.parametrize(
    ("patch", "code", "reason", "message"),
    [
        pytest.param(
            {"metadata": {"labels": {"$patch": "bogus"}}}, 500, "",
            "unknown patch type: bogus in map: map[$patch:bogus]", id="unknown-map-directive",
        ),
        pytest.param(
            {"spec": {"ports": [{"$patch": "bogus", "port": 80}]}}, 500, "",
            "unknown patch type: bogus in map: map[$patch:bogus port:80]",
            id="unknown-item-directive",
        ),
        pytest.param(
            {"spec": {"$retainKeys": ["type"], "selector": {"a": "b"}}}, 400, "BadRequest",
            "invalid patch format of retainKeys", id="retainKeys-mismatch",
        ),
        pytest.param(
            {"spec": {"ports": [{"name": "x"}]}}, 500, "",
            "map: map[name:x] does not contain declared merge key: port", id="no-merge-key",
        ),
        pytest.param(
            {"spec": {"ports": [{"$patch": "merge", "port": 1}]}}, 500, "",
            "merging lists cannot yet be specified in the patch", id="merge-directive-in-list",
        ),
    ],
)
def test_strategic_merge_patch_errors(
    patch: dict[str, Any], code: int, reason: str, message: str
) -> None:
    with pytest.raises(StatusError) as err:
        strategic_merge_patch(SERVICE, patch, GroupVersionKind("", "v1", "Service"))
    assert (err.value.code, err.value.reason, err.value.message) == (code, reason, message)


def test_strategic_merge_patch_rejects_list_body() -> None:
    with pytest.raises(StatusError) as err:
        strategic_merge_patch(SERVICE, [], GroupVersionKind("", "v1", "Service"))
    assert (err.value.code, err.value.message) == (
        400, "json: cannot unmarshal array into Go value of type map[string]interface {}"
    )
