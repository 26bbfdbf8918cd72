"""The fixed part of the `inet portico-proxy` table: chains, maps, sets and pick chains (pure).

Theory of operation. The number of chains and rules is small and constant; every
thing that scales with Services and endpoints is an element of a named map or
set (see `render.py` for the elements a service port contributes):

- `services` (jumped to from `nat-prerouting` / `nat-output`) marks off-cluster
  traffic to ClusterIPs for masquerading, then dispatches on `ip daddr . meta
  l4proto . th dport` through `service-ips` (ClusterIPs, externalIPs, LB IPs) and
  `service-nodeports` (keyed by this node's IP, so NodePorts answer only there,
  as kube-proxy's nftables default `--nodeport-addresses=primary`). A verdict is
  `goto` a shared pick chain.
- A pick chain `pick-<N>` chooses a slot, `ct mark set numgen random mod N`, and
  DNATs with one lookup: `dnat ip to ip daddr . meta l4proto . th dport . ct
  mark map @backends`. `backends` holds, per service address and slot, the
  endpoint. Variants: `pick-local-<N>` uses slots `LOCAL_SLOT_OFFSET + i` (the
  node-local endpoint list, for traffic policy Local); `-masq` first sets the
  masquerade bit (external traffic under externalTrafficPolicy Cluster);
  `-affinity-<T>` overrides the random slot with the one remembered in the
  dynamic `affinity` map (client . service address . proto . port -> slot,
  refreshed with timeout T on every new connection), re-picking when the
  remembered slot is out of range (the Service shrank). `ct mark` is otherwise
  unused in a node netns, and nat chains see only a connection's first packet.
- externalTrafficPolicy Local: the external key's verdict is `goto
  external-local`, which sends pods (and, masqueraded, the node itself) to the
  cluster endpoints via `external-cluster-picks` and everyone else to the local
  ones via `external-local-picks`; no element there means no local endpoint, and
  `service-endpoints-check` drops the packet before or after DNAT.
- Filters, as kube-proxy: `no-endpoint-services` / `no-endpoint-nodeports`
  reject (no endpoints at all) or drop (none for a Local policy);
  `cluster-ips-check` rejects unused ports of ClusterIPs and drops unallocated
  service-CIDR addresses; `firewall-check` drops sources outside
  loadBalancerSourceRanges (`firewall-ips` selects the LB addresses subject to
  ranges, the interval set `firewall-allow` holds LB IP . proto . port . range).
  Unlike kube-proxy, the checks of traffic arriving from outside run in
  `nat-prerouting`, which sees only a connection's first packet (what kube-proxy's
  `ct state new` guards select): `firewall-check` before `services` (as in
  kube-proxy's filter-prerouting), `service-endpoints-check` and
  `cluster-ips-check` after it, on what `services` did not DNAT (as in its
  filter-forward and filter-input, which see addresses after DNAT). So no filter
  chain on prerouting or forward, whose every packet (not only the first) would
  pay for the hook. `firewall-check` runs first in `nat-output` too.
- Node ports on 127.0.0.0/8: the node netns has `route_localnet=1`, so, as
  kube-proxy (CVE-2020-8558), `filter-input` and `filter-output-post-dnat` drop
  packets to 127.0.0.0/8 from any other source unless conntrack knows them
  (established, related, or DNATed): a neighbour on the VNet cannot reach what
  listens on the node's loopback.
- Masquerading is mark based (`mark-for-masquerade`, `masquerading`); hairpin
  traffic (a local endpoint reaching itself through a Service) is found in
  postrouting by the `hairpin` set of `endpoint . endpoint` pairs.

Pick chains are created on demand (a partial sync adds `add chain` + rules for
a count not seen before) and kept until the next full sync: they are few (one
per endpoint count and variant in use).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from portico.proxy.config import ProxyConfig
from portico.proxy.nftables import Chain, ChainType, Hook, Map, Object, Rule, Set, Table

# Fixed chains, sets and maps (kube-proxy's names where kube-proxy has one).
SERVICES_CHAIN = "services"
SERVICE_IPS_MAP = "service-ips"
SERVICE_NODEPORTS_MAP = "service-nodeports"
BACKENDS_MAP = "backends"
AFFINITY_MAP = "affinity"
EXTERNAL_LOCAL_CHAIN = "external-local"
EXTERNAL_CLUSTER_PICKS_MAP = "external-cluster-picks"
EXTERNAL_LOCAL_PICKS_MAP = "external-local-picks"
CLUSTER_IPS_SET = "cluster-ips"
HAIRPIN_SET = "hairpin"
SERVICE_ENDPOINTS_CHECK_CHAIN = "service-endpoints-check"
NODEPORT_ENDPOINTS_CHECK_CHAIN = "nodeport-endpoints-check"
NO_ENDPOINT_SERVICES_MAP = "no-endpoint-services"
NO_ENDPOINT_NODEPORTS_MAP = "no-endpoint-nodeports"
REJECT_CHAIN = "reject-chain"
CLUSTER_IPS_CHECK_CHAIN = "cluster-ips-check"
FIREWALL_IPS_SET = "firewall-ips"
FIREWALL_ALLOW_SET = "firewall-allow"
FIREWALL_CHECK_CHAIN = "firewall-check"
MARK_MASQ_CHAIN = "mark-for-masquerade"
MASQUERADING_CHAIN = "masquerading"
PICK_PREFIX = "pick-"

LOCAL_SLOT_OFFSET = 1 << 20
"""Slots of node-local endpoint lists start here, cluster-wide lists at 0."""
AFFINITY_MAP_TIMEOUT = 10800
"""The map's default; every `update` sets its own per-Service timeout."""

# kube-proxy's "block incoming localnet connections", as `nft list` prints it
LOCALNET_DROP = ("ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 "
                 "ct state ! established,related ct status ! dnat drop")
LOCALNET_CHAINS = ("filter-input", "filter-output-post-dnat")

ADDRESS_KEY = "ipv4_addr . inet_proto . inet_service"
_VERDICT = f"{ADDRESS_KEY} : verdict"
SERVICE_KEY = "ip daddr . meta l4proto . th dport"

# (name, type, hook, priority): filters see addresses before DNAT, except
# filter-output-post-dnat, which checks ClusterIPs that were not DNATed. nft 1.0.6
# accepts the name `dstnat` only on the prerouting hook, so the others are numeric
# (dstnat = -100).  No filter chain on prerouting or forward: see `JUMP_CHAINS`.
BASE_CHAINS = (
    ("filter-input", ChainType.FILTER, Hook.INPUT, "-110"),
    ("filter-output", ChainType.FILTER, Hook.OUTPUT, "-110"),
    ("filter-output-post-dnat", ChainType.FILTER, Hook.OUTPUT, "-90"),
    ("nat-prerouting", ChainType.NAT, Hook.PREROUTING, "dstnat"),
    ("nat-output", ChainType.NAT, Hook.OUTPUT, "-100"),
    ("nat-postrouting", ChainType.NAT, Hook.POSTROUTING, "srcnat"),
)
# (from chain, condition, to chain). The checks of traffic from outside run in
# nat-prerouting, which sees only a connection's first packet (the kernel accepts
# `reject` on the prerouting hook): the firewall before DNAT, the others on what was
# not DNATed, where kube-proxy has filter chains on prerouting and forward that every
# packet of every connection passes: no filter hook on the forwarded path (measured
# by bench/dataplane.py).  filter-input keeps the NodePort check (locally generated
# traffic to the node IP meets nat-output, not nat-prerouting); its Service check is
# nat-prerouting's, or filter-output's.
JUMP_CHAINS = (
    ("filter-input", "ct state new", NODEPORT_ENDPOINTS_CHECK_CHAIN),
    ("filter-output", "ct state new", SERVICE_ENDPOINTS_CHECK_CHAIN),
    ("filter-output-post-dnat", "ct state new", CLUSTER_IPS_CHECK_CHAIN),
    ("nat-output", "", FIREWALL_CHECK_CHAIN),
    ("nat-output", "", SERVICES_CHAIN),
    ("nat-prerouting", "", FIREWALL_CHECK_CHAIN),
    ("nat-prerouting", "", SERVICES_CHAIN),
    ("nat-prerouting", "", SERVICE_ENDPOINTS_CHECK_CHAIN),
    ("nat-prerouting", "", CLUSTER_IPS_CHECK_CHAIN),
    ("nat-postrouting", "", MASQUERADING_CHAIN),
)


@dataclass(frozen=True, order=True)
class Pick:
    """A shared pick chain: DNAT to one of `count` slots of a service address."""

    count: int
    local: bool = False
    """Slots from `LOCAL_SLOT_OFFSET`: the node-local endpoint list."""
    masquerade: bool = False
    affinity: int = 0
    """ClientIP affinity timeout in seconds; 0 for none."""

    @property
    def name(self) -> str:
        return (f"{PICK_PREFIX}{'local-' if self.local else ''}{self.count}"
                f"{'-masq' if self.masquerade else ''}"
                f"{f'-affinity-{self.affinity}' if self.affinity else ''}")

    @property
    def verdict(self) -> str:
        return f"goto {self.name}"

    @property
    def offset(self) -> int:
        return LOCAL_SLOT_OFFSET if self.local else 0

    def chains(self) -> list[tuple[str, tuple[str, ...]]]:
        """This chain and the ones it uses, as (name, rules)."""
        return _pick_chains(self)

    def _chains(self) -> list[tuple[str, tuple[str, ...]]]:
        if self.masquerade:
            unmasked = Pick(self.count, self.local, False, self.affinity)
            return [(self.name, (f"jump {MARK_MASQ_CHAIN}", unmasked.verdict)),
                    *unmasked.chains()]
        offset = f" offset {self.offset}" if self.offset else ""
        numgen = f"ct mark set numgen random mod {self.count}{offset}"
        dnat = f"dnat ip to {SERVICE_KEY} . ct mark map @{BACKENDS_MAP}"
        if not self.affinity:
            return [(self.name, (numgen, dnat))]
        client = f"ip saddr . {SERVICE_KEY}"
        last = self.offset + self.count - 1
        slots = f"{self.offset}-{last}" if self.count > 1 else str(self.offset)
        return [(self.name, (
            numgen,
            # a remembered slot overrides the random one; no element: no change
            f"ct mark set {client} map @{AFFINITY_MAP}",
            # ... unless the Service shrank below it
            f"ct mark != {slots} {numgen}",
            f"update @{AFFINITY_MAP} {{ {client} timeout {self.affinity}s : ct mark }}",
            dnat,
        ))]


@functools.cache
def _pick_chains(pick: Pick) -> list[tuple[str, tuple[str, ...]]]:
    return pick._chains()  # noqa: SLF001 - cached: every fragment asks for its picks


def base_objects(config: ProxyConfig) -> list[Object]:
    """The fixed part of the table, in an order `nft` accepts (objects before uses)."""
    objs: list[Object] = [Table(comment="rules for portico-proxy")]
    for name, ctype, hook, priority in BASE_CHAINS:
        objs.append(Chain(name, ctype, hook, priority))
    for name in (SERVICES_CHAIN, EXTERNAL_LOCAL_CHAIN, SERVICE_ENDPOINTS_CHECK_CHAIN,
                 NODEPORT_ENDPOINTS_CHECK_CHAIN, CLUSTER_IPS_CHECK_CHAIN, FIREWALL_CHECK_CHAIN,
                 MARK_MASQ_CHAIN, MASQUERADING_CHAIN):
        objs.append(Chain(name))
    objs += [
        Chain(REJECT_CHAIN, comment="helper for @no-endpoint-services / @no-endpoint-nodeports"),
        Set(CLUSTER_IPS_SET, "ipv4_addr", comment="Active ClusterIPs"),
        Set(HAIRPIN_SET, "ipv4_addr . ipv4_addr",
            comment="local endpoint . itself: hairpin traffic to masquerade"),
        Map(SERVICE_IPS_MAP, _VERDICT,
            comment="ClusterIP, ExternalIP and LoadBalancer IP traffic"),
        Map(SERVICE_NODEPORTS_MAP, _VERDICT, comment="NodePort traffic (node IP . proto . port)"),
        Map(BACKENDS_MAP, f"{ADDRESS_KEY} . mark : ipv4_addr . inet_service",
            comment="service address . proto . port . slot -> endpoint"),
        Map(AFFINITY_MAP, f"ipv4_addr . {ADDRESS_KEY} : mark", ("dynamic", "timeout"),
            AFFINITY_MAP_TIMEOUT, comment="ClientIP session affinity: client -> slot"),
        Map(EXTERNAL_CLUSTER_PICKS_MAP, _VERDICT,
            comment="externalTrafficPolicy Local: pick for pods and the node"),
        Map(EXTERNAL_LOCAL_PICKS_MAP, _VERDICT,
            comment="externalTrafficPolicy Local: pick among local endpoints"),
        Map(NO_ENDPOINT_SERVICES_MAP, _VERDICT,
            comment="vmap to drop or reject packets to services with no endpoints"),
        Map(NO_ENDPOINT_NODEPORTS_MAP, _VERDICT,
            comment="vmap to drop or reject packets to service nodeports with no endpoints"),
        Set(FIREWALL_IPS_SET, ADDRESS_KEY,
            comment="destinations that are subject to LoadBalancerSourceRanges"),
        Set(FIREWALL_ALLOW_SET, f"{ADDRESS_KEY} . ipv4_addr", ("interval",),
            comment="destination . allowed source range"),
    ]
    for src, cond, dst in JUMP_CHAINS:
        objs.append(Rule(src, f"{cond} jump {dst}".strip()))
    return objs + _fixed_rules(config)


def _fixed_rules(config: ProxyConfig) -> list[Object]:
    mark, cidr, key = config.masquerade_mark, config.cluster_cidr, SERVICE_KEY
    return [
        # Off-cluster clients routed to a ClusterIP may bounce off-node: masquerade.
        Rule(SERVICES_CHAIN, f"ip daddr @{CLUSTER_IPS_SET} ip saddr != {cidr} "
                             f"jump {MARK_MASQ_CHAIN}"),
        Rule(SERVICES_CHAIN, f"{key} vmap @{SERVICE_IPS_MAP}"),
        Rule(SERVICES_CHAIN, f"{key} vmap @{SERVICE_NODEPORTS_MAP}"),
        # Pods reaching an external address act as if they went out and came back.
        Rule(EXTERNAL_LOCAL_CHAIN, f"ip saddr {cidr} {key} vmap @{EXTERNAL_CLUSTER_PICKS_MAP}"),
        # The node itself: its source would be the (local) external IP; masquerade.
        Rule(EXTERNAL_LOCAL_CHAIN, f"fib saddr type local jump {MARK_MASQ_CHAIN}"),
        Rule(EXTERNAL_LOCAL_CHAIN,
             f"fib saddr type local {key} vmap @{EXTERNAL_CLUSTER_PICKS_MAP}"),
        Rule(EXTERNAL_LOCAL_CHAIN, f"{key} vmap @{EXTERNAL_LOCAL_PICKS_MAP}"),
        Rule(SERVICE_ENDPOINTS_CHECK_CHAIN, f"{key} vmap @{NO_ENDPOINT_SERVICES_MAP}"),
        Rule(NODEPORT_ENDPOINTS_CHECK_CHAIN, f"{key} vmap @{NO_ENDPOINT_NODEPORTS_MAP}"),
        Rule(CLUSTER_IPS_CHECK_CHAIN, f"ip daddr @{CLUSTER_IPS_SET} reject",
             comment="Reject traffic to invalid ports of ClusterIPs"),
        Rule(CLUSTER_IPS_CHECK_CHAIN, f"ip daddr {config.service_cidr} drop",
             comment="Drop traffic to unallocated ClusterIPs"),
        Rule(FIREWALL_CHECK_CHAIN, f"{key} @{FIREWALL_IPS_SET} "
                                   f"{key} . ip saddr != @{FIREWALL_ALLOW_SET} drop"),
        Rule(MARK_MASQ_CHAIN, f"meta mark set meta mark | {mark}"),
        Rule(MASQUERADING_CHAIN, f"ct status dnat ip saddr . ip daddr @{HAIRPIN_SET} "
                                 f"jump {MARK_MASQ_CHAIN}"),
        Rule(MASQUERADING_CHAIN, f"meta mark & {mark} == 0 return"),
        Rule(MASQUERADING_CHAIN, f"meta mark set meta mark ^ {mark}"),
        Rule(MASQUERADING_CHAIN, "masquerade fully-random"),
        Rule(REJECT_CHAIN, "reject"),
        *(Rule(chain, LOCALNET_DROP, comment="block incoming localnet connections")
          for chain in LOCALNET_CHAINS),
    ]
