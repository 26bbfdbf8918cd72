"""The addon installer against a real API server: idempotent across restarts, drift repaired."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from portico.addons import ADDONS, load
from portico.apiserver.server import ApiServer
from portico.cli._addons import install
from tests.api.conftest import Api, start_api

PLURALS = {"Namespace": "namespaces", "ServiceAccount": "serviceaccounts",
           "IngressClass": "ingressclasses", "Deployment": "deployments", "Service": "services",
           "StorageClass": "storageclasses",
           "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings",
           "Role": "roles", "RoleBinding": "rolebindings"}
COREDNS = "/apis/apps/v1/namespaces/kube-system/deployments/coredns"
KUBE_DNS = "/api/v1/namespaces/kube-system/services/kube-dns"


def url(doc: dict[str, Any], collection: bool = False) -> str:
    """The API path of a manifest document (its collection's with `collection`)."""
    group_version, kind, meta = doc["apiVersion"], doc["kind"], doc["metadata"]
    base = f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"
    ns = f"/namespaces/{meta['namespace']}" if "namespace" in meta else ""
    path = f"{base}{ns}/{PLURALS[kind]}"
    return path if collection else f"{path}/{meta['name']}"


def manifests() -> list[dict[str, Any]]:
    return [doc for name in ADDONS for doc in load(name)]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[ApiServer, Api]]:
    server, api = await start_api(tmp_path)
    try:
        yield server, api
    finally:
        await api.session.close()
        await server.stop()


async def snapshot(api: Api) -> dict[str, tuple[str, str]]:
    """(uid, resourceVersion) of every addon object, keyed by its path."""
    out = {}
    for doc in manifests():
        reply = await api.get(url(doc))
        assert reply.status == 200, (url(doc), reply.body)
        out[url(doc)] = (reply.body["metadata"]["uid"], reply.body["metadata"]["resourceVersion"])
    return out


def addon_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "portico.addons" and r.levelno >= logging.WARNING]


async def test_installing_twice_changes_nothing(
    server: tuple[ApiServer, Api], caplog: pytest.LogCaptureFixture,
) -> None:
    apiserver, api = server
    caplog.set_level(logging.INFO, logger="portico.addons")
    await install(apiserver.kubeconfig, networked=True)
    first = await snapshot(api)
    assert len(first) == len(manifests())

    await install(apiserver.kubeconfig, networked=True)
    assert addon_warnings(caplog) == []
    assert [r.getMessage() for r in caplog.records if r.name == "portico.addons"] == [
        "addons applied: coredns (5/5 objects), ingress (9/9 objects), storage (1/1 objects), "
        "gateway (6/6 objects)"] * 2
    assert await snapshot(api) == first
    dns = (await api.get(KUBE_DNS)).body
    assert (dns["spec"]["clusterIP"], dns["spec"]["clusterIPs"]) == ("10.0.0.10", ["10.0.0.10"])


async def test_objects_created_by_the_old_installer_are_adopted(
    server: tuple[ApiServer, Api], caplog: pytest.LogCaptureFixture,
) -> None:
    """A data dir from before: every object created with a plain POST, as the installer did."""
    apiserver, api = server
    for doc in manifests():
        reply = await api.post(url(doc, collection=True) + "?fieldManager=portico-addon-manager",
                               doc)
        assert reply.status == 201, reply.body
    before = await snapshot(api)

    await install(apiserver.kubeconfig, networked=True)
    assert addon_warnings(caplog) == []
    after = await snapshot(api)
    assert {path: uid for path, (uid, _) in after.items()} == {
        path: uid for path, (uid, _) in before.items()}
    await install(apiserver.kubeconfig, networked=True)
    assert await snapshot(api) == after
    assert (await api.get(KUBE_DNS)).body["spec"]["clusterIP"] == "10.0.0.10"


async def test_drift_is_repaired_and_foreign_fields_stay(
    server: tuple[ApiServer, Api], caplog: pytest.LogCaptureFixture,
) -> None:
    apiserver, api = server
    await install(apiserver.kubeconfig, networked=True)
    patch = {"metadata": {"labels": {"team": "dns"}}, "spec": {"replicas": 5}}
    edited = await api.patch(COREDNS + "?fieldManager=kubectl-edit", patch,
                             "application/merge-patch+json")
    assert edited.status == 200, edited.body

    await install(apiserver.kubeconfig, networked=True)
    assert addon_warnings(caplog) == []
    coredns = (await api.get(COREDNS)).body
    assert coredns["spec"]["replicas"] == 2
    assert coredns["metadata"]["labels"]["team"] == "dns"
    assert coredns["metadata"]["uid"] == edited.body["metadata"]["uid"]


async def test_a_refused_object_is_a_warning_and_the_rest_still_applies(
    server: tuple[ApiServer, Api], caplog: pytest.LogCaptureFixture,
) -> None:
    """kube-dns cannot get 10.0.0.10 when another Service holds it; the others are installed."""
    apiserver, api = server
    caplog.set_level(logging.INFO, logger="portico.addons")
    squatter = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "squatter"},
                "spec": {"clusterIP": "10.0.0.10", "ports": [{"port": 53}]}}
    assert (await api.post("/api/v1/namespaces/default/services", squatter)).status == 201

    await install(apiserver.kubeconfig, networked=True)
    assert addon_warnings(caplog) == [
        'addon coredns: Service kube-dns: Service "kube-dns" is invalid: spec.clusterIPs: '
        'Invalid value: []string{"10.0.0.10"}: failed to allocate IP 10.0.0.10: '
        "provided IP is already allocated"]
    assert ("addons applied: coredns (4/5 objects), ingress (9/9 objects), "
            "storage (1/1 objects), gateway (6/6 objects)") in caplog.messages
    assert (await api.get(KUBE_DNS)).status == 404
    assert (await api.get(COREDNS)).status == 200
