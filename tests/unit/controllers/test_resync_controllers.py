"""The namespace and identity controllers against a real API server: runners that the
manager's shared informers wake on every change of the kinds they follow."""

from __future__ import annotations

from portico.client import CascadeType
from portico.model.kinds import CLUSTER_ROLE, CONFIG_MAP, NAMESPACE, SERVICE_ACCOUNT
from tests.unit.controllers.conftest import eventually


def namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


async def test_a_deleted_namespace_is_emptied_then_finalized(cluster_factory):
    c = await cluster_factory("namespace")
    await c.client.create(NAMESPACE, namespace("shop"))
    await c.client.create(CONFIG_MAP, {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": "cfg", "namespace": "shop"}})
    await c.client.delete(NAMESPACE, "shop", cascade=CascadeType.BACKGROUND)

    async def gone():
        return await c.client.get_or_none(NAMESPACE, "shop") is None

    await eventually(gone, timeout=30.0)
    assert await c.client.get_or_none(CONFIG_MAP, "cfg", namespace="shop") is None


async def test_new_namespaces_get_their_account_and_root_ca_and_roles_aggregate(
        cluster_factory):
    c = await cluster_factory("identity")
    await c.client.create(NAMESPACE, namespace("team"))

    async def published():
        account = await c.client.get_or_none(SERVICE_ACCOUNT, "default", namespace="team")
        root = await c.client.get_or_none(CONFIG_MAP, "kube-root-ca.crt", namespace="team")
        return account is not None and root is not None and root

    root = await eventually(published, timeout=30.0)
    assert root["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
    await c.client.create(CLUSTER_ROLE, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "aggregate"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"into": "aggregate"}}]}})
    rule = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    await c.client.create(CLUSTER_ROLE, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "part", "labels": {"into": "aggregate"}}, "rules": [rule]})

    async def aggregated():
        return (await c.client.get(CLUSTER_ROLE, "aggregate")).get("rules") == [rule]

    await eventually(aggregated, timeout=30.0)
