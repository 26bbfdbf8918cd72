"""Service data plane: kube-proxy's nftables mode, in Python.

Services + EndpointSlices (lightkube list+watch) -> `model` (frozen service
ports and endpoints) -> `track` (previous/current, no-op changes cancel) ->
`render` (nftables objects per service port) -> `diff` (against what was applied,
kept in memory) -> `apply` (one `nft -f -` transaction). See `_proxier.py`.

The node agent runs `Proxier(ProxyConfig(...), client)` inside its node netns.
"""

from portico.proxy._proxier import Proxier
from portico.proxy.apply import NftCommand, NftError, NftRunner
from portico.proxy.config import ProxyConfig

__all__ = ["NftCommand", "NftError", "NftRunner", "ProxyConfig", "Proxier"]
