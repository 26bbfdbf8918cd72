"""Proxy configuration: one frozen value, the node agent fills it in.

`netns` is for running the proxier outside the node's network namespace (tests,
benchmarks): `nft` and `conntrack` then run through `ip netns exec <netns>`, and
the health-check listeners are created inside that namespace. The node agent
already runs inside its node netns and leaves it `None`.

An empty `metrics_address` / `healthz_address` disables that server (unit tests).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProxyConfig:
    node_name: str
    node_ip: str
    """The node's InternalIP: NodePorts and health-check ports answer here."""
    pod_cidr: str
    cluster_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.0.0.0/16"
    metrics_address: str = "127.0.0.1:10249"
    healthz_address: str = "0.0.0.0:10256"
    table: str = "portico-proxy"
    min_sync_interval: float = 0.005
    """Syncs start at most this often: a burst of watch events folds into one sync."""
    sync_period: float = 60.0
    """A sync at least this often (partial: it emits nothing when nothing changed)."""
    masquerade_bit: int = 14
    netns: str | None = None

    @property
    def masquerade_mark(self) -> str:
        return hex(1 << self.masquerade_bit)


def split_address(address: str) -> tuple[str, int]:
    """`"0.0.0.0:10249"` -> `("0.0.0.0", 10249)`."""
    host, _, port = address.rpartition(":")
    return host or "0.0.0.0", int(port)
