"""Which Ingress statuses to write (pure): our EXTERNAL-IP on ours, none on those that left.

The address is the controller Service's `status.loadBalancer.ingress` (set by
the cloud load balancer), copied as `{ip}` / `{hostname}` entries. Every
Ingress of our class gets exactly that list; an Ingress not of our class that
still carries exactly our list (it left the class, or its class changed) gets
an empty one. Other Ingresses are never touched, so another controller's
status stays as it is. Returns (namespace, name, new list) for each change.
"""

from __future__ import annotations

from collections.abc import Iterable

from portico.ingress.model import NamespacedName, Obj, namespaced_name

Entry = dict[str, str]


def published(service: Obj | None) -> list[Entry]:
    entries: list[Entry] = []
    for item in ((service or {}).get("status") or {}).get("loadBalancer", {}).get("ingress") \
            or []:
        entry = {k: str(item[k]) for k in ("ip", "hostname") if item.get(k)}
        if entry:
            entries.append(entry)
    return entries


def current(ingress: Obj) -> list[Entry]:
    items = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [{k: str(i[k]) for k in ("ip", "hostname") if i.get(k)} for i in items]


def changes(ingresses: Iterable[Obj], ours: set[NamespacedName],
            addresses: list[Entry]) -> list[tuple[str, str, list[Entry]]]:
    out: list[tuple[str, str, list[Entry]]] = []
    for ingress in ingresses:
        key = namespaced_name(ingress)
        now = current(ingress)
        if key in ours:
            if addresses and now != addresses:
                out.append((key[0], key[1], addresses))
        elif addresses and now == addresses:
            out.append((key[0], key[1], []))
    return sorted(out)
