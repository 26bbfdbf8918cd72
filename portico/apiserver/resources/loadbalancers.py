"""LoadBalancers (cloud.portico.dev/v1): the state of the AKS-style load balancer, readable.

Cluster-scoped, written only by the cloud load balancer controller, one object
per Azure-style load balancer (`<cluster>` for public frontends,
`<cluster>-internal` for internal ones). `spec` holds the model (frontend IP
configurations, backend pool, rules, probes) and `status` the probe state of
each backend, so `kubectl get lb` and `portico lb show` tell what `az network lb
show` tells an AKS user.
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.resources import _base
from portico.apiserver.resources._printers import age, name

GROUP = "cloud.portico.dev"

COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Type", description="public or internal"),
    _base.Column("Frontends", description="Frontend IP addresses."),
    _base.Column("Backends", description="Backend pool members whose probes pass, of all members."),
    _base.Column("Rules", type="integer", description="Load balancing rules."),
    _base.Column("Probes", type="integer", description="Health probes."),
    _base.AGE_COLUMN,
)


def _frontends(obj: _base.Object) -> str:
    ips = [f.get("privateIPAddress") or f.get("publicIPAddress") or "<pending>"
           for f in _base.nested(obj, "spec", "frontendIPConfigurations", default=[]) or []]
    if not ips:
        return "<none>"
    shown = ",".join(ips[:3])
    return shown + (f" + {len(ips) - 3} more..." if len(ips) > 3 else "")


def _backends(obj: _base.Object) -> str:
    pools = _base.nested(obj, "spec", "backendAddressPools", default=[]) or []
    members = {m.get("name") for pool in pools for m in pool.get("members", []) or []}
    health = _base.nested(obj, "status", "backendHealth", default=[]) or []
    down = {h.get("node") for h in health if h.get("state") == "Down"}
    return f"{len(members - down)}/{len(members)}"


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    return [
        name(obj),
        spec.get("type", "public"),
        _frontends(obj),
        _backends(obj),
        len(spec.get("loadBalancingRules") or []),
        len(spec.get("probes") or []),
        age(obj, now),
    ]


LOADBALANCERS = _base.ResourceType(
    group=GROUP, version="v1", kind="LoadBalancer", plural="loadbalancers",
    singular="loadbalancer", namespaced=False, strategy=_base.Strategy(),
    table=_base.Table(COLUMNS, cells), short_names=("lb",), categories=(),
    subresources=(_base.Subresource("status"),), generation=True,
)
