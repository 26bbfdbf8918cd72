"""The garbage collector against a real API server: background, foreground and orphan."""

from __future__ import annotations

from portico.client import Api, CascadeType, Obj
from portico.model.kinds import CONFIG_MAP
from tests.unit.controllers.conftest import eventually


async def configmap(client: Api, name: str, owner: Obj | None = None) -> Obj:
    """Create a ConfigMap (owned by `owner` if given)."""
    meta: Obj = {"name": name, "namespace": "default"}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap",
                                    "name": owner["metadata"]["name"],
                                    "uid": owner["metadata"]["uid"]}]
    return await client.create(CONFIG_MAP, {"apiVersion": "v1", "kind": "ConfigMap",
                                            "metadata": meta})


async def _exists(client: Api, name: str) -> bool:
    return await client.get_or_none(CONFIG_MAP, name, namespace="default") is not None


async def test_background_foreground_and_orphan_deletion(cluster_factory):
    c = await cluster_factory("garbagecollector")
    client = c.client
    # background: the dependent goes after its owner
    owner = await configmap(client, "owner")
    await configmap(client, "dependent", owner)
    await client.delete(CONFIG_MAP, "owner", namespace="default")

    async def dependent_gone():
        return not await _exists(client, "dependent")

    await eventually(dependent_gone)
    # foreground: the owner stays (with the finalizer) until its dependents are gone
    owner = await configmap(client, "fg-owner")
    await configmap(client, "fg-child", owner)
    await client.delete(CONFIG_MAP, "fg-owner", namespace="default",
                        cascade=CascadeType.FOREGROUND)

    async def both_gone():
        return not await _exists(client, "fg-child") and not await _exists(client, "fg-owner")

    await eventually(both_gone)
    # orphan: the dependent stays and loses its ownerReference
    owner = await configmap(client, "or-owner")
    await configmap(client, "or-child", owner)
    await client.delete(CONFIG_MAP, "or-owner", namespace="default", cascade=CascadeType.ORPHAN)

    async def released():
        if await _exists(client, "or-owner"):
            return False
        child = await client.get(CONFIG_MAP, "or-child", namespace="default")
        return not child["metadata"].get("ownerReferences")

    await eventually(released)


async def test_dependents_of_a_vanished_owner_uid_go_though_the_name_is_reused(cluster_factory):
    c = await cluster_factory("garbagecollector")
    client = c.client
    vanished = await configmap(client, "reused")
    await client.delete(CONFIG_MAP, "reused", namespace="default")
    await configmap(client, "reused")  # the same name, another uid
    # what a controller with the deleted owner still in its cache would create
    await configmap(client, "ghost-child", vanished)

    async def ghost_child_gone():
        return not await _exists(client, "ghost-child")

    await eventually(ghost_child_gone)
    assert await _exists(client, "reused")
