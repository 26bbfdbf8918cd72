"""Pure EndpointSlice/Endpoints rendering, after `pkg/controller/endpointslice` and `endpoint`.

`desired_endpoints(service, pods, zones)` groups one endpoint per pod that has an
IP (and is not Succeeded/Failed) by the pod's resolved ports: a named targetPort
resolves through that pod's container ports, so pods that resolve differently
land in different groups (and so in different slices).
Conditions: ready = pod Ready and not terminating (or publishNotReadyAddresses),
serving = pod Ready (or publishNotReadyAddresses), terminating = deletionTimestamp set.

`reconcile_slices(service, existing, desired)` keeps churn low as the reconciler
does: endpoints stay in the slice that already holds them, new ones fill existing
slices up to `MAX_ENDPOINTS` before a new slice is created, slices that empty out
are reused for other port groups before any is deleted, and a service with no
endpoints keeps one empty placeholder slice. It returns the slices to create,
update (only those whose content changed) and delete.

`render_endpoints(service, pods)` is the legacy Endpoints object's subsets: ready
addresses and notReadyAddresses per port set; terminating pods are left out unless
publishNotReadyAddresses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portico.controllers._pods import (
    is_ready,
    is_terminated,
    is_terminating,
    labels_of,
    meta,
)
from portico.model.core import HEADLESS
from portico.model.discovery import SERVICE_NAME_LABEL
from portico.model.selectors import service_selector

Obj = dict[str, Any]
MAX_ENDPOINTS = 100
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
PortsKey = tuple[tuple[str, str, int, str], ...]


def resolve_port(pod: Obj, service_port: Obj) -> int | None:
    """`podutil.FindPort`: a number stays, a name is looked up in the pod's containers."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if str(target).isdigit():
        return int(str(target))
    protocol = service_port.get("protocol", "TCP")
    for ctr in (pod.get("spec") or {}).get("containers") or []:
        for port in ctr.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def pod_ports(service: Obj, pod: Obj) -> PortsKey:
    out = []
    for sp in (service.get("spec") or {}).get("ports") or []:
        number = resolve_port(pod, sp)
        if number is not None:
            out.append((sp.get("name", ""), sp.get("protocol", "TCP"), number,
                        sp.get("appProtocol", "")))
    return tuple(out)


def ports_json(key: PortsKey) -> list[Obj]:
    out = []
    for name, protocol, port, app in key:
        entry: Obj = {"name": name, "protocol": protocol, "port": port}
        if app:
            entry["appProtocol"] = app
        out.append(entry)
    return out


def ports_key(ports: list[Obj] | None) -> PortsKey:
    return tuple((p.get("name", ""), p.get("protocol", "TCP"), int(p.get("port") or 0),
                  p.get("appProtocol", "")) for p in ports or [])


def selected_pods(service: Obj, pods: list[Obj]) -> list[Obj]:
    selector = service_selector((service.get("spec") or {}).get("selector"))
    return [p for p in pods if selector.matches(labels_of(p))
            and (p.get("status") or {}).get("podIP") and not is_terminated(p)]


def endpoint(service: Obj, pod: Obj, zones: dict[str, str]) -> Obj:
    spec, pmeta = pod.get("spec") or {}, meta(pod)
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    ready, terminating = is_ready(pod), is_terminating(pod)
    ep: Obj = {"addresses": [pod["status"]["podIP"]],
               "conditions": {"ready": publish or (ready and not terminating),
                              "serving": publish or ready, "terminating": terminating}}
    if spec.get("hostname") and spec.get("subdomain") == meta(service).get("name"):
        ep["hostname"] = spec["hostname"]
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
        if zones.get(spec["nodeName"]):
            ep["zone"] = zones[spec["nodeName"]]
    ep["targetRef"] = {"kind": "Pod", "namespace": pmeta.get("namespace"),
                       "name": pmeta.get("name"), "uid": pmeta.get("uid")}
    return ep


def desired_endpoints(service: Obj, pods: list[Obj],
                      zones: dict[str, str]) -> dict[PortsKey, list[Obj]]:
    groups: dict[PortsKey, list[Obj]] = {}
    for pod in selected_pods(service, pods):
        groups.setdefault(pod_ports(service, pod), []).append(endpoint(service, pod, zones))
    return groups


def _ep_id(ep: Obj) -> str:
    ref = ep.get("targetRef") or {}
    return str(ref.get("uid") or ep["addresses"][0])


def _ordered(endpoints: list[Obj]) -> list[Obj]:
    return sorted(endpoints, key=lambda e: (e["addresses"][0], _ep_id(e)))


@dataclass
class SliceChanges:
    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)


def slice_metadata(service: Obj) -> tuple[dict[str, str], Obj]:
    smeta = meta(service)
    labels = dict(smeta.get("labels") or {})
    labels.update({SERVICE_NAME_LABEL: smeta["name"], MANAGED_BY_LABEL: MANAGED_BY})
    if (service.get("spec") or {}).get("clusterIP") == HEADLESS:
        labels[HEADLESS_LABEL] = ""
    owner = {"apiVersion": "v1", "kind": "Service", "name": smeta["name"],
             "uid": smeta["uid"], "controller": True, "blockOwnerDeletion": True}
    return labels, owner


def _with_content(service: Obj, base: Obj | None, key: PortsKey, eps: list[Obj]) -> Obj:
    labels, owner = slice_metadata(service)
    if base is None:
        body: Obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                     "metadata": {"generateName": f"{meta(service)['name']}-",
                                  "namespace": meta(service)["namespace"]},
                     "addressType": "IPv4"}
    else:
        body = dict(base, metadata=dict(meta(base)))
    body["metadata"]["labels"] = labels
    body["metadata"]["ownerReferences"] = [owner]
    body["endpoints"] = _ordered(eps)
    body["ports"] = ports_json(key)
    return body


def _content(s: Obj) -> tuple[Any, ...]:
    return (meta(s).get("labels") or {}, meta(s).get("ownerReferences") or [],
            _ordered(list(s.get("endpoints") or [])), ports_key(s.get("ports")))


def reconcile_slices(service: Obj, existing: list[Obj],
                     desired: dict[PortsKey, list[Obj]]) -> SliceChanges:
    changes = SliceChanges()
    if not desired:
        desired = {(): []}
    by_key: dict[PortsKey, list[Obj]] = {}
    for s in sorted(existing, key=lambda s: meta(s).get("name", "")):
        by_key.setdefault(ports_key(s.get("ports")), []).append(s)
    spare = [s for k, group in by_key.items() if k not in desired for s in group]
    results: list[tuple[Obj | None, Obj]] = []  # (previous, wanted)
    for key, eps in sorted(desired.items()):
        wanted = {_ep_id(e): e for e in eps}
        slots: list[tuple[Obj | None, list[Obj]]] = []
        for s in by_key.get(key, []):
            kept = [wanted.pop(_ep_id(e)) for e in s.get("endpoints") or [] if _ep_id(e) in wanted]
            slots.append((s, kept))
        pending = _ordered(list(wanted.values()))
        for _, kept in slots:
            room = MAX_ENDPOINTS - len(kept)
            kept.extend(pending[:room])
            pending = pending[room:]
        while pending or not slots:
            slots.append((spare.pop(0) if spare else None, pending[:MAX_ENDPOINTS]))
            pending = pending[MAX_ENDPOINTS:]
        filled = [(s, kept) for s, kept in slots if kept]
        empty = [s for s, kept in slots if not kept and s is not None]
        if not filled:  # the placeholder: one slice, no endpoints
            filled = [(slots[0][0], [])]
            empty = [s for s in empty if s is not slots[0][0]]
        changes.delete.extend(empty)
        results.extend((s, _with_content(service, s, key, kept)) for s, kept in filled)
    changes.delete.extend(spare)
    for previous, wanted_slice in results:
        if previous is None:
            changes.create.append(wanted_slice)
        elif _content(previous) != _content(wanted_slice):
            changes.update.append(wanted_slice)
    return changes


def render_endpoint_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    subsets: dict[PortsKey, Obj] = {}
    for pod in selected_pods(service, pods):
        if is_terminating(pod) and not publish:
            continue
        key = pod_ports(service, pod)
        address: Obj = {"ip": pod["status"]["podIP"]}
        spec = pod.get("spec") or {}
        if spec.get("hostname") and spec.get("subdomain") == meta(service).get("name"):
            address["hostname"] = spec["hostname"]
        if spec.get("nodeName"):
            address["nodeName"] = spec["nodeName"]
        address["targetRef"] = {"kind": "Pod", "namespace": meta(pod).get("namespace"),
                                "name": meta(pod).get("name"), "uid": meta(pod).get("uid")}
        bucket = "addresses" if publish or is_ready(pod) else "notReadyAddresses"
        subsets.setdefault(key, {}).setdefault(bucket, []).append(address)
    out = []
    for key, subset in sorted(subsets.items()):
        entry: Obj = {k: sorted(v, key=lambda a: a["ip"]) for k, v in sorted(subset.items())}
        if key:
            entry["ports"] = ports_json(key)
        out.append(entry)
    return out
