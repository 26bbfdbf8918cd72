"""NetworkPolicy (networking.k8s.io/v1) enforced in the node's nftables.

Pipeline (the Service proxier's shape): Pods, Namespaces and NetworkPolicies
(informers) -> `model` (frozen values; `Cluster.decide` is the verdict) ->
`_state` (dirty policies only) -> `render` (per-policy fragments of the `inet
portico-netpol` table) -> `diff` (changed fragments -> one transaction) -> the
proxier's `NftRunner` (one atomic nft transaction). See `render.py` for the
layout and `_conntrack.py` for what happens to running connections.
`portico policy check` answers from the same `model`.
"""

from portico.netpol._agent import PolicyAgent

__all__ = ["PolicyAgent"]
