"""`portico.client.Api` and the informer against a real API server.

The facade is what every component reads and writes through: dicts in and out,
errors as the server's Status, subresources, server-side apply, and watches that
resume from the last version seen (and list again only on 410 Gone).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from portico.apiserver.server import ApiServer
from portico.client import REAL_CLOCK, Api, ApiError, Informer, InformerFactory, PatchType
from portico.model.kinds import CONFIG_MAP, NAMESPACE, NODE, POD, POD_BINDING
from tests.api.conftest import start_api


async def until(condition: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@dataclass
class Served:
    server: ApiServer
    api: Api

    async def restart(self) -> None:
        """Stop the server and start a new one on the same data (and port)."""
        await self.server.stop()
        self.server = ApiServer(self.server.config)
        await self.server.start()


@pytest.fixture
async def served(tmp_path: Any) -> AsyncIterator[Served]:
    server, raw = await start_api(tmp_path)
    await raw.session.close()
    served = Served(server, Api.connect(server.kubeconfig, field_manager="facade-test"))
    try:
        yield served
    finally:
        await served.api.close()
        await served.server.stop()


def config_map(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": data}


async def test_objects_go_in_and_come_out_as_dicts(served: Served) -> None:
    api = served.api
    created = await api.create(CONFIG_MAP, config_map("one", a="1"))
    assert type(created) is dict and created["data"] == {"a": "1"}
    assert (await api.get(CONFIG_MAP, "one", "default"))["metadata"]["uid"] == \
        created["metadata"]["uid"]
    patched = await api.patch(CONFIG_MAP, "one", {"data": {"b": "2"}}, "default")
    assert patched["data"] == {"a": "1", "b": "2"}
    jsonpatched = await api.patch(CONFIG_MAP, "one", [{"op": "remove", "path": "/data/a"}],
                                  "default", patch_type=PatchType.JSON)
    assert jsonpatched["data"] == {"b": "2"}
    applied = await api.apply(CONFIG_MAP, config_map("two", c="3"), field_manager="tester")
    assert [m["manager"] for m in applied["metadata"]["managedFields"]] == ["tester"]
    listing = await api.list(CONFIG_MAP, "default")
    assert {"one", "two"} <= {o["metadata"]["name"] for o in listing.items}
    assert listing.resource_version and int(listing.resource_version) > 0
    assert (await api.list(NAMESPACE)).items, "cluster-scoped kinds list without a namespace"


async def test_errors_carry_the_servers_status(served: Served) -> None:
    api = served.api
    with pytest.raises(ApiError) as missing:
        await api.get(CONFIG_MAP, "absent", "default")
    assert (missing.value.code, missing.value.status.reason) == (404, "NotFound")
    assert missing.value.status.message == 'configmaps "absent" not found'
    assert await api.get_or_none(CONFIG_MAP, "absent", "default") is None
    stale = await api.create(CONFIG_MAP, config_map("stale"))
    await api.patch(CONFIG_MAP, "stale", {"data": {"x": "1"}}, "default")
    with pytest.raises(ApiError) as conflict:
        await api.replace(CONFIG_MAP, stale)
    assert (conflict.value.code, conflict.value.status.reason) == (409, "Conflict")
    await api.delete(CONFIG_MAP, "stale", "default")
    assert await api.get_or_none(CONFIG_MAP, "stale", "default") is None


async def test_subresources_status_and_binding(served: Served) -> None:
    api = served.api
    await api.create(NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    await api.create(POD, {"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": "p", "namespace": "default"},
                           "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    await api.create(POD_BINDING, {"apiVersion": "v1", "kind": "Binding",
                                   "metadata": {"name": "p"},
                                   "target": {"kind": "Node", "name": "n1"}},
                     namespace="default", name="p")
    pod = await api.get(POD, "p", "default")
    assert pod["spec"]["nodeName"] == "n1"
    updated = await api.patch(POD.status, "p", {"status": {"phase": "Running"}}, "default")
    assert updated["status"]["phase"] == "Running"


class HeldClock:
    """Real time, except that the informer's retry waits until `release()`."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.waiting = 0

    def now(self) -> float:
        return REAL_CLOCK.now()

    async def sleep(self, seconds: float) -> None:
        self.waiting += 1
        await self.released.wait()

    def call_later(self, seconds: float, callback: Any) -> Any:
        return REAL_CLOCK.call_later(seconds, callback)

    def release(self) -> None:
        self.released.set()
        self.released = asyncio.Event()


async def test_an_informer_resumes_from_its_version_and_relists_only_when_gone(
        served: Served) -> None:
    api = served.api
    lists = 0
    real_list = api.list

    async def counting_list(*args: Any, **kwargs: Any) -> Any:
        nonlocal lists
        lists += 1
        return await real_list(*args, **kwargs)

    api.list = counting_list  # type: ignore[method-assign]
    clock = HeldClock()
    informer = Informer(api, CONFIG_MAP, clock=clock)
    seen: list[str] = []
    informer.add_handler(lambda _old, new: new and seen.append(new["metadata"]["name"]))
    informer.start()
    try:
        await informer.wait_synced()
        await api.create(CONFIG_MAP, config_map("before"))
        await until(lambda: "before" in seen)
        # A watch that breaks resumes from the last version: no second listing (the
        # stream a stopping server ends is opened again at once; one cut off waits
        # for the retry first).
        await served.restart()
        await api.create(CONFIG_MAP, config_map("after-restart"))
        await until(lambda: "after-restart" in seen or clock.waiting == 1)
        clock.release()
        await until(lambda: "after-restart" in seen)
        assert lists == 1
        # A version compacted away (410 Gone) makes the informer list again.
        await informer.stop()
        for i in range(12):
            await api.create(CONFIG_MAP, config_map(f"burst-{i}"))
        served.server.store.compact(5)
        informer.start()
        await until(lambda: {f"burst-{i}" for i in range(12)} <= set(seen))
        assert lists == 2
        assert informer.get("default/burst-11") is not None
    finally:
        await informer.stop()


def bound_pod(name: str, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]}}


async def test_a_field_scoped_informer_lists_and_watches_only_what_matches(
        served: Served) -> None:
    """The node agent's informer: only the pods bound to its node, listed and watched;
    a handler added once it has synced is first told about every cached object."""
    api = served.api
    await api.create(POD, bound_pod("mine", "n1"))
    await api.create(POD, bound_pod("theirs", "n2"))
    factory = InformerFactory(api)
    informer = factory.informer(POD, fields={"spec.nodeName": "n1"})
    assert factory.informer(POD, fields={"spec.nodeName": "n1"}) is informer
    assert factory.informer(POD) is not informer
    factory.start()
    try:
        await informer.wait_synced()
        assert informer.list_keys() == ["default/mine"]
        seen: list[tuple[str | None, str | None]] = []
        informer.add_handler(lambda old, new: seen.append(
            ((old or {}).get("metadata", {}).get("name"),
             (new or {}).get("metadata", {}).get("name"))))
        assert seen == [(None, "mine")]
        await api.create(POD, bound_pod("later-theirs", "n2"))
        await api.create(POD, bound_pod("later-mine", "n1"))
        await until(lambda: (None, "later-mine") in seen)
        await api.delete(POD, "mine", "default", grace_period=0)
        await until(lambda: ("mine", None) in seen)
        assert sorted(informer.list_keys()) == ["default/later-mine"]
        assert all("theirs" not in (old or new or "") for old, new in seen)
    finally:
        await factory.stop()
