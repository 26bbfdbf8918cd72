"""Lists (selectors, paging, Tables) and watches through the real HTTP API."""

from __future__ import annotations

import asyncio

import orjson

from tests.api.conftest import start_api

CM = "/api/v1/namespaces/default/configmaps"
TABLE = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
         "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")


async def _make(api, n: int, prefix: str = "cm", labels=None) -> None:
    for i in range(n):
        body = {"metadata": {"name": f"{prefix}{i:02d}", "labels": labels or {"i": str(i)}}}
        assert (await api.post(CM, body)).status == 201


async def test_paging_with_limit_and_continue(api):
    await _make(api, 7)
    first = (await api.get(f"{CM}?limit=3")).body
    assert [i["metadata"]["name"] for i in first["items"]] == ["cm00", "cm01", "cm02"]
    assert first["metadata"]["remainingItemCount"] == 4
    token = first["metadata"]["continue"]
    second = (await api.get(f"{CM}?limit=3&continue={token}")).body
    assert [i["metadata"]["name"] for i in second["items"]] == ["cm03", "cm04", "cm05"]
    third = (await api.get(f"{CM}?limit=3&continue={second['metadata']['continue']}")).body
    assert [i["metadata"]["name"] for i in third["items"]] == ["cm06"]
    assert "continue" not in third["metadata"]


async def test_label_selectors(api):
    for name, app in (("a", "web"), ("b", "api"), ("c", "db")):
        await api.post(CM, {"metadata": {"name": name, "labels": {"app": app}}})
    await api.post(CM, {"metadata": {"name": "d"}})

    async def names(selector: str) -> list[str]:
        reply = await api.get(f"{CM}?labelSelector={selector}")
        return [i["metadata"]["name"] for i in reply.body["items"]]

    assert await names("app%3Dweb") == ["a"]
    assert await names("app%20in%20(web,api)") == ["a", "b"]
    assert await names("app%20notin%20(web)") == ["b", "c", "d"]
    assert await names("!app") == ["d"]
    assert await names("app") == ["a", "b", "c"]
    bad = await api.get(f"{CM}?labelSelector=app%3D%3D%3D")
    assert bad.status == 400 and bad.body["reason"] == "BadRequest"


async def test_field_selectors(api):
    await _make(api, 2)
    reply = await api.get(f"{CM}?fieldSelector=metadata.name%3Dcm01")
    assert [i["metadata"]["name"] for i in reply.body["items"]] == ["cm01"]
    everywhere = await api.get("/api/v1/configmaps?fieldSelector=metadata.namespace%3Ddefault")
    assert len(everywhere.body["items"]) == 2
    bad = await api.get(f"{CM}?fieldSelector=spec.foo%3Dbar")
    assert bad.status == 400
    assert bad.body["message"] == (
        '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"')
    svc = await api.get("/api/v1/namespaces/default/services?fieldSelector=spec.foo%3Dbar")
    assert svc.body["message"] == "field label not supported: spec.foo"


async def test_table_list_has_columns_and_partial_metadata(api):
    await api.post("/api/v1/namespaces/default/services",
                   {"metadata": {"name": "web", "labels": {"app": "web"}},
                    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    reply = await api.get("/api/v1/namespaces/default/services", headers={"Accept": TABLE})
    assert reply.headers["Content-Type"].startswith("application/json;as=Table")
    table = reply.body
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    rows = {r["cells"][0]: r for r in table["rows"]}
    assert rows["web"]["cells"][1:5][0] == "ClusterIP"
    assert rows["web"]["cells"][4] == "80/TCP"
    assert rows["web"]["object"]["kind"] == "PartialObjectMetadata"
    assert rows["web"]["object"]["metadata"]["labels"] == {"app": "web"}


async def _read_events(resp, count: int) -> list[dict]:
    events = []
    while len(events) < count:
        line = await asyncio.wait_for(resp.content.readline(), 5)
        if not line:
            break
        events.append(orjson.loads(line))
    return events


async def test_watch_from_zero_sends_initial_state_then_changes(api):
    await _make(api, 2)
    async with api.session.get(f"{api.base}{CM}?watch=true&resourceVersion=0") as resp:
        assert resp.status == 200
        initial = await _read_events(resp, 2)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in initial] == [
            ("ADDED", "cm00"), ("ADDED", "cm01")]
        await api.post(CM, {"metadata": {"name": "late"}})
        await api.delete(f"{CM}/cm00")
        later = await _read_events(resp, 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in later] == [
        ("ADDED", "late"), ("DELETED", "cm00")]


async def test_watch_from_version_sends_only_later_events(api):
    await _make(api, 1)
    rv = (await api.get(CM)).body["metadata"]["resourceVersion"]
    await api.put(f"{CM}/cm00", {"metadata": {"name": "cm00"}, "data": {"x": "1"}})
    async with api.session.get(f"{api.base}{CM}?watch=1&resourceVersion={rv}") as resp:
        events = await _read_events(resp, 1)
    assert events[0]["type"] == "MODIFIED"
    assert events[0]["object"]["data"] == {"x": "1"}


async def test_watch_label_selector_turns_changes_into_added_and_deleted(api):
    await api.post(CM, {"metadata": {"name": "w", "labels": {"app": "no"}}})
    url = f"{api.base}{CM}?watch=1&labelSelector=app%3Dyes"
    async with api.session.get(url) as resp:
        await api.patch(f"{CM}/w", {"metadata": {"labels": {"app": "yes"}}},
                        "application/merge-patch+json")
        await api.patch(f"{CM}/w", {"metadata": {"labels": {"app": "no"}}},
                        "application/merge-patch+json")
        events = await _read_events(resp, 2)
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]


async def test_watch_timeout_ends_the_stream(api):
    async with api.session.get(f"{api.base}{CM}?watch=1&timeoutSeconds=1") as resp:
        body = await asyncio.wait_for(resp.read(), 5)
    assert body == b""


async def test_watch_bookmarks_only_when_asked(api):
    url = f"{api.base}{CM}?watch=1&allowWatchBookmarks=true&timeoutSeconds=7"
    async with api.session.get(url) as resp:
        events = await _read_events(resp, 1)
    assert events[0]["type"] == "BOOKMARK"
    assert events[0]["object"]["metadata"]["resourceVersion"]


async def test_watch_table_events_carry_headers_once(api):
    url = f"{api.base}{CM}?watch=1&resourceVersion=0"
    await _make(api, 2)
    async with api.session.get(url, headers={"Accept": TABLE}) as resp:
        events = await _read_events(resp, 2)
    first, second = (e["object"] for e in events)
    assert first["kind"] == "Table" and first["columnDefinitions"]
    assert second["columnDefinitions"] is None
    assert first["rows"][0]["cells"][0] == "cm00"


async def test_too_old_resource_version_is_410_in_the_stream(tmp_path):
    server, api = await start_api(tmp_path, history=2)
    try:
        for i in range(6):
            await api.post(CM, {"metadata": {"name": f"x{i}"}})
        server.store.compact(2)
        async with api.session.get(f"{api.base}{CM}?watch=1&resourceVersion=2") as resp:
            assert resp.status == 200
            events = await _read_events(resp, 1)
        error = events[0]
        assert error["type"] == "ERROR"
        assert error["object"]["code"] == 410
        assert error["object"]["reason"] == "Expired"
        assert error["object"]["message"].startswith("too old resource version: 2 (")
    finally:
        await api.session.close()
        await server.stop()
