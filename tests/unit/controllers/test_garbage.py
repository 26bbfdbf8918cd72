"""The garbage collector against a real API server: background, foreground and orphan."""

from __future__ import annotations

from lightkube import ApiError
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import CascadeType

from tests.unit.controllers.conftest import eventually

Obj = dict


def configmap(name: str, owner: object | None = None) -> ConfigMap:
    meta: Obj = {"name": name, "namespace": "default"}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap",
                                    "name": owner.metadata.name,  # type: ignore[attr-defined]
                                    "uid": owner.metadata.uid}]  # type: ignore[attr-defined]
    return ConfigMap.from_dict({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})


async def _exists(client, name: str) -> bool:
    try:
        await client.get(ConfigMap, name, namespace="default")
    except ApiError as error:
        assert error.status.code == 404
        return False
    return True


async def test_background_foreground_and_orphan_deletion(cluster_factory):
    c = await cluster_factory("garbagecollector")
    client = c.client
    # background: the dependent goes after its owner
    owner = await client.create(configmap("owner"))
    await client.create(configmap("dependent", owner))
    await client.delete(ConfigMap, "owner", namespace="default")

    async def dependent_gone():
        return not await _exists(client, "dependent")

    await eventually(dependent_gone)
    # foreground: the owner stays (with the finalizer) until its dependents are gone
    owner = await client.create(configmap("fg-owner"))
    await client.create(configmap("fg-child", owner))
    await client.delete(ConfigMap, "fg-owner", namespace="default",
                        cascade=CascadeType.FOREGROUND)

    async def both_gone():
        return not await _exists(client, "fg-child") and not await _exists(client, "fg-owner")

    await eventually(both_gone)
    # orphan: the dependent stays and loses its ownerReference
    owner = await client.create(configmap("or-owner"))
    await client.create(configmap("or-child", owner))
    await client.delete(ConfigMap, "or-owner", namespace="default", cascade=CascadeType.ORPHAN)

    async def released():
        if await _exists(client, "or-owner"):
            return False
        child = await client.get(ConfigMap, "or-child", namespace="default")
        return not child.metadata.ownerReferences

    await eventually(released)


async def test_dependents_of_a_vanished_owner_uid_go_though_the_name_is_reused(cluster_factory):
    c = await cluster_factory("garbagecollector")
    client = c.client
    vanished = await client.create(configmap("reused"))
    await client.delete(ConfigMap, "reused", namespace="default")
    await client.create(configmap("reused"))  # the same name, another uid
    # what a controller with the deleted owner still in its cache would create
    await client.create(configmap("ghost-child", vanished))

    async def ghost_child_gone():
        return not await _exists(client, "ghost-child")

    await eventually(ghost_child_gone)
    assert await _exists(client, "reused")
