"""Service data plane: kube-proxy's semantics on a map-based nftables layout.

Pipeline. Services + EndpointSlices (shared informers) -> `model` (frozen
service ports and endpoints) -> `track` (previous/current, no-op changes
cancel) -> `render` (the map and set elements of each service port) -> `diff`
(against what was applied, kept in memory) -> `apply` (one atomic nft
transaction). See `_proxier.py`. The node agent runs `Proxier(ProxyConfig(...),
informers)` inside its node netns.

Layout (`layout.py`), and why it departs from kube-proxy. kube-proxy's nftables
mode writes chains per service port (`service-`, `external-`, `local-`) and per
endpoint (`endpoint-`), each service chain ending in an anonymous `numgen random
mod N vmap { ... }`. A faithful port of that measured, at 10,000 Services x 10
endpoints on this machine (nft 1.0.6): full sync ~190 s (the anonymous vmaps
make a big batch quadratic inside `nft`) and ~0.86 s for a one-endpoint change
(every `nft -f` first loads the table's 100k+ chains and rules into its cache).
Here the chains and rules are few and fixed (17 chains, 31 rules at that
scale) and everything that grows with Services and endpoints is an element of
a named map or set:

    service-ips, service-nodeports  ip . proto . port  -> goto pick-<N>[-masq][-affinity-<T>]
    backends                        ip . proto . port . slot  -> endpoint ip . port
    chain pick-<N>                  ct mark set numgen random mod N
                                    dnat ip to ip daddr . meta l4proto . th dport . ct mark
                                        map @backends

plus `affinity` (a dynamic map of client . service -> slot for ClientIP
affinity), `external-local` with `external-cluster-picks` /
`external-local-picks` (externalTrafficPolicy Local), `hairpin`, `cluster-ips`,
the `no-endpoint-*` maps and `firewall-ips` / `firewall-allow`
(loadBalancerSourceRanges). A partial sync is then a handful of `delete element`
/ `add element` commands (plus, rarely, a new shared pick chain), for which
`nft` loads no rule or element cache, applied in process through libnftables
(`_libnft.py`); a full sync replaces the table in one transaction with elements
grouped 1000 per command.

Measured with `bench/dataplane.py` (10,000 Services x 10 endpoints, same
machine, shared with other work): full sync 2.6-3.4 s (render ~1.3 s, `nft -f
-` ~1.4 s, commit 0.1 s; goal < 5 s), one-endpoint change p50 1.3-1.7 ms, p99
~4 ms (goal p99 < 50 ms; 3-8 element operations), max RSS ~250 MiB. Traffic
(wrk against nginx, see README's Performance) is judged against going straight to
the pod and against a hand-written single DNAT rule for the same Service. The
checks of traffic from outside (firewall, no endpoints, unused ClusterIP ports) run
in `nat-prerouting`, which sees first packets only, so a forwarded packet meets no
filter chain of the table (see `layout.py`); filter chains stay where locally
generated or locally delivered traffic needs them.

Semantics kept from kube-proxy: ready endpoints, else serving-and-terminating
ones (for Cluster and Local separately); internalTrafficPolicy Local (drop
without local endpoints); externalTrafficPolicy Local (client IP kept, local
endpoints only, pods and the node itself short-circuit to all endpoints, drop
without local endpoints) and Cluster (masquerade); reject without endpoints;
reject unused ports of ClusterIPs, drop unallocated service-CIDR addresses;
masquerade off-cluster sources to ClusterIPs and hairpin traffic; source
ranges for LB IPs; ClientIP affinity with its timeout; UDP conntrack cleanup;
health-check node ports; kube-proxy's metrics. Differences: NodePorts answer on
the node IP only (kube-proxy nftables' default `--nodeport-addresses=primary`);
affinity is remembered per client and service address (ClusterIP, NodePort,
LB IP each) rather than per client and Service; endpoints keep their slot
across changes, so affinity survives scaling.
"""

from portico.proxy._proxier import Proxier
from portico.proxy.apply import NftCommand, NftError, NftRunner
from portico.proxy.config import ProxyConfig

__all__ = ["NftCommand", "NftError", "NftRunner", "ProxyConfig", "Proxier"]
