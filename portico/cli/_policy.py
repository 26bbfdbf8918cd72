"""`portico policy check --from NS/POD --to NS/POD:PORT`: would this connection be allowed?

The answer comes from the model the node agents render their nftables rules from
(`portico.netpol.model`): the same Pods, Namespaces, NetworkPolicies and Nodes,
read through the API, give the same verdict. `format_decision()` is pure; `check()`
reads the objects (portico.client) and decides. The exit status is 0 when the connection
would be allowed and 1 when not, like `kubectl auth can-i`.

`--from` may also be an IPv4 address (a client outside the cluster, or a node);
`--to`'s port may be a number or the name of one of the pod's container ports.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from portico.client import Api
from portico.model.kinds import NAMESPACE, NETWORK_POLICY, NODE, POD
from portico.model.vocabulary import NodeAddressType, Protocol
from portico.netpol.model import (
    Cluster,
    Decision,
    DirectionVerdict,
    namespace_labels,
    pod_from_object,
    policy_from_object,
)


class CheckError(ValueError):
    """The question cannot be answered (unknown pod, bad port)."""


@dataclass(frozen=True)
class Question:
    source: str
    """`ns/pod` or an IPv4 address."""
    destination: str
    """`ns/pod`."""
    port: str
    protocol: Protocol


def parse_destination(text: str) -> tuple[str, str]:
    pod, sep, port = text.rpartition(":")
    if not sep or "/" not in pod or not port:
        raise CheckError(f"--to {text!r}: want NAMESPACE/POD:PORT")
    return pod, port


def _describe(direction: str, subject: str, verdict: DirectionVerdict) -> str:
    head = f"  {direction:<8}{subject}: "
    if verdict.always == "self":
        return head + "allowed (a pod's traffic to itself)"
    if verdict.always == "node":
        return head + "allowed (traffic from the pod's own node)"
    if not verdict.isolated:
        return head + "allowed (no NetworkPolicy selects it for " + direction + ")"
    selected = ", ".join(verdict.selected_by)
    if verdict.allowed_by:
        return head + f"allowed by {', '.join(verdict.allowed_by)} (selected by {selected})"
    return head + f"denied: selected by {selected}, none of whose rules allows it"


def format_decision(question: Question, src_ip: str, dst_ip: str, port: int,
                    decision: Decision) -> str:
    verdict = "allowed" if decision.allowed else "denied"
    return "\n".join([
        f"{question.source} -> {question.destination}:{port}/{question.protocol} "
        f"({src_ip} -> {dst_ip}): {verdict}",
        _describe("egress", question.source, decision.egress),
        _describe("ingress", question.destination, decision.ingress),
    ])


async def snapshot(client: Api) -> Cluster:
    cluster = Cluster()
    for obj in (await client.list(POD)).items:
        pod = pod_from_object(obj)
        if pod is not None:
            cluster.pods[pod.ip] = pod
    for obj in (await client.list(NAMESPACE)).items:
        cluster.namespaces[obj["metadata"]["name"]] = namespace_labels(obj)
    for obj in (await client.list(NETWORK_POLICY)).items:
        policy = policy_from_object(obj)
        cluster.policies[policy.key] = policy
    for node in (await client.list(NODE)).items:
        status, spec = node.get("status") or {}, node.get("spec") or {}
        addresses = {a["address"] for a in status.get("addresses") or []
                     if a.get("type") == NodeAddressType.INTERNAL_IP}
        if spec.get("podCIDR"):
            network = ipaddress.ip_network(spec["podCIDR"], strict=False)
            addresses.add(str(next(network.hosts())))
        cluster.node_addresses[node["metadata"]["name"]] = frozenset(addresses)
    return cluster


def _pod_ip(cluster: Cluster, key: str) -> str:
    found = next((p.ip for p in cluster.pods.values() if p.key == key), None)
    if found is None:
        raise CheckError(f"pod {key} not found, or it has no IP address yet")
    return found


def decide(cluster: Cluster, question: Question) -> tuple[bool, str]:
    """(allowed, the verdict text); raises `CheckError` for a question without answer."""
    try:
        src_ip = str(ipaddress.IPv4Address(question.source))
    except ValueError:
        src_ip = _pod_ip(cluster, question.source)
    dst_ip = _pod_ip(cluster, question.destination)
    if question.port.isdigit():
        port = int(question.port)
    else:
        named = cluster.pods[dst_ip].named_port(question.port, question.protocol)
        if named is None:
            raise CheckError(f"pod {question.destination} has no {question.protocol} port "
                             f"named {question.port!r}")
        port = named
    decision = cluster.decide(src_ip, dst_ip, question.protocol, port)
    return decision.allowed, format_decision(question, src_ip, dst_ip, port, decision)


def check(kubeconfig: Path, question: Question) -> tuple[bool, str]:
    return decide(asyncio.run(_read(kubeconfig)), question)


async def _read(kubeconfig: Path) -> Cluster:
    client = Api.connect(kubeconfig, "portico")
    try:
        return await snapshot(client)
    finally:
        await client.close()
