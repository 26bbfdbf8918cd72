"""Objects every cluster has from the start, ensured at each start (idempotent).

The system namespaces, and the `default/kubernetes` Service at the first
service address with Endpoints and an EndpointSlice pointing at the API server's
address that pods reach (as kube-apiserver's endpoint reconciler keeps them),
and the default RBAC policy (`auth.policy`): a missing default ClusterRole or
ClusterRoleBinding is created again, one a user changed is left as it is.
"""

from __future__ import annotations

import contextlib

from portico.apiserver import errors
from portico.apiserver.auth.policy import cluster_role_bindings, cluster_roles
from portico.apiserver.registry import Registry, WriteOptions
from portico.apiserver.resources._base import Object

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_MANAGER = WriteOptions(field_manager="kube-apiserver")


def _ensure(registry: Registry, group: str, version: str, plural: str, namespace: str,
            obj: Object) -> None:
    rt = registry.find(group, version, plural)
    assert rt is not None, plural
    name = obj["metadata"]["name"]
    try:
        live = registry.get(rt, namespace, name)
    except errors.StatusError:
        registry.create(rt, namespace, obj, _MANAGER)
        return
    desired = {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}
    current = {k: live.get(k) for k in desired}
    if current != desired and plural != "services":
        live.update(desired)
        with contextlib.suppress(errors.StatusError):
            registry.update(rt, namespace, name, live, "", _MANAGER)


def ensure_bootstrap(registry: Registry, cluster_ip: str, advertise: str, port: int) -> None:
    for ns in SYSTEM_NAMESPACES:
        _ensure(registry, "", "v1", "namespaces", "", {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    labels = {"component": "apiserver", "provider": "kubernetes"}
    _ensure(registry, "", "v1", "services", "default", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": labels},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                            "targetPort": port}]},
    })
    _ensure(registry, "", "v1", "endpoints", "default", {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": advertise}],
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    })
    _ensure(registry, "discovery.k8s.io", "v1", "endpointslices", "default", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [advertise], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    })


def ensure_rbac(registry: Registry) -> None:
    group = "rbac.authorization.k8s.io"
    for plural, objects in (("clusterroles", cluster_roles()),
                            ("clusterrolebindings", cluster_role_bindings())):
        rt = registry.find(group, "v1", plural)
        assert rt is not None, plural
        for obj in objects:
            with contextlib.suppress(errors.StatusError):
                registry.get(rt, "", obj["metadata"]["name"])
                continue
            registry.create(rt, "", obj, _MANAGER)
