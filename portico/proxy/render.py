"""Render one service port into map and set elements (pure), for the layout of `layout.py`.

Theory of operation. A service port contributes only elements (plus the names
of the shared pick chains its verdicts use), so a change to one Service is a
handful of `add element` / `delete element` commands:

- `cluster-ips` {ClusterIP};
- per service address (ClusterIP, each externalIP and LB IP, and node IP .
  nodePort) a verdict in `service-ips` / `service-nodeports`, or in the
  `no-endpoint-*` maps (reject without endpoints, drop without local ones);
- per address and slot a `backends` element: the endpoint. The ClusterIP uses
  the Cluster endpoint list, or the Local one under internalTrafficPolicy Local;
  external addresses use the Cluster list (with masquerade), or under
  externalTrafficPolicy Local both: the Cluster list for pods and the node
  (`external-cluster-picks`) and the Local list for the rest
  (`external-local-picks`);
- `firewall-ips` / `firewall-allow` for loadBalancerSourceRanges; `hairpin`
  {ep . ep} for every reachable endpoint on this node.

Slots are stable: given the previous Fragment of the port, endpoints that stay
keep their slot, new ones fill the free slots, and the ones above the new
count move down. So one endpoint change rewrites at most a few `backends`
elements, and ClientIP affinity (which remembers slots) survives scaling.
Elements of different fragments may share a key (`cluster-ips`, `hairpin`, or
two Services claiming one external IP); `diff.py` arbitrates.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from portico.proxy.config import ProxyConfig
from portico.proxy.layout import (
    BACKENDS_MAP,
    CLUSTER_IPS_SET,
    EXTERNAL_CLUSTER_PICKS_MAP,
    EXTERNAL_LOCAL_CHAIN,
    EXTERNAL_LOCAL_PICKS_MAP,
    FIREWALL_ALLOW_SET,
    FIREWALL_IPS_SET,
    HAIRPIN_SET,
    NO_ENDPOINT_NODEPORTS_MAP,
    NO_ENDPOINT_SERVICES_MAP,
    REJECT_CHAIN,
    SERVICE_IPS_MAP,
    SERVICE_NODEPORTS_MAP,
    Pick,
)
from portico.proxy.model import Endpoint, ServicePort, categorize
from portico.proxy.nftables import Element

ElementKey = tuple[str, tuple[str, ...]]
Slots = tuple[str, ...]
"""Endpoints (`ip:port`) in slot order."""


@dataclass
class Fragment:
    """Everything one service port contributes to the table."""

    elements: dict[ElementKey, Element] = field(default_factory=dict)
    picks: set[Pick] = field(default_factory=set)
    cluster_slots: Slots = ()
    local_slots: Slots = ()

    def element(self, container: str, key: tuple[str, ...], value: tuple[str, ...] = (),
                comment: str | None = None) -> None:
        self.elements[(container, key)] = Element(container, key, value, comment)


def assign_slots(previous: Slots, endpoints: Iterable[Endpoint]) -> Slots:
    """Slot order for `endpoints` that keeps every surviving endpoint's slot if it can."""
    current = sorted(str(ep) for ep in endpoints)
    count = len(current)
    wanted = set(current)
    slots: list[str | None] = [None] * count
    for slot, ep in enumerate(previous[:count]):
        if ep in wanted:
            slots[slot] = ep
    placed = set(s for s in slots if s is not None)
    rest = iter(ep for ep in current if ep not in placed)
    return tuple(s if s is not None else next(rest) for s in slots)


@dataclass(frozen=True)
class _Port:
    """What the elements of one service port are built from."""

    sp: ServicePort
    proto: str
    comment: str
    cluster: tuple[Endpoint, ...]
    cluster_slots: Slots
    local: tuple[Endpoint, ...]
    local_slots: Slots


def service_fragment(sp: ServicePort, endpoints: tuple[Endpoint, ...], config: ProxyConfig,
                     previous: Fragment | None = None) -> Fragment:
    """The elements of one service port (kube-proxy's syncProxyRules body, as data)."""
    cat = categorize(endpoints, sp, config.node_name)
    frag = Fragment()
    frag.cluster_slots = assign_slots(previous.cluster_slots if previous else (), cat.cluster)
    frag.local_slots = assign_slots(previous.local_slots if previous else (), cat.local)
    port = _Port(sp, sp.protocol.lower(), str(sp.name), cat.cluster, frag.cluster_slots,
                 cat.local, frag.local_slots)
    no_endpoints = "drop" if cat.has_any else f"goto {REJECT_CHAIN}"

    frag.element(CLUSTER_IPS_SET, (sp.cluster_ip,))
    key = (sp.cluster_ip, port.proto, str(sp.port))
    internal_local = sp.internal_policy_local
    if port.local if internal_local else port.cluster:
        _pick(frag, port, SERVICE_IPS_MAP, key, internal_local, masquerade=False)
    else:
        frag.element(NO_ENDPOINT_SERVICES_MAP, key, (no_endpoints,), port.comment)

    external = [(SERVICE_IPS_MAP, NO_ENDPOINT_SERVICES_MAP, (ip, port.proto, str(sp.port)))
                for ip in (*sp.external_ips, *sp.load_balancer_ips)]
    if sp.node_port:
        external.append((SERVICE_NODEPORTS_MAP, NO_ENDPOINT_NODEPORTS_MAP,
                         (config.node_ip, port.proto, str(sp.node_port))))
    for dispatch, no_endpoint_map, ext_key in external:
        if not cat.has_any:
            frag.element(no_endpoint_map, ext_key, (no_endpoints,), port.comment)
        elif not sp.external_policy_local:
            _pick(frag, port, dispatch, ext_key, local=False, masquerade=True)
        else:
            frag.element(dispatch, ext_key, (f"goto {EXTERNAL_LOCAL_CHAIN}",), port.comment)
            _pick(frag, port, EXTERNAL_CLUSTER_PICKS_MAP, ext_key, local=False,
                  masquerade=False)
            if port.local:
                _pick(frag, port, EXTERNAL_LOCAL_PICKS_MAP, ext_key, local=True,
                      masquerade=False)
            else:
                frag.element(no_endpoint_map, ext_key, (no_endpoints,), port.comment)
    _firewall(frag, port)
    for ep in cat.reachable:
        if _on_this_node(ep, config):
            frag.element(HAIRPIN_SET, (ep.ip, ep.ip))
    return frag


def _pick(frag: Fragment, port: _Port, dispatch: str, key: tuple[str, ...], local: bool,
          masquerade: bool) -> None:
    """A verdict in `dispatch` for `key`, and the key's backends."""
    endpoints = {str(ep): ep for ep in (port.local if local else port.cluster)}
    slots = port.local_slots if local else port.cluster_slots
    pick = Pick(len(slots), local, masquerade, port.sp.affinity_timeout)
    frag.picks.add(pick)
    frag.element(dispatch, key, (pick.verdict,), port.comment)
    for slot, name in enumerate(slots):
        ep = endpoints[name]
        frag.element(BACKENDS_MAP, (*key, str(pick.offset + slot)), (ep.ip, str(ep.port)))


def _firewall(frag: Fragment, port: _Port) -> None:
    sp = port.sp
    if not (sp.load_balancer_ips and sp.load_balancer_source_ranges):
        return
    # The interval set refuses overlapping elements: merge the ranges first.
    networks = [ipaddress.ip_network(r, strict=False) for r in sp.load_balancer_source_ranges]
    ranges = [str(n) for n in ipaddress.collapse_addresses(
        n for n in networks if isinstance(n, ipaddress.IPv4Network))]
    for ip in sp.load_balancer_ips if ranges else ():
        key = (ip, port.proto, str(sp.port))
        frag.element(FIREWALL_IPS_SET, key, comment=port.comment)
        for source in ranges:
            frag.element(FIREWALL_ALLOW_SET, (*key, source))


def _on_this_node(ep: Endpoint, config: ProxyConfig) -> bool:
    if ep.node_name is not None:
        return ep.node_name == config.node_name
    network = ipaddress.ip_network(config.pod_cidr, strict=False)
    return ipaddress.ip_address(ep.ip) in network
