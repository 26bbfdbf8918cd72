"""Prometheus metrics of the proxy, in the text exposition format, kube-proxy's names.

Plain counters, gauges and histograms with no client library: the proxy is the
only writer, and `render()` prints them for `/metrics`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# kube-proxy's buckets for sync_proxy_rules_duration_seconds: exponential 1ms .. ~16s.
SYNC_BUCKETS = tuple(0.001 * 2**i for i in range(15))
# network_programming_duration_seconds: 0.25s .. ~5m in kube-proxy; finer at the low end here.
PROGRAMMING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


@dataclass
class Histogram:
    name: str
    help: str
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(self.buckets, value)
        if index < len(self.counts):
            self.counts[index] += 1
        self.total += value
        self.count += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        cumulative = 0
        for bound, n in zip(self.buckets, self.counts, strict=True):
            cumulative += n
            lines.append(f'{self.name}_bucket{{le="{bound:g}"}} {cumulative}')
        lines += [f'{self.name}_bucket{{le="+Inf"}} {self.count}',
                  f"{self.name}_sum {self.total:.6f}", f"{self.name}_count {self.count}"]
        return lines


@dataclass
class Counter:
    name: str
    help: str
    kind: str = "counter"
    values: dict[str, float] = field(default_factory=dict)

    def inc(self, labels: str = "", by: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + by

    def set(self, value: float, labels: str = "") -> None:
        self.values[labels] = value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in sorted(self.values.items()):
            lines.append(f"{self.name}{'{' + labels + '}' if labels else ''} {value:g}")
        return lines


class ProxyMetrics:
    def __init__(self) -> None:
        p = "kubeproxy_"
        self.sync_duration = Histogram(
            p + "sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds",
            SYNC_BUCKETS)
        self.full_sync_duration = Histogram(
            p + "sync_full_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds for full resyncs", SYNC_BUCKETS)
        self.partial_sync_duration = Histogram(
            p + "sync_partial_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds for partial resyncs", SYNC_BUCKETS)
        self.programming = Histogram(
            p + "network_programming_duration_seconds",
            "In Cluster Network Programming Latency in seconds", PROGRAMMING_BUCKETS)
        self.syncs = Counter(p + "sync_proxy_rules_total",
                             "Syncs by type (full, partial) and result")
        self.failures = Counter(p + "sync_proxy_rules_iptables_restore_failures_total",
                                "Failed nft transactions (upstream name, kept for nftables)")
        self.last_sync = Counter(p + "sync_proxy_rules_last_timestamp_seconds",
                                 "The last time proxy rules were successfully synced", "gauge")
        self.service_changes = Counter(p + "sync_proxy_rules_service_changes_total",
                                       "Cumulative proxy rules Service changes")
        self.endpoint_changes = Counter(p + "sync_proxy_rules_endpoint_changes_total",
                                        "Cumulative proxy rules Endpoint changes")
        self.nft_operations = Counter(p + "sync_proxy_rules_nftables_operations",
                                      "Operations in the last nft transaction", "gauge")

    def render(self) -> str:
        lines: list[str] = []
        for metric in (self.sync_duration, self.full_sync_duration, self.partial_sync_duration,
                       self.programming, self.syncs, self.failures, self.last_sync,
                       self.service_changes, self.endpoint_changes, self.nft_operations):
            lines += metric.render()
        return "\n".join(lines) + "\n"
