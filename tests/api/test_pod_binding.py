"""`pods/binding`: the scheduler's write sets the node and PodScheduled=True, once."""

from __future__ import annotations

PODS = "/api/v1/namespaces/default/pods"


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}


def binding(name: str, node: str) -> dict:
    return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}


async def test_binding_sets_node_and_pod_scheduled(api):
    assert (await api.post(PODS, pod("web"))).status == 201
    bound = await api.post(f"{PODS}/web/binding", binding("web", "node-2"))
    assert bound.status == 201
    assert bound.body["status"] == "Success"
    got = (await api.get(f"{PODS}/web")).body
    assert got["spec"]["nodeName"] == "node-2"
    scheduled = [c for c in got["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert len(scheduled) == 1
    assert scheduled[0]["status"] == "True" and scheduled[0]["lastTransitionTime"]
    again = await api.post(f"{PODS}/web/binding", binding("web", "node-1"))
    assert again.status == 409
    assert again.body["message"] == ('Operation cannot be fulfilled on pods/binding "web": '
                                     'pod web is already assigned to node "node-2"')
