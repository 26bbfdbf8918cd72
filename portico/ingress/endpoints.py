"""Service ports -> ready endpoints from EndpointSlices, and backend server slots (pure).

An Ingress backend names a Service port by number (`port.number`, the Service's
`port`) or by name. The Service port found that way has a name ("" when the
Service has a single unnamed port); the EndpointSlices of the Service (label
`kubernetes.io/service-name`) carry a port of the same name whose `port` is the
target port on the pods. Ready endpoints (`conditions.ready` true or unset)
become `Server(pod IP, target port)`, deduplicated and sorted. A Service that
does not exist, is ExternalName, or has no such port gives no servers: HAProxy
then answers 503 (all slots disabled).

Server slots: each backend has a fixed number of `server` lines, a multiple of
`slot_scale`, so that endpoint changes are runtime commands, not reloads (as
HAProxy's own ingress controller does). `assign_slots` keeps every endpoint
that is still ready in the slot it had, and fills the free slots in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from portico.ingress.model import NamespacedName, Obj, Server, Snapshot, meta
from portico.model.discovery import SERVICE_NAME_LABEL
from portico.model.vocabulary import AddressType, ServiceType

Slots = tuple[Server | None, ...]


def index_slices(slices: Iterable[Obj]) -> dict[NamespacedName, list[Obj]]:
    out: dict[NamespacedName, list[Obj]] = {}
    for eps in slices:
        m = meta(eps)
        service = (m.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if service:
            out.setdefault((str(m.get("namespace") or ""), service), []).append(eps)
    return out


def service_port_name(service: Obj, port: str) -> str | None:
    """The name ("" if unnamed) of the Service port the Ingress means, None if there is none."""
    for item in (service.get("spec") or {}).get("ports") or []:
        if port.isdigit() and int(item.get("port") or 0) == int(port):
            return str(item.get("name") or "")
        if not port.isdigit() and item.get("name") == port:
            return str(port)
    return None


def ready_servers(snapshot: Snapshot, slices: Mapping[NamespacedName, list[Obj]],
                  namespace: str, service_name: str, port: str) -> tuple[Server, ...]:
    service = snapshot.services.get((namespace, service_name))
    if service is None or (service.get("spec") or {}).get("type") == ServiceType.EXTERNAL_NAME:
        return ()
    name = service_port_name(service, port)
    if name is None:
        return ()
    servers: set[Server] = set()
    for eps in slices.get((namespace, service_name), []):
        if eps.get("addressType", AddressType.IPV4) != AddressType.IPV4:
            continue
        target = next((p.get("port") for p in eps.get("ports") or []
                       if (p.get("name") or "") == name and p.get("port")), None)
        if target is None:
            continue
        for endpoint in eps.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            for address in (endpoint.get("addresses") or [])[:1]:
                servers.add(Server(str(address), int(target)))
    return tuple(sorted(servers, key=lambda s: (tuple(int(x) for x in s.address.split(".")),
                                                s.port)))


def slot_count(servers: int, scale: int) -> int:
    """Slots for `servers` endpoints: at least `scale`, rounded up to a multiple of it."""
    return max(1, -(-servers // scale)) * scale


def assign_slots(servers: tuple[Server, ...], previous: Slots, scale: int) -> Slots:
    """Slots for `servers`, keeping each server that stays where it was in `previous`."""
    size = slot_count(len(servers), scale)
    if len(previous) != size:
        previous = ()
    wanted = set(servers)
    slots: list[Server | None] = [s if s in wanted else None for s in previous]
    slots += [None] * (size - len(slots))
    placed = {s for s in slots if s is not None}
    free = iter(i for i, s in enumerate(slots) if s is None)
    for server in servers:
        if server not in placed:
            slots[next(free)] = server
    return tuple(slots)
