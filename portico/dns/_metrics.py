"""Prometheus metrics named as CoreDNS names them, and their text exposition.

Theory of operation: the server calls `Metrics.observe(...)` once per answered
query with the labels CoreDNS uses (`server` = "dns://<listen>", `zone` = "."
for the one server block AKS runs, `proto` udp/tcp, `family` 1 = IPv4 and
2 = IPv6, `type` the query type, `rcode`, `plugin` = the plugin that wrote the
response: "kubernetes", "forward", or "" for replies the server itself made).
Counters are plain dicts keyed by label tuples, so observing is a few dict
updates; `render()` is a pure function of the counts. The duration histogram
uses CoreDNS's buckets: ExponentialBuckets(0.00025, 2, 16).
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field
from enum import StrEnum

import dns.rcode
import dns.rdatatype

BUCKETS = tuple(0.00025 * 2**i for i in range(16))
VERSION = "1.11.1"  # the CoreDNS release whose behaviour this server follows
ZONE_LABEL = "."
HEADER_SIZE = 12


class Plugin(StrEnum):
    """Values of the `plugin` label."""

    KUBERNETES = "kubernetes"
    FORWARD = "forward"
    SERVER = ""


def query_type(query: bytes) -> str:
    """The first question's type mnemonic, read from the wire without a full parse."""
    pos = HEADER_SIZE
    try:
        while query[pos]:
            pos += 1 + query[pos]
        (rdtype,) = struct.unpack_from("!H", query, pos + 1)
    except (IndexError, struct.error):
        return "other"
    try:
        return dns.rdatatype.to_text(rdtype)
    except ValueError:
        return "other"


def response_code(response: bytes) -> str:
    """The rcode mnemonic of a reply (header bits only, no EDNS extension)."""
    if len(response) < 4:
        return "SERVFAIL"
    return dns.rcode.to_text(dns.rcode.Rcode(response[3] & 0x0F))


@dataclass
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0


@dataclass
class Metrics:
    server: str
    requests: dict[tuple[str, str, str], int] = field(default_factory=dict)
    responses: dict[tuple[str, str], int] = field(default_factory=dict)
    durations: dict[str, Histogram] = field(default_factory=dict)

    def observe(self, proto: str, family: str, qtype: str, rcode: str, plugin: str,
                seconds: float) -> None:
        key = (proto, family, qtype)
        self.requests[key] = self.requests.get(key, 0) + 1
        rkey = (rcode, plugin)
        self.responses[rkey] = self.responses.get(rkey, 0) + 1
        histogram = self.durations.get(qtype)
        if histogram is None:
            histogram = self.durations[qtype] = Histogram()
        histogram.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        histogram.total += seconds

    def render(self) -> str:
        return render(self)


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return "{" + inner + "}"


def render(metrics: Metrics) -> str:
    """Prometheus text format 0.0.4."""
    server = metrics.server
    lines = ["# HELP coredns_build_info A metric with a constant '1' value labeled by version, "
             "revision, and goversion from which CoreDNS was built.",
             "# TYPE coredns_build_info gauge",
             "coredns_build_info"
             f"{_labels(goversion='python', revision='portico', version=VERSION)} 1",
             "# HELP coredns_dns_requests_total Counter of DNS requests made per zone, protocol "
             "and family.",
             "# TYPE coredns_dns_requests_total counter"]
    for (proto, family, qtype), count in sorted(metrics.requests.items()):
        labels = _labels(server=server, zone=ZONE_LABEL, proto=proto, family=family, type=qtype)
        lines.append(f"coredns_dns_requests_total{labels} {count}")
    lines += ["# HELP coredns_dns_responses_total Counter of response status codes.",
              "# TYPE coredns_dns_responses_total counter"]
    for (rcode, plugin), count in sorted(metrics.responses.items()):
        labels = _labels(server=server, zone=ZONE_LABEL, rcode=rcode, plugin=plugin)
        lines.append(f"coredns_dns_responses_total{labels} {count}")
    lines += ["# HELP coredns_dns_request_duration_seconds Histogram of the time (in seconds) "
              "each request took per zone.",
              "# TYPE coredns_dns_request_duration_seconds histogram"]
    for qtype, histogram in sorted(metrics.durations.items()):
        base = f'server="{server}",zone="{ZONE_LABEL}",type="{qtype}"'
        cumulative = 0
        for bound, count in zip((*BUCKETS, float("inf")), histogram.counts, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'coredns_dns_request_duration_seconds_bucket{{{base},le="{le}"}} '
                         f"{cumulative}")
        lines.append(f"coredns_dns_request_duration_seconds_sum{{{base}}} {histogram.total}")
        lines.append(f"coredns_dns_request_duration_seconds_count{{{base}}} {cumulative}")
    return "\n".join(lines) + "\n"
