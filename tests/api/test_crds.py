"""CustomResourceDefinitions through the real HTTP API: the CRD kind, its conditions,
serving custom resources (CRUD, selectors, patches, subresources, versions, tables),
discovery, OpenAPI and the cleanup on delete."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
GROUP = "stable.example.com"
WIDGETS = f"/apis/{GROUP}/v1/namespaces/default/widgets"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "description": "What the widget should be.",
            "properties": {
                "color": {"type": "string", "description": "Paint colour.",
                          "default": "blue"},
                "replicas": {"type": "integer", "maximum": 10},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "required": ["name"], "properties": {
                        "name": {"type": "string"}, "port": {"type": "integer"}}},
                },
            },
        },
        "status": {"type": "object", "properties": {
            "replicas": {"type": "integer"}, "phase": {"type": "string"},
            "selector": {"type": "string"}}},
    },
}


def widget_crd(versions: list[dict[str, Any]] | None = None, **names: Any) -> dict[str, Any]:
    version = {
        "name": "v1", "served": True, "storage": True,
        "schema": {"openAPIV3Schema": WIDGET_SCHEMA},
        "subresources": {"status": {}, "scale": {
            "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector"}},
        "additionalPrinterColumns": [
            {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas",
             "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
        "selectableFields": [{"jsonPath": ".spec.color"}],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"],
                           "categories": ["all", "toys"], **names},
                 "versions": versions or [version]},
    }


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": spec}


async def established(api, name: str = f"widgets.{GROUP}") -> dict[str, Any]:
    for _ in range(100):
        got = await api.get(f"{CRDS}/{name}")
        conditions = {c["type"]: c for c in (got.body.get("status") or {}).get(
            "conditions", [])}
        if conditions.get("Established", {}).get("status") == "True":
            return got.body
        await asyncio.sleep(0.02)
    raise AssertionError(f"{name} not Established: {got.body}")


@pytest.fixture
async def widgets(api):
    created = await api.post(CRDS, widget_crd())
    assert created.status == 201, created.body
    await established(api)
    return api


async def test_crd_defaults_conditions_and_table(api):
    created = await api.post(CRDS, widget_crd())
    assert created.status == 201, created.body
    spec = created.body["spec"]
    assert spec["names"]["singular"] == "widget" and spec["names"]["listKind"] == "WidgetList"
    assert spec["conversion"] == {"strategy": "None"}
    assert created.body["status"]["storedVersions"] == ["v1"]
    crd = await established(api)
    conditions = {c["type"]: c for c in crd["status"]["conditions"]}
    assert (conditions["NamesAccepted"]["reason"], conditions["NamesAccepted"]["message"]) == (
        "NoConflicts", "no conflicts found")
    assert (conditions["Established"]["reason"], conditions["Established"]["message"]) == (
        "InitialNamesAccepted", "the initial names have been accepted")
    assert crd["status"]["acceptedNames"]["plural"] == "widgets"
    table = await api.get(CRDS, headers={"Accept": TABLE})
    assert [c["name"] for c in table.body["columnDefinitions"]] == ["Name", "Created At"]
    assert table.body["rows"][0]["cells"] == [
        f"widgets.{GROUP}", crd["metadata"]["creationTimestamp"]]


async def test_crd_validation_messages(api):
    bad = widget_crd()
    bad["metadata"]["name"] = "wrong"
    bad["spec"]["group"] = "nodots"
    reply = await api.post(CRDS, bad)
    assert reply.status == 422
    assert reply.body["message"] == (
        'CustomResourceDefinition.apiextensions.k8s.io "wrong" is invalid: ['
        'metadata.name: Invalid value: "wrong": must be spec.names.plural+"."+spec.group, '
        'spec.group: Invalid value: "nodots": should be a domain with at least one dot]')
    protected = widget_crd()
    protected["spec"]["group"] = "widgets.k8s.io"
    protected["metadata"]["name"] = "widgets.widgets.k8s.io"
    reply = await api.post(CRDS, protected)
    assert reply.status == 422
    assert "protected groups must have approval annotation" in reply.body["message"]
    no_schema = widget_crd()
    del no_schema["spec"]["versions"][0]["schema"]
    reply = await api.post(CRDS, no_schema)
    assert reply.body["details"]["causes"][0] == {
        "reason": "FieldValueRequired", "message": "Required value: schemas are required",
        "field": "spec.versions[0].schema.openAPIV3Schema"}


async def test_name_conflict_then_freed(widgets):
    api = widgets
    other = widget_crd()
    other["metadata"]["name"] = f"gadgets.{GROUP}"
    other["spec"]["names"] = {"plural": "gadgets", "singular": "gadget", "kind": "Widget"}
    assert (await api.post(CRDS, other)).status == 201
    for _ in range(100):
        got = await api.get(f"{CRDS}/gadgets.{GROUP}")
        conditions = {c["type"]: c for c in got.body["status"].get("conditions", [])}
        if "NamesAccepted" in conditions:
            break
        await asyncio.sleep(0.02)
    assert conditions["NamesAccepted"]["status"] == "False"
    assert conditions["NamesAccepted"]["reason"] == "KindConflict"
    assert conditions["NamesAccepted"]["message"] == '"Widget" is already in use'
    assert conditions["Established"]["reason"] == "NotAccepted"
    assert (await api.get(f"/apis/{GROUP}/v1/namespaces/default/gadgets")).status == 404
    await api.delete(f"{CRDS}/widgets.{GROUP}")
    accepted = await established(api, f"gadgets.{GROUP}")
    assert accepted["status"]["acceptedNames"]["kind"] == "Widget"


async def test_custom_resource_crud_defaults_pruning_and_list_kind(widgets):
    api = widgets
    created = await api.post(WIDGETS, {**widget("w1", replicas=2), "extra": 1},
                             headers={"Accept": "application/json"})
    assert created.status == 201, created.body
    assert created.body["spec"] == {"color": "blue", "replicas": 2}
    assert "extra" not in created.body
    assert created.headers["Warning"] == '299 - "unknown field \\"extra\\""'
    strict = await api.post(f"{WIDGETS}?fieldValidation=Strict",
                            {**widget("w2"), "extra": 1})
    assert strict.status == 400
    assert strict.body["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "extra"')
    listed = await api.get(WIDGETS)
    assert listed.body["kind"] == "WidgetList"
    assert [i["metadata"]["name"] for i in listed.body["items"]] == ["w1"]
    no_ns = await api.post(f"/apis/{GROUP}/v1/widgets", widget("w3"))
    assert no_ns.status == 404
    cluster_url = await api.get(f"/apis/{GROUP}/v1/widgets/w1")
    assert cluster_url.status == 404


async def test_schema_errors_are_422(widgets):
    reply = await widgets.post(WIDGETS, widget("big", replicas=15))
    assert reply.status == 422
    assert reply.body["message"].startswith('Widget.stable.example.com "big" is invalid: ')
    assert reply.body["details"]["causes"][0]["field"] == "spec.replicas"
    assert (await widgets.get(f"{WIDGETS}/big")).status == 404


async def test_patches_and_smp_refused(widgets):
    api = widgets
    await api.post(WIDGETS, widget("p", replicas=1))
    merged = await api.patch(f"{WIDGETS}/p", {"spec": {"color": "red"}}, MERGE)
    assert merged.status == 200 and merged.body["spec"]["color"] == "red"
    patched = await api.patch(f"{WIDGETS}/p", [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "0"},
        {"op": "replace", "path": "/spec/replicas", "value": 3}], JSON_PATCH)
    assert patched.status == 422
    smp = await api.patch(f"{WIDGETS}/p", {"spec": {"color": "x"}},
                          "application/strategic-merge-patch+json")
    assert smp.status == 415
    assert smp.body["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, "
        "application/apply-patch+yaml")


async def test_server_side_apply_merges_list_map_by_key(widgets):
    api = widgets
    url = f"{WIDGETS}/ssa"
    first = widget("ssa", ports=[{"name": "http", "port": 80}])
    reply = await api.patch(f"{url}?fieldManager=a", first, APPLY)
    assert reply.status == 201, reply.body
    second = widget("ssa", ports=[{"name": "https", "port": 443}])
    reply = await api.patch(f"{url}?fieldManager=b", second, APPLY)
    assert reply.status == 200, reply.body
    assert reply.body["spec"]["ports"] == [{"name": "http", "port": 80},
                                           {"name": "https", "port": 443}]
    managers = {m["manager"] for m in reply.body["metadata"]["managedFields"]}
    assert managers == {"a", "b"}


async def test_status_subresource_and_generation(widgets):
    api = widgets
    created = await api.post(WIDGETS, {**widget("s", replicas=1), "status": {"phase": "x"}})
    assert "status" not in created.body and created.body["metadata"]["generation"] == 1
    status = await api.patch(f"{WIDGETS}/s/status",
                             {"spec": {"replicas": 5}, "status": {"phase": "Ready"}}, MERGE)
    assert status.body["status"] == {"phase": "Ready"}
    assert status.body["spec"]["replicas"] == 1 and status.body["metadata"]["generation"] == 1
    main = await api.patch(f"{WIDGETS}/s", {"spec": {"replicas": 2},
                                           "status": {"phase": "Lost"}}, MERGE)
    assert main.body["status"] == {"phase": "Ready"} and main.body["metadata"]["generation"] == 2


async def test_scale_subresource(widgets):
    api = widgets
    await api.post(WIDGETS, widget("sc", replicas=1))
    await api.patch(f"{WIDGETS}/sc/status", {"status": {"replicas": 1, "selector": "a=b"}},
                    MERGE)
    scale = await api.get(f"{WIDGETS}/sc/scale")
    assert scale.body["kind"] == "Scale" and scale.body["spec"] == {"replicas": 1}
    assert scale.body["status"] == {"replicas": 1, "selector": "a=b"}
    scaled = await api.patch(f"{WIDGETS}/sc/scale", {"spec": {"replicas": 4}}, MERGE)
    assert scaled.body["spec"]["replicas"] == 4
    assert (await api.get(f"{WIDGETS}/sc")).body["spec"]["replicas"] == 4


async def test_table_and_field_selectors(widgets):
    api = widgets
    await api.post(WIDGETS, widget("red", color="red", replicas=1))
    await api.post(WIDGETS, widget("green", color="green"))
    table = await api.get(WIDGETS, headers={"Accept": TABLE})
    columns = [(c["name"], c["type"], c["priority"]) for c in table.body["columnDefinitions"]]
    assert columns == [("Name", "string", 0), ("Color", "string", 0),
                       ("Replicas", "integer", 1), ("Age", "date", 0)]
    cells = {r["cells"][0]: r["cells"][1:3] for r in table.body["rows"]}
    assert cells == {"red": ["red", 1], "green": ["green", None]}
    selected = await api.get(f"{WIDGETS}?fieldSelector=spec.color%3Dred")
    assert [i["metadata"]["name"] for i in selected.body["items"]] == ["red"]
    refused = await api.get(f"{WIDGETS}?fieldSelector=spec.replicas%3D1")
    assert refused.status == 400


async def test_discovery_and_openapi(widgets):
    api = widgets
    group = await api.get(f"/apis/{GROUP}/v1")
    names = {r["name"]: r for r in group.body["resources"]}
    assert set(names) == {"widgets", "widgets/status", "widgets/scale"}
    assert names["widgets"]["shortNames"] == ["wd"]
    assert names["widgets"]["categories"] == ["all", "toys"]
    assert names["widgets/scale"]["group"] == "autoscaling"
    agg = await api.get("/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
    custom = [g for g in agg.body["items"] if g["metadata"]["name"] == GROUP]
    assert custom and custom[0]["versions"][0]["resources"][0]["singularResource"] == "widget"
    root = await api.get("/openapi/v3")
    url = root.body["paths"][f"apis/{GROUP}/v1"]["serverRelativeURL"]
    doc = await api.get(url)
    schema = doc.body["components"]["schemas"]["com.example.stable.v1.Widget"]
    assert schema["properties"]["spec"]["properties"]["color"]["description"] == "Paint colour."
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": GROUP, "kind": "Widget", "version": "v1"}]
    crd = (await api.get(f"{CRDS}/widgets.{GROUP}")).body
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "description"] = "Changed."
    assert (await api.put(f"{CRDS}/widgets.{GROUP}", crd)).status == 200
    for _ in range(100):
        changed = (await api.get("/openapi/v3")).body["paths"][f"apis/{GROUP}/v1"]
        if changed["serverRelativeURL"] != url:
            break
        await asyncio.sleep(0.02)
    assert changed["serverRelativeURL"] != url
    v2 = await api.get("/openapi/v2", headers={"Accept": "application/json"})
    assert "com.example.stable.v1.Widget" in v2.body["definitions"]


async def test_versions_storage_and_unserved(api):
    versions = [
        {"name": "v1beta1", "served": True, "storage": True,
         "schema": {"openAPIV3Schema": WIDGET_SCHEMA}},
        {"name": "v1", "served": True, "storage": False,
         "schema": {"openAPIV3Schema": WIDGET_SCHEMA}},
        {"name": "v1alpha1", "served": False, "storage": False,
         "schema": {"openAPIV3Schema": WIDGET_SCHEMA}},
    ]
    assert (await api.post(CRDS, widget_crd(versions))).status == 201
    await established(api)
    beta = f"/apis/{GROUP}/v1beta1/namespaces/default/widgets"
    created = await api.post(beta, {**widget("mv"), "apiVersion": f"{GROUP}/v1beta1"})
    assert created.status == 201 and created.body["apiVersion"] == f"{GROUP}/v1beta1"
    as_v1 = await api.get(f"{WIDGETS}/mv")
    assert as_v1.body["apiVersion"] == f"{GROUP}/v1"
    assert (await api.get(f"/apis/{GROUP}/v1alpha1/namespaces/default/widgets/mv")).status \
        == 404
    group = await api.get(f"/apis/{GROUP}")
    assert group.body["preferredVersion"]["version"] == "v1"
    crd = (await api.get(f"{CRDS}/widgets.{GROUP}")).body
    crd["spec"]["versions"][0]["storage"], crd["spec"]["versions"][1]["storage"] = False, True
    updated = await api.put(f"{CRDS}/widgets.{GROUP}", crd)
    assert updated.body["status"]["storedVersions"] == ["v1beta1", "v1"]


async def test_delete_crd_removes_instances_then_kind(widgets):
    api = widgets
    await api.post(WIDGETS, widget("gone"))
    held = widget("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    await api.post(WIDGETS, held)
    deleted = await api.delete(f"{CRDS}/widgets.{GROUP}")
    assert deleted.status == 200
    assert "customresourcecleanup.apiextensions.k8s.io" in deleted.body["metadata"]["finalizers"]
    for _ in range(200):
        if (await api.get(f"{WIDGETS}/gone")).status == 404:
            break
        await asyncio.sleep(0.02)
    refused = await api.post(WIDGETS, widget("new"))
    assert refused.status == 405
    assert refused.body["message"] == (
        "create not allowed while custom resource definition is terminating")
    crd = (await api.get(f"{CRDS}/widgets.{GROUP}")).body
    terminating = {c["type"]: c for c in crd["status"]["conditions"]}["Terminating"]
    assert (terminating["status"], terminating["reason"]) == ("True",
                                                            "InstanceDeletionInProgress")
    await api.patch(f"{WIDGETS}/held", {"metadata": {"finalizers": None}}, MERGE)
    for _ in range(300):
        if (await api.get(f"{CRDS}/widgets.{GROUP}")).status == 404:
            break
        await asyncio.sleep(0.02)
    assert (await api.get(f"{CRDS}/widgets.{GROUP}")).status == 404
    assert (await api.get(f"/apis/{GROUP}/v1")).status == 404


async def test_defaults_on_read_after_schema_change(widgets):
    api = widgets
    await api.post(WIDGETS, widget("old", replicas=1))
    crd = (await api.get(f"{CRDS}/widgets.{GROUP}")).body
    spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec_schema["properties"]["size"] = {"type": "string", "default": "small"}
    assert (await api.put(f"{CRDS}/widgets.{GROUP}", crd)).status == 200
    for _ in range(100):
        got = await api.get(f"{WIDGETS}/old")
        if got.body["spec"].get("size") == "small":
            break
        await asyncio.sleep(0.02)
    assert got.body["spec"] == {"color": "blue", "replicas": 1, "size": "small"}
    listed = await api.get(WIDGETS)
    assert listed.body["items"][0]["spec"]["size"] == "small"


async def test_watch_custom_resources_with_selectable_field(widgets):
    api = widgets
    first = await api.post(WIDGETS, widget("before", color="red"))
    rv = first.body["metadata"]["resourceVersion"]
    await api.post(WIDGETS, widget("red-one", color="red"))
    await api.post(WIDGETS, widget("green-one", color="green"))
    url = (f"/apis/{GROUP}/v1/widgets?watch=true&resourceVersion={rv}"
           "&fieldSelector=spec.color%3Dred&timeoutSeconds=1")
    reply = await api.get(url)
    # one event parses as a JSON document, several stay text (JSON lines)
    events = ([json.loads(line) for line in reply.body.splitlines()]
              if isinstance(reply.body, str) else [reply.body])
    assert [(e["type"], e["object"]["metadata"]["name"], e["object"]["apiVersion"])
            for e in events] == [("ADDED", "red-one", f"{GROUP}/v1")]


async def test_crd_update_rules(widgets):
    api = widgets
    crd = (await api.get(f"{CRDS}/widgets.{GROUP}")).body
    crd["spec"]["scope"] = "Cluster"
    crd["spec"]["names"]["plural"] = "gizmos"
    reply = await api.put(f"{CRDS}/widgets.{GROUP}", crd)
    assert reply.status == 422
    fields = {c["field"]: c["message"] for c in reply.body["details"]["causes"]}
    assert fields["spec.scope"] == 'Invalid value: "Cluster": field is immutable'
    assert fields["spec.names.plural"] == 'Invalid value: "gizmos": field is immutable'
    crd = (await api.get(f"{CRDS}/widgets.{GROUP}")).body
    crd["status"]["storedVersions"] = []
    reply = await api.put(f"{CRDS}/widgets.{GROUP}/status", crd)
    assert reply.status == 422


async def test_deprecated_version_warns(api):
    crd = widget_crd()
    crd["spec"]["versions"][0]["deprecated"] = True
    assert (await api.post(CRDS, crd)).status == 201
    await established(api)
    reply = await api.post(WIDGETS, widget("old"))
    assert reply.headers["Warning"] == f'299 - "{GROUP}/v1 Widget is deprecated"'


async def test_metadata_coerced(widgets):
    api = widgets
    body = widget("meta")
    body["metadata"].update({"generation": 7, "bogus": "x"})
    created = await api.post(WIDGETS, body)
    assert created.status == 201
    assert created.body["metadata"]["generation"] == 1 and "bogus" not in created.body["metadata"]
    assert created.headers["Warning"] == '299 - "unknown field \\"metadata.bogus\\""'
    mistyped = widget("labels")
    mistyped["metadata"]["labels"] = {"a": 1}
    reply = await api.post(WIDGETS, mistyped)
    assert reply.status == 400
    assert reply.body["message"].startswith(
        'Widget in version "v1" cannot be handled as a Widget: ')


async def test_generation_counts_status_without_its_subresource(api):
    crd = widget_crd()
    del crd["spec"]["versions"][0]["subresources"]
    assert (await api.post(CRDS, crd)).status == 201
    await established(api)
    created = await api.post(WIDGETS, {**widget("plain"), "status": {"phase": "new"}})
    assert created.body["status"] == {"phase": "new"}
    patched = await api.patch(f"{WIDGETS}/plain", {"status": {"phase": "old"}}, MERGE)
    assert patched.body["metadata"]["generation"] == 2
    assert (await api.get(f"{WIDGETS}/plain/status")).status == 404
