"""Lists served from the memo cache answer exactly what a fresh decode would."""

from __future__ import annotations

import datetime

import orjson
import pytest

from portico.apiserver import _tables
from portico.apiserver._bodies import list_items, stored_items
from portico.apiserver._tables import list_table, table
from portico.apiserver.registry import ListOptions, Registry
from portico.apiserver.registry._objects import object_key
from portico.apiserver.resources.services import ServiceConfig
from portico.apiserver.server import resources_for
from portico.store import SqliteStore

CREATED = "2026-01-01T00:00:00Z"
LATER = [datetime.timedelta(seconds=s) for s in (5, 3 * 60 + 7, 3 * 3600, 400 * 86400)]


def _pod(name: str, restarts: int) -> dict:
    status = {"phase": "Running", "containerStatuses": [{
        "name": "c", "ready": True, "restartCount": restarts, "state": {"running": {}},
        "lastState": {"terminated": {"finishedAt": "2026-01-01T00:02:00Z"}} if restarts else {},
    }]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": "ns", "uid": f"u-{name}", "creationTimestamp": CREATED},
        "spec": {"containers": [{"name": "c", "image": "pause"}], "nodeName": "node-1"},
        "status": status}


def _event(name: str, last: str | None) -> dict:
    obj = {"apiVersion": "v1", "kind": "Event", "metadata": {
        "name": name, "namespace": "ns", "uid": f"u-{name}", "creationTimestamp": CREATED},
        "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Started", "type": "Normal",
        "firstTimestamp": CREATED, "count": 2}
    if last:
        obj["lastTimestamp"] = last
    return obj


def _service(name: str, created: str | None = CREATED) -> dict:
    meta = {"name": name, "namespace": "ns", "uid": f"u-{name}"}
    if created:
        meta["creationTimestamp"] = created
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {
        "type": "ClusterIP", "clusterIP": "10.0.0.9", "clusterIPs": ["10.0.0.9"],
        "selector": {"app": name},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}}


@pytest.fixture
def registry(tmp_path):
    store = SqliteStore(tmp_path / "db.sqlite")
    yield Registry(store, resources_for(ServiceConfig()))
    store.close()


def _put(registry: Registry, plural: str, obj: dict) -> None:
    rt = registry.find("", "v1", plural)
    key = object_key(rt, obj["metadata"]["namespace"], obj["metadata"]["name"])
    with registry.store.txn() as txn:
        txn.put(key, orjson.dumps(obj))


CASES = [
    pytest.param("services", [_service("a"), _service("b", None)], id="services-age-only"),
    pytest.param("pods", [_pod("p0", 0), _pod("p1", 3)], id="pods-restarts-ago"),
    pytest.param("events", [_event("e0", None), _event("e1", "2026-01-01T00:01:30Z"),
                            _event("e2", "2030-01-01T00:00:00Z")], id="events-last-seen"),
]


@pytest.mark.parametrize("include", ["Metadata", "Object", "None"])
@pytest.mark.parametrize(("plural", "objs"), CASES)
def test_memoized_table_rows_equal_fresh_rows_at_every_instant(
        registry, monkeypatch, plural, objs, include):
    for obj in objs:
        _put(registry, plural, obj)
    rt = registry.find("", "v1", plural)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for delta in LATER:  # the first list fills the memos, the later ones use them
        monkeypatch.setattr(_tables, "now_utc", lambda d=delta: start + d)
        listed = registry.list(rt, "ns", ListOptions())
        cached = orjson.loads(orjson.dumps(list_table(rt, listed.stored, include, "7")))
        fresh = orjson.loads(orjson.dumps(table(rt, listed.items, include, "7")))
        assert cached == fresh


def test_age_only_kinds_use_a_template_and_others_compute_in_full(registry):
    _put(registry, "services", _service("a"))
    _put(registry, "pods", _pod("p1", 3))
    _put(registry, "pods", _pod("p0", 0))
    services = registry.find("", "v1", "services")
    pods = registry.find("", "v1", "pods")
    for rt in (services, pods):
        list_table(rt, registry.list(rt, "ns", ListOptions()).stored)
        assert "table-row" not in registry.list(rt, "ns", ListOptions()).stored[0].memo
        list_table(rt, registry.list(rt, "ns", ListOptions()).stored)  # probed the 2nd time
    templates = {
        item.kv.key.rsplit("/", 1)[1]: (item.memo["table-row"].full,
                                        item.memo["table-row"].age_positions)
        for rt in (services, pods) for item in registry.list(rt, "ns", ListOptions()).stored}
    assert templates == {"a": (False, (5,)), "p0": (False, (4,)), "p1": (True, ())}


def test_a_new_version_is_listed_fresh_and_items_belong_to_the_caller(registry):
    rt = registry.find("", "v1", "services")
    _put(registry, "services", _service("a"))
    first = registry.list(rt, "ns", ListOptions())
    list_table(rt, first.stored)
    first.items[0]["spec"]["clusterIP"] = "mutated"
    again = registry.list(rt, "ns", ListOptions())
    assert again.stored[0].memo is first.stored[0].memo
    assert again.items[0]["spec"]["clusterIP"] == "10.0.0.9"
    changed = _service("a")
    changed["spec"]["clusterIP"], changed["spec"]["clusterIPs"] = "10.0.0.10", ["10.0.0.10"]
    _put(registry, "services", changed)
    assert len(registry.reader.cache) == 0  # the commit dropped the memo
    latest = registry.list(rt, "ns", ListOptions())
    row = list_table(rt, latest.stored)["rows"][0]
    assert row["cells"][2] == "10.0.0.10"
    assert orjson.loads(orjson.dumps(stored_items(rt, latest.stored))) == [
        {**changed, "metadata": {**changed["metadata"],
                                 "resourceVersion": str(latest.stored[0].kv.mod_revision)}}]


def test_json_list_items_equal_fresh_items_and_a_delete_forgets(registry):
    rt = registry.find("", "v1", "services")
    for name in ("a", "b"):
        body = _service(name)
        del body["kind"]  # items get apiVersion/kind in the response, not in the cache
        _put(registry, "services", body)
    listed = registry.list(rt, "ns", ListOptions())
    for _ in range(2):
        assert orjson.loads(orjson.dumps(stored_items(rt, listed.stored))) == \
            orjson.loads(orjson.dumps(list_items(rt, listed.items)))
    assert "kind" not in listed.items[0]
    assert len(registry.reader.cache) == 2
    with registry.store.txn() as txn:
        txn.delete(listed.stored[0].kv.key)
    assert len(registry.reader.cache) == 1
    assert [i.kv.key.rsplit("/", 1)[1] for i in registry.list(rt, "ns", ListOptions()).stored] \
        == ["b"]
