"""Render the desired model into nftables objects (pure), as kube-proxy's nftables mode.

Theory of operation. One `inet portico-proxy` table holds everything:

- fixed objects (`base_objects`), written only by a full sync: the base chains
  at kube-proxy's priorities, the dispatch chain `services` with its verdict maps
  `service-ips` (ip . proto . port) and `service-nodeports` (proto . port, only
  for this node's non-loopback addresses), the no-endpoint maps and
  `reject-chain`, `cluster-ips-check` (reject unused ports of ClusterIPs, drop
  unallocated service-CIDR addresses), `firewall-check` for
  loadBalancerSourceRanges, and mark-based masquerading;
- one `Fragment` per service port (`service_fragment`): its chains
  (`service-`/`local-`/`external-`/`firewall-`/`endpoint-` + hash + readable name),
  its per-endpoint affinity sets, and the map/set elements pointing at them.

A Fragment is self-contained (it references only its own chains and the fixed
ones), so a partial sync can replace one service's fragment without looking at
the others (see `diff.py`). Elements of different fragments may share a key
(e.g. the ClusterIP in `cluster-ips`); `diff.py` arbitrates.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from portico.proxy.config import ProxyConfig
from portico.proxy.model import Endpoint, ServicePort, ServicePortName, categorize
from portico.proxy.nftables import Chain, ChainType, Element, Hook, Map, Object, Rule, Set, Table

# Fixed chains, sets and maps (kube-proxy's names, word for word).
SERVICES_CHAIN = "services"
SERVICE_IPS_MAP = "service-ips"
SERVICE_NODEPORTS_MAP = "service-nodeports"
CLUSTER_IPS_SET = "cluster-ips"
SERVICE_ENDPOINTS_CHECK_CHAIN = "service-endpoints-check"
NODEPORT_ENDPOINTS_CHECK_CHAIN = "nodeport-endpoints-check"
NO_ENDPOINT_SERVICES_MAP = "no-endpoint-services"
NO_ENDPOINT_NODEPORTS_MAP = "no-endpoint-nodeports"
REJECT_CHAIN = "reject-chain"
CLUSTER_IPS_CHECK_CHAIN = "cluster-ips-check"
FIREWALL_IPS_MAP = "firewall-ips"
FIREWALL_CHECK_CHAIN = "firewall-check"
MARK_MASQ_CHAIN = "mark-for-masquerade"
MASQUERADING_CHAIN = "masquerading"

SERVICE_PREFIX = "service-"
LOCAL_PREFIX = "local-"
EXTERNAL_PREFIX = "external-"
ENDPOINT_PREFIX = "endpoint-"
AFFINITY_PREFIX = "affinity-"
FIREWALL_PREFIX = "firewall-"

_NAME_BASE_MAX = 255 - 16
_SERVICE_KEY = "ipv4_addr . inet_proto . inet_service : verdict"
_NODEPORT_KEY = "inet_proto . inet_service : verdict"
_NO_LOCALHOST = "ip daddr != 127.0.0.0/8"

# (name, type, hook, priority): filters see addresses before DNAT, except
# filter-output-post-dnat, which checks ClusterIPs that were not DNATed. nft 1.0.6
# accepts the name `dstnat` only on the prerouting hook, so the others are numeric
# (dstnat = -100).
BASE_CHAINS = (
    ("filter-prerouting", ChainType.FILTER, Hook.PREROUTING, "dstnat - 10"),
    ("filter-input", ChainType.FILTER, Hook.INPUT, "-110"),
    ("filter-forward", ChainType.FILTER, Hook.FORWARD, "-110"),
    ("filter-output", ChainType.FILTER, Hook.OUTPUT, "-110"),
    ("filter-output-post-dnat", ChainType.FILTER, Hook.OUTPUT, "-90"),
    ("nat-prerouting", ChainType.NAT, Hook.PREROUTING, "dstnat"),
    ("nat-output", ChainType.NAT, Hook.OUTPUT, "-100"),
    ("nat-postrouting", ChainType.NAT, Hook.POSTROUTING, "srcnat"),
)
# (from chain, condition, to chain). reject is only valid in input/forward/output.
JUMP_CHAINS = (
    ("filter-prerouting", "ct state new", FIREWALL_CHECK_CHAIN),
    ("filter-input", "ct state new", NODEPORT_ENDPOINTS_CHECK_CHAIN),
    ("filter-input", "ct state new", SERVICE_ENDPOINTS_CHECK_CHAIN),
    ("filter-forward", "ct state new", SERVICE_ENDPOINTS_CHECK_CHAIN),
    ("filter-forward", "ct state new", CLUSTER_IPS_CHECK_CHAIN),
    ("filter-output", "ct state new", SERVICE_ENDPOINTS_CHECK_CHAIN),
    ("filter-output", "ct state new", FIREWALL_CHECK_CHAIN),
    ("filter-output-post-dnat", "ct state new", CLUSTER_IPS_CHECK_CHAIN),
    ("nat-output", "", SERVICES_CHAIN),
    ("nat-prerouting", "", SERVICES_CHAIN),
    ("nat-postrouting", "", MASQUERADING_CHAIN),
)


def hash_and_truncate(name: str) -> str:
    """`<8 base32 chars of sha256>-<name>`, truncated: unique, readable, bounded."""
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()
    full = f"{digest[:8]}-{name}"
    return full if len(full) <= _NAME_BASE_MAX else full[: _NAME_BASE_MAX - 3] + "..."


def port_chain_base(name: ServicePortName) -> str:
    return hash_and_truncate(
        f"{name.namespace}/{name.name}/{name.protocol.lower()}/{name.port}")


def endpoint_chain_base(name: ServicePortName, ep: Endpoint) -> str:
    return hash_and_truncate(f"{name.namespace}/{name.name}/{name.protocol.lower()}/"
                             f"{name.port}__{ep.ip}/{ep.port}")


def base_objects(config: ProxyConfig) -> list[Object]:
    """The fixed part of the table, in an order `nft` accepts (objects before uses)."""
    mark = config.masquerade_mark
    objs: list[Object] = [Table(comment="rules for portico-proxy")]
    for name, ctype, hook, priority in BASE_CHAINS:
        objs.append(Chain(name, ctype, hook, priority))
    for name in (SERVICES_CHAIN, SERVICE_ENDPOINTS_CHECK_CHAIN, NODEPORT_ENDPOINTS_CHECK_CHAIN,
                 CLUSTER_IPS_CHECK_CHAIN, FIREWALL_CHECK_CHAIN, MARK_MASQ_CHAIN,
                 MASQUERADING_CHAIN):
        objs.append(Chain(name))
    objs += [
        Chain(REJECT_CHAIN, comment="helper for @no-endpoint-services / @no-endpoint-nodeports"),
        Set(CLUSTER_IPS_SET, "ipv4_addr", comment="Active ClusterIPs"),
        Map(SERVICE_IPS_MAP, _SERVICE_KEY,
            comment="ClusterIP, ExternalIP and LoadBalancer IP traffic"),
        Map(SERVICE_NODEPORTS_MAP, _NODEPORT_KEY, comment="NodePort traffic"),
        Map(NO_ENDPOINT_SERVICES_MAP, _SERVICE_KEY,
            comment="vmap to drop or reject packets to services with no endpoints"),
        Map(NO_ENDPOINT_NODEPORTS_MAP, _NODEPORT_KEY,
            comment="vmap to drop or reject packets to service nodeports with no endpoints"),
        Map(FIREWALL_IPS_MAP, _SERVICE_KEY,
            comment="destinations that are subject to LoadBalancerSourceRanges"),
    ]
    for src, cond, dst in JUMP_CHAINS:
        objs.append(Rule(src, f"{cond} jump {dst}".strip()))
    dispatch = "ip daddr . meta l4proto . th dport vmap"
    nodeports = f"fib daddr type local {_NO_LOCALHOST} meta l4proto . th dport vmap"
    objs += [
        Rule(SERVICES_CHAIN, f"{dispatch} @{SERVICE_IPS_MAP}"),
        Rule(SERVICES_CHAIN, f"{nodeports} @{SERVICE_NODEPORTS_MAP}"),
        Rule(SERVICE_ENDPOINTS_CHECK_CHAIN, f"{dispatch} @{NO_ENDPOINT_SERVICES_MAP}"),
        Rule(NODEPORT_ENDPOINTS_CHECK_CHAIN, f"{nodeports} @{NO_ENDPOINT_NODEPORTS_MAP}"),
        Rule(CLUSTER_IPS_CHECK_CHAIN, f"ip daddr @{CLUSTER_IPS_SET} reject",
             comment="Reject traffic to invalid ports of ClusterIPs"),
        Rule(CLUSTER_IPS_CHECK_CHAIN, f"ip daddr {config.service_cidr} drop",
             comment="Drop traffic to unallocated ClusterIPs"),
        Rule(FIREWALL_CHECK_CHAIN, f"{dispatch} @{FIREWALL_IPS_MAP}"),
        Rule(MARK_MASQ_CHAIN, f"meta mark set meta mark | {mark}"),
        Rule(MASQUERADING_CHAIN, f"meta mark & {mark} == 0 return"),
        Rule(MASQUERADING_CHAIN, f"meta mark set meta mark ^ {mark}"),
        Rule(MASQUERADING_CHAIN, "masquerade fully-random"),
        Rule(REJECT_CHAIN, "reject"),
    ]
    return objs


@dataclass
class Fragment:
    """Everything one service port contributes to the table."""

    chains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sets: dict[str, Set] = field(default_factory=dict)
    elements: dict[tuple[str, tuple[str, ...]], Element] = field(default_factory=dict)

    def element(self, container: str, key: tuple[str, ...], value: tuple[str, ...] = (),
                comment: str | None = None) -> None:
        self.elements[(container, key)] = Element(container, key, value, comment)


@dataclass(frozen=True)
class _Names:
    cluster: str
    local: str
    external: str
    firewall: str

    @classmethod
    def of(cls, name: ServicePortName) -> _Names:
        base = port_chain_base(name)
        return cls(SERVICE_PREFIX + base, LOCAL_PREFIX + base, EXTERNAL_PREFIX + base,
                   FIREWALL_PREFIX + base)


def service_fragment(sp: ServicePort, endpoints: tuple[Endpoint, ...],
                     config: ProxyConfig) -> Fragment:
    """The chains, sets and elements of one service port (kube-proxy's syncProxyRules body)."""
    frag = Fragment()
    names = _Names.of(sp.name)
    cat = categorize(endpoints, sp, config.node_name)
    proto = sp.protocol.lower()
    comment = str(sp.name)
    internal_chain = names.local if sp.internal_policy_local else names.cluster
    external_policy_chain = names.local if sp.external_policy_local else names.cluster
    has_internal = cat.has_any and (bool(cat.local) or not sp.internal_policy_local)
    has_external = cat.has_any and (bool(cat.local) or not sp.external_policy_local)
    no_internal = f"goto {REJECT_CHAIN}" if not cat.has_any else "drop"
    no_external = no_internal

    frag.element(CLUSTER_IPS_SET, (sp.cluster_ip,))
    key = (sp.cluster_ip, proto, str(sp.port))
    if has_internal:
        frag.element(SERVICE_IPS_MAP, key, (f"goto {internal_chain}",))
    else:
        frag.element(NO_ENDPOINT_SERVICES_MAP, key, (no_internal,), comment)
    _external_elements(frag, sp, names, cat.has_any, has_external, no_external)
    if sp.load_balancer_ips and sp.load_balancer_source_ranges:
        sources = list(sp.load_balancer_source_ranges)
        frag.chains[names.firewall] = (f"ip saddr != {{ {', '.join(sources)} }} drop",)
    if cat.has_any and sp.externally_accessible:
        frag.chains[names.external] = _external_rules(sp, names, external_policy_chain,
                                                       has_external, config)
    affinity = sp.affinity_timeout > 0
    if cat.cluster and sp.uses_cluster_endpoints:
        frag.chains[names.cluster] = _policy_rules(sp, cat.cluster, config, internal_chain ==
                                                   names.cluster and has_internal)
    if cat.local and sp.uses_local_endpoints:
        frag.chains[names.local] = _policy_rules(sp, cat.local, config, internal_chain ==
                                                 names.local and has_internal)
    for ep in cat.reachable:
        base = endpoint_chain_base(sp.name, ep)
        rules = [f"ip saddr {ep.ip} jump {MARK_MASQ_CHAIN}"]
        if affinity:
            frag.sets[AFFINITY_PREFIX + base] = Set(
                AFFINITY_PREFIX + base, "ipv4_addr", ("dynamic", "timeout"), sp.affinity_timeout)
            rules.append(f"update @{AFFINITY_PREFIX + base} {{ ip saddr }}")
        rules.append(f"meta l4proto {proto} dnat ip to {ep.ip}:{ep.port}")
        frag.chains[ENDPOINT_PREFIX + base] = tuple(rules)
    return frag


def _external_elements(frag: Fragment, sp: ServicePort, names: _Names, has_any: bool,
                       has_external: bool, verdict: str) -> None:
    proto = sp.protocol.lower()
    comment = str(sp.name)
    for ip in (*sp.external_ips, *sp.load_balancer_ips):
        key = (ip, proto, str(sp.port))
        if has_any:
            frag.element(SERVICE_IPS_MAP, key, (f"goto {names.external}",))
        if not has_external:
            frag.element(NO_ENDPOINT_SERVICES_MAP, key, (verdict,), comment)
    if sp.load_balancer_source_ranges:
        for ip in sp.load_balancer_ips:
            frag.element(FIREWALL_IPS_MAP, (ip, proto, str(sp.port)),
                         (f"goto {names.firewall}",), comment)
    if sp.node_port:
        key = (proto, str(sp.node_port))
        if has_any:
            frag.element(SERVICE_NODEPORTS_MAP, key, (f"goto {names.external}",))
        if not has_external:
            frag.element(NO_ENDPOINT_NODEPORTS_MAP, key, (verdict,), comment)


def _external_rules(sp: ServicePort, names: _Names, policy_chain: str, has_external: bool,
                    config: ProxyConfig) -> tuple[str, ...]:
    if not sp.external_policy_local:
        # Endpoints may be on other nodes: masquerade so replies come back here.
        rules = [f"jump {MARK_MASQ_CHAIN}"]
    else:
        rules = [
            # Pods reaching an external IP act as if they went out and came back.
            f"ip saddr {config.cluster_cidr} goto {names.cluster}",
            # The node itself: its source would be the (local) external IP; masquerade.
            f"fib saddr type local jump {MARK_MASQ_CHAIN}",
            f"fib saddr type local goto {names.cluster}",
        ]
    if has_external:
        rules.append(f"goto {policy_chain}")
    return tuple(rules)


def _policy_rules(sp: ServicePort, endpoints: tuple[Endpoint, ...], config: ProxyConfig,
                  masquerade_outside: bool) -> tuple[str, ...]:
    rules: list[str] = []
    if masquerade_outside:
        # Off-cluster clients routed to a ClusterIP may bounce off-node: masquerade.
        rules.append(f"ip daddr {sp.cluster_ip} {sp.protocol.lower()} dport {sp.port} "
                     f"ip saddr != {config.cluster_cidr} jump {MARK_MASQ_CHAIN}")
    chains = [ENDPOINT_PREFIX + endpoint_chain_base(sp.name, ep) for ep in endpoints]
    if sp.affinity_timeout > 0:
        for ep, chain in zip(endpoints, chains, strict=True):
            affinity_set = AFFINITY_PREFIX + endpoint_chain_base(sp.name, ep)
            rules.append(f"ip saddr @{affinity_set} goto {chain}")
    spread = ", ".join(f"{i} : goto {chain}" for i, chain in enumerate(chains))
    rules.append(f"numgen random mod {len(chains)} vmap {{ {spread} }}")
    return tuple(rules)
