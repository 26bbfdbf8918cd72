"""HTTPRoute and GRPCRoute on one listener with intersecting hostnames: exactly one wins (pure).

Theory of operation (the GRPCRoute spec's "cross serving" rule, GEP-1016): when
a listener has an HTTPRoute and a GRPCRoute attached whose served hostnames
intersect, exactly one of the two is accepted there - the older route
(creationTimestamp), then the first by `namespace/name`. `rejected` walks each
listener's attachments oldest first and keeps an attachment unless it
intersects one of the other kind already kept, so a rejected route never
causes another rejection. A hostname of None (route and listener both without
hostnames) is any host. The caller drops the rejected attachments, and a
parentRef left with none gets Accepted False, reason `HostnameConflict` (the
spec names no reason; Istio's and Traefik's implementations of the rule use
this one), the message naming the route that won.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico.gateway.hostnames import intersect
from portico.gateway.model import meta, namespaced_name

if TYPE_CHECKING:
    from portico.gateway.attach import Attachment

REASON = "HostnameConflict"


def _age(att: Attachment) -> tuple[str, str]:
    return str(meta(att.route).get("creationTimestamp") or ""), "/".join(
        namespaced_name(att.route))


def _overlap(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return True
    return intersect(a, b) is not None


def _intersects(a: Attachment, b: Attachment) -> bool:
    return any(_overlap(x, y) for x in a.hostnames for y in b.hostnames)


def rejected(attached: list[Attachment]) -> dict[int, Attachment]:
    """id(attachment) -> the attachment that won over it, for every one the rule rejects."""
    listeners: dict[tuple[tuple[str, str], str], list[Attachment]] = {}
    for att in attached:
        listeners.setdefault((att.gateway, att.listener), []).append(att)
    out: dict[int, Attachment] = {}
    for group in listeners.values():
        kept: list[Attachment] = []
        for att in sorted(group, key=_age):
            winner = next((k for k in kept if k.kind != att.kind and _intersects(k, att)), None)
            if winner is None:
                kept.append(att)
            else:
                out[id(att)] = winner
    return out


def message(winner: Attachment) -> str:
    ns, name = namespaced_name(winner.route)
    return (f"{winner.kind} {ns}/{name} is attached to listener {winner.listener} with an "
            "intersecting hostname and is older (or first by namespace/name)")
