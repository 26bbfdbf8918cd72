"""Builders for Services and EndpointSlices (plain dicts, as the API sends them) and a
rendered FakeNft."""

from __future__ import annotations

from typing import Any

from portico.model import core, discovery
from portico.proxy._state import ProxyState
from portico.proxy.config import ProxyConfig
from portico.proxy.model import ServiceName, service_ports, slice_info
from portico.testing.nft import FakeNft, Tracer

NODE_IP = "10.224.0.4"
BRIDGE_IP = "10.244.0.1"
CONFIG = ProxyConfig(node_name="node-1", node_ip=NODE_IP, pod_cidr="10.244.0.0/24",
                     metrics_address="", healthz_address="")


def service(ns: str, name: str, cluster_ip: str, ports: list[dict[str, Any]],
            **spec: Any) -> dict[str, Any]:
    status = spec.pop("status", None)
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Service",
                            "metadata": {"name": name, "namespace": ns},
                            "spec": {"clusterIP": cluster_ip, "ports": ports, **spec}}
    if status:
        body["status"] = status
    return body


def port(number: int, name: str = "p80", protocol: str = "TCP", **extra: Any) -> dict[str, Any]:
    return {"name": name, "port": number, "protocol": protocol, **extra}


def endpoint(ip: str, node: str = "node-2", ready: bool = True, serving: bool | None = None,
             terminating: bool = False) -> dict[str, Any]:
    cond: dict[str, Any] = {"ready": ready, "terminating": terminating}
    if serving is not None:
        cond["serving"] = serving
    return {"addresses": [ip], "nodeName": node, "conditions": cond}


def endpoint_slice(ns: str, svc: str, endpoints: list[dict[str, Any]],
                   ports: list[dict[str, Any]], suffix: str = "abc") -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"{svc}-{suffix}", "namespace": ns,
                     "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4", "endpoints": endpoints, "ports": ports}


class World:
    """Services and slices fed through the real trackers into a FakeNft."""

    def __init__(self, config: ProxyConfig = CONFIG) -> None:
        self.state = ProxyState(config)
        self.nft = FakeNft()
        self._services: dict[tuple[str, str], Any] = {}
        self._slices: dict[tuple[str, str], Any] = {}

    def apply_service(self, svc: dict[str, Any], deleted: bool = False) -> None:
        key = (svc["metadata"]["namespace"], svc["metadata"]["name"])
        current = None if deleted else service_ports(core.Service.from_obj(svc)) or None
        self.state.service_changes.update(ServiceName(*key), self._services.get(key), current,
                                          0.0)
        self._services[key] = current

    def apply_slice(self, es: dict[str, Any], deleted: bool = False) -> None:
        key = (es["metadata"]["namespace"], es["metadata"]["name"])
        current = None if deleted else slice_info(discovery.EndpointSlice.from_obj(es))
        self.state.slice_changes.update(key, self._slices.get(key), current, 0.0)
        self._slices[key] = current

    def sync(self) -> Any:
        plan = self.state.plan()
        self.nft.apply(plan.tx)
        self.state.commit(plan)
        return plan

    def tracer(self) -> Tracer:
        return Tracer(self.nft, (NODE_IP, BRIDGE_IP))
