"""Builders for the NetworkPolicy unit tests: upstream's x/y/z x a/b/c model as values."""

from __future__ import annotations

from typing import Any

from portico.netpol.model import (
    Cluster,
    Pod,
    Policy,
    labels_of,
    pod_from_object,
    policy_from_object,
)

NODE_ADDRESSES = {f"node-{i}": frozenset({f"10.224.0.{3 + i}", f"10.244.{i - 1}.1"})
                  for i in (1, 2, 3)}


def pod(namespace: str, name: str, ip: str, node: int = 1, **labels: str) -> Pod:
    ports = [{"name": f"serve-{p}-{proto.lower()}", "containerPort": p, "protocol": proto}
             for p in (80, 81) for proto in ("TCP", "UDP")]
    made = pod_from_object({
        "metadata": {"namespace": namespace, "name": name, "labels": labels or {"pod": name}},
        "spec": {"nodeName": f"node-{node}", "containers": [{"ports": ports}]},
        "status": {"podIP": ip, "phase": "Running"}})
    assert made is not None
    return made


def model_pods() -> list[Pod]:
    """x/a on node-1 = 10.244.0.10, x/b on node-2 = 10.244.1.10, ..., z/c = 10.244.2.12."""
    return [pod(ns, name, f"10.244.{j}.{10 + i}", node=j + 1)
            for i, ns in enumerate("xyz") for j, name in enumerate("abc")]


def policy(namespace: str, name: str, spec: dict[str, Any]) -> Policy:
    return policy_from_object({"metadata": {"namespace": namespace, "name": name},
                               "spec": spec})


def cluster(*policies: Policy) -> Cluster:
    c = Cluster(node_addresses=dict(NODE_ADDRESSES))
    for p in model_pods():
        c.pods[p.ip] = p
    for ns in "xyz":
        c.namespaces[ns] = labels_of({"kubernetes.io/metadata.name": ns})
    for p in policies:
        c.policies[p.key] = p
    return c


def ip(key: str) -> str:
    ns, name = key.split("/")
    return f"10.244.{'abc'.index(name)}.{10 + 'xyz'.index(ns)}"
