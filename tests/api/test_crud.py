"""CRUD, errors, conflicts and dry runs through the real HTTP API."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

CM = "/api/v1/namespaces/default/configmaps"


def configmap(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def test_create_get_and_already_exists(api):
    created = await api.post(CM, configmap("one", a="1"))
    assert created.status == 201
    meta = created.body["metadata"]
    assert meta["namespace"] == "default" and meta["uid"] and meta["resourceVersion"]
    again = await api.post(CM, configmap("one"))
    assert again.status == 409
    assert again.body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'configmaps "one" already exists', "reason": "AlreadyExists",
        "details": {"name": "one", "kind": "configmaps"}, "code": 409,
    }
    got = await api.get(f"{CM}/one")
    assert got.body["data"] == {"a": "1"}
    assert got.body["metadata"]["uid"] == meta["uid"]


async def test_not_found_status(api):
    reply = await api.get(f"{CM}/nope")
    assert reply.status == 404
    assert reply.body["message"] == 'configmaps "nope" not found'
    assert reply.body["reason"] == "NotFound"
    assert reply.body["details"] == {"name": "nope", "kind": "configmaps"}


async def test_grouped_not_found_names_the_group(api):
    reply = await api.get("/apis/apps/v1/namespaces/default/deployments/nope")
    assert reply.body["message"] == 'deployments.apps "nope" not found'
    assert reply.body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


async def test_generate_name(api):
    reply = await api.post(CM, {"metadata": {"generateName": "gen-"}})
    assert reply.status == 201
    name = reply.body["metadata"]["name"]
    assert name.startswith("gen-") and len(name) == len("gen-") + 5


async def test_stale_update_conflicts(api):
    created = (await api.post(CM, configmap("c", a="1"))).body
    first = dict(created, data={"a": "2"})
    assert (await api.put(f"{CM}/c", first)).status == 200
    stale = dict(created, data={"a": "3"})
    reply = await api.put(f"{CM}/c", stale)
    assert reply.status == 409
    assert reply.body["reason"] == "Conflict"
    assert reply.body["message"] == (
        'Operation cannot be fulfilled on configmaps "c": the object has been modified; '
        "please apply your changes to the latest version and try again")
    assert (await api.get(f"{CM}/c")).body["data"] == {"a": "2"}


async def test_malformed_json_is_bad_request_and_stores_nothing(api):
    reply = await api.request("POST", CM, raw=b'{"metadata": {"name": "x"',
                              content_type="application/json")
    assert reply.status == 400
    assert reply.body["reason"] == "BadRequest"
    assert (await api.get(f"{CM}/x")).status == 404


async def test_missing_content_type_is_json(api):
    reply = await api.request("POST", CM, raw=b'{"metadata": {"name": "noct"}}',
                              content_type=None)
    assert reply.status == 201


async def test_unsupported_media_type(api):
    reply = await api.request("POST", CM, raw=b"x", content_type="text/plain")
    assert reply.status == 415
    assert reply.body["reason"] == "UnsupportedMediaType"


async def test_yaml_body(api):
    reply = await api.request("POST", CM, raw=b"metadata:\n  name: fromyaml\ndata:\n  k: v\n",
                              content_type="application/yaml")
    assert reply.status == 201
    assert reply.body["data"] == {"k": "v"}


async def test_dry_run_stores_nothing(api):
    reply = await api.post(f"{CM}?dryRun=All", configmap("dry"))
    assert reply.status == 201
    assert reply.body["metadata"]["name"] == "dry"
    assert (await api.get(f"{CM}/dry")).status == 404


async def test_namespace_must_exist(api):
    reply = await api.post("/api/v1/namespaces/ghost/configmaps", configmap("x"))
    assert reply.status == 404
    assert reply.body["message"] == 'namespaces "ghost" not found'


async def test_body_namespace_mismatch(api):
    body = configmap("x")
    body["metadata"]["namespace"] = "kube-system"
    reply = await api.post(CM, body)
    assert reply.status == 400
    assert reply.body["message"] == (
        "the namespace of the provided object does not match the namespace sent on the request")


async def test_too_large_body_is_refused(api):
    big = configmap("big", blob="x" * (4 * 1024 * 1024))
    reply = await api.post(CM, big)
    assert reply.status == 413
    assert (await api.get(f"{CM}/big")).status == 404


async def test_unauthenticated_request_gets_401(api):
    async with (aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as plain,
                plain.get(api.base + "/api/v1/namespaces") as resp):
        assert resp.status == 401
        body = await resp.json()
    assert body["reason"] == "Unauthorized"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as plain:
        headers = {"Authorization": "Bearer wrong"}
        async with plain.get(api.base + "/api/v1/namespaces", headers=headers) as resp:
            assert resp.status == 401


async def test_bearer_token_is_accepted(api):
    token = (api.server.config.data_dir / "pki" / "admin.token").read_text().strip()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as plain:
        headers = {"Authorization": f"Bearer {token}"}
        async with plain.get(api.base + "/api/v1/namespaces", headers=headers) as resp:
            assert resp.status == 200


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz"])
async def test_health(api, path):
    reply = await api.get(path)
    assert reply.status == 200 and reply.body == "ok"


async def test_version(api):
    reply = await api.get("/version")
    assert reply.body["major"] == "1" and reply.body["minor"] == "33"


async def test_bootstrap_objects(api):
    names = [n["metadata"]["name"] for n in (await api.get("/api/v1/namespaces")).body["items"]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    svc = (await api.get("/api/v1/namespaces/default/services/kubernetes")).body
    assert svc["spec"]["clusterIP"] == "10.0.0.1"
    assert svc["spec"]["ports"][0]["port"] == 443
    ep = (await api.get("/api/v1/namespaces/default/endpoints/kubernetes")).body
    assert ep["subsets"][0]["ports"][0]["port"] == api.server.config.port
    slices = await api.get(
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
        "?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes")
    assert len(slices.body["items"]) == 1


def _deployment(name: str) -> dict[str, Any]:
    """A one-replica nginx Deployment whose pods are labelled `app: <name>`."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }


async def test_generation_bumps_on_spec_change_only(api):
    dep = _deployment("g")
    path = "/apis/apps/v1/namespaces/default/deployments"
    created = (await api.post(path, dep)).body
    assert created["metadata"]["generation"] == 1
    labelled = await api.patch(f"{path}/g", {"metadata": {"labels": {"x": "y"}}},
                               "application/merge-patch+json")
    assert labelled.body["metadata"]["generation"] == 1
    scaled = await api.patch(f"{path}/g", {"spec": {"replicas": 2}},
                             "application/merge-patch+json")
    assert scaled.body["metadata"]["generation"] == 2


async def test_scale_subresource(api):
    dep = _deployment("s")
    path = "/apis/apps/v1/namespaces/default/deployments"
    await api.post(path, dep)
    scale = (await api.get(f"{path}/s/scale")).body
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 1}
    assert scale["status"]["selector"] == "app=s"
    patched = await api.patch(f"{path}/s/scale", {"spec": {"replicas": 3}},
                              "application/merge-patch+json")
    assert patched.status == 200 and patched.body["spec"]["replicas"] == 3
    assert (await api.get(f"{path}/s")).body["spec"]["replicas"] == 3


async def test_status_subresource_only_changes_status(api):
    path = "/api/v1/namespaces/default/services"
    svc = {"metadata": {"name": "st"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    created = (await api.post(path, svc)).body
    created["spec"]["ports"][0]["port"] = 81
    created["status"] = {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}}
    updated = (await api.put(f"{path}/st/status", created)).body
    assert updated["spec"]["ports"][0]["port"] == 80
    assert updated["status"]["loadBalancer"]["ingress"] == [{"ip": "198.51.100.7", "ipMode": "VIP"}]
    plain = (await api.get(f"{path}/st")).body
    plain["status"] = {}
    after = (await api.put(f"{path}/st", plain)).body
    assert after["status"]["loadBalancer"]["ingress"] == [{"ip": "198.51.100.7", "ipMode": "VIP"}]


async def test_ingress_without_class_gets_the_default_class(api):
    classes = "/apis/networking.k8s.io/v1/ingressclasses"
    for name, default in (("other", "false"), ("main", "true")):
        body = {"metadata": {"name": name, "annotations": {
            "ingressclass.kubernetes.io/is-default-class": default}},
            "spec": {"controller": f"example.com/{name}"}}
        assert (await api.post(classes, body)).status == 201
    ingress = {"metadata": {"name": "web"}, "spec": {"defaultBackend": {
        "service": {"name": "web", "port": {"number": 80}}}}}
    path = "/apis/networking.k8s.io/v1/namespaces/default/ingresses"
    created = (await api.post(path, ingress)).body
    assert created["spec"]["ingressClassName"] == "main"
    legacy = {**ingress, "metadata": {"name": "legacy", "annotations": {
        "kubernetes.io/ingress.class": "other"}}}
    assert "ingressClassName" not in (await api.post(path, legacy)).body["spec"]
