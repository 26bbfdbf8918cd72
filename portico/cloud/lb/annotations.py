"""A Service's load balancer settings, read from its spec and AKS annotations (pure).

cloud-provider-azure reads `service.beta.kubernetes.io/azure-*` annotations and
`port_{N}_*` per-port overrides (N = the Service `port`); this module turns them
into `ServiceSettings` or raises `SettingsError` with the message that ends up in
a `SyncLoadBalancerFailed` event. Rules, as in `azure_loadbalancer_healthprobe.go`:

- externalTrafficPolicy Local: one HTTP probe `GET /healthz` on the
  healthCheckNodePort for every port (per-port and global probe annotations ignored);
- Cluster: a TCP port gets a probe on its nodePort (TCP, or HTTP(S) with path `/`
  when `appProtocol` or the protocol annotation says so); UDP and SCTP get none;
  `port_{N}_health-probe_*` override per port, `port_{N}_no_probe_rule` drops the
  probe and `port_{N}_no_lb_rule` the whole rule;
- interval >= the minimum (5 s in AKS), number of probes >= 2, interval x number < 120 s;
- idle timeout 4..100 minutes; `loadBalancerSourceRanges` and `azure-allowed-ip-ranges`
  are exclusive.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from portico.cloud.lb.model import LoadDistribution, ProbeProtocol, ServiceInfo, ServicePort
from portico.model.vocabulary import Protocol, TrafficPolicy

PREFIX = "service.beta.kubernetes.io/"
INTERNAL = PREFIX + "azure-load-balancer-internal"
IPV4 = PREFIX + "azure-load-balancer-ipv4"
PROBE_PROTOCOL = PREFIX + "azure-load-balancer-health-probe-protocol"
PROBE_REQUEST_PATH = PREFIX + "azure-load-balancer-health-probe-request-path"
PROBE_INTERVAL = PREFIX + "azure-load-balancer-health-probe-interval"
PROBE_NUM = PREFIX + "azure-load-balancer-health-probe-num-of-probe"
TCP_IDLE_TIMEOUT = PREFIX + "azure-load-balancer-tcp-idle-timeout"
DISABLE_FLOATING_IP = PREFIX + "azure-disable-load-balancer-floating-ip"
ALLOWED_IP_RANGES = PREFIX + "azure-allowed-ip-ranges"

DEFAULT_INTERVAL = 5
DEFAULT_NUM_OF_PROBE = 2
MIN_NUM_OF_PROBE = 2
MAX_PROBE_WINDOW = 120
DEFAULT_IDLE_TIMEOUT = 4
IDLE_TIMEOUT_RANGE = (4, 100)
LOCAL_HEALTH_PATH = "/healthz"
DEFAULT_HTTP_PATH = "/"


class SettingsError(ValueError):
    """The Service asks for something the load balancer cannot build."""


def port_annotation(port: int, key: str) -> str:
    """`service.beta.kubernetes.io/port_{port}_{key}`, e.g. key `health-probe_interval`."""
    return f"{PREFIX}port_{port}_{key}"


@dataclass(frozen=True)
class ProbeSpec:
    protocol: ProbeProtocol
    port: int
    request_path: str | None
    interval: int
    number_of_probes: int


@dataclass(frozen=True)
class RuleSpec:
    port: ServicePort
    probe: ProbeSpec | None


@dataclass(frozen=True)
class ServiceSettings:
    internal: bool
    requested_ip: str | None
    floating_ip: bool
    idle_timeout: int
    load_distribution: LoadDistribution
    source_ranges: tuple[str, ...]
    rules: tuple[RuleSpec, ...]


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _int(svc: ServiceInfo, key: str, default: int) -> int:
    raw = svc.annotations.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise SettingsError(f"annotation {key}: {raw!r} is not an integer") from None


def _probe_protocol(raw: str, key: str) -> ProbeProtocol:
    for protocol in ProbeProtocol:
        if raw.strip().lower() == protocol.value.lower():
            return protocol
    raise SettingsError(f"annotation {key}: unsupported health probe protocol {raw!r} "
                        "(want tcp, http or https)")


def _source_ranges(svc: ServiceInfo) -> tuple[str, ...]:
    annotated = svc.annotations.get(ALLOWED_IP_RANGES, "").strip()
    if annotated and svc.source_ranges:
        raise SettingsError("both spec.loadBalancerSourceRanges and annotation "
                            f"{ALLOWED_IP_RANGES} are set; use only one")
    raw = [r.strip() for r in annotated.split(",") if r.strip()] if annotated \
        else list(svc.source_ranges)
    ranges: list[str] = []
    for text in raw:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise SettingsError(f"invalid source range {text!r}") from None
        if net.version == 4:
            ranges.append(str(net))
    if "0.0.0.0/0" in ranges:
        return ()
    return tuple(sorted(set(ranges), key=lambda r: ipaddress.IPv4Network(r)))


def _timing(svc: ServiceInfo, port: int | None, min_interval: int) -> tuple[int, int]:
    interval = _int(svc, PROBE_INTERVAL, DEFAULT_INTERVAL)
    count = _int(svc, PROBE_NUM, DEFAULT_NUM_OF_PROBE)
    if port is not None:
        interval = _int(svc, port_annotation(port, "health-probe_interval"), interval)
        count = _int(svc, port_annotation(port, "health-probe_num-of-probe"), count)
    if interval < min_interval:
        raise SettingsError(f"health probe interval {interval} is below the minimum "
                            f"{min_interval} seconds")
    if count < MIN_NUM_OF_PROBE:
        raise SettingsError(f"health probe num-of-probe {count} is below the minimum "
                            f"{MIN_NUM_OF_PROBE}")
    if interval * count >= MAX_PROBE_WINDOW:
        raise SettingsError(f"health probe interval x num-of-probe = {interval * count} "
                            f"must be below {MAX_PROBE_WINDOW} seconds")
    return interval, count


def _cluster_probe(svc: ServiceInfo, port: ServicePort, min_interval: int) -> ProbeSpec | None:
    n = port.port
    if _true(svc.annotations.get(port_annotation(n, "no_probe_rule"))):
        return None
    key = port_annotation(n, "health-probe_protocol")
    raw = svc.annotations.get(key) or svc.annotations.get(PROBE_PROTOCOL)
    if raw:
        protocol = _probe_protocol(raw, key if svc.annotations.get(key) else PROBE_PROTOCOL)
    elif (port.app_protocol or "").lower() in ("http", "https"):
        protocol = ProbeProtocol((port.app_protocol or "").capitalize())
    elif port.protocol == Protocol.TCP:
        protocol = ProbeProtocol.TCP
    else:
        return None  # UDP and SCTP ports get no probe
    probe_port = _int(svc, port_annotation(n, "health-probe_port"), 0)
    if probe_port:
        named = next((p for p in svc.ports if p.port == probe_port), None)
        probe_port = named.node_port if named and named.node_port else probe_port
    else:
        probe_port = port.node_port
    if not probe_port:
        return None  # allocateLoadBalancerNodePorts: false and nothing to probe
    path = None
    if protocol != ProbeProtocol.TCP:
        path = (svc.annotations.get(port_annotation(n, "health-probe_request-path"))
                or svc.annotations.get(PROBE_REQUEST_PATH) or DEFAULT_HTTP_PATH)
    interval, count = _timing(svc, n, min_interval)
    return ProbeSpec(protocol, probe_port, path, interval, count)


def _local_probe(svc: ServiceInfo, min_interval: int) -> ProbeSpec:
    if not svc.health_check_node_port:
        raise SettingsError("externalTrafficPolicy Local needs spec.healthCheckNodePort")
    interval, count = _timing(svc, None, min_interval)
    return ProbeSpec(ProbeProtocol.HTTP, svc.health_check_node_port, LOCAL_HEALTH_PATH,
                     interval, count)


def _idle_timeout(svc: ServiceInfo) -> int:
    value = _int(svc, TCP_IDLE_TIMEOUT, DEFAULT_IDLE_TIMEOUT)
    low, high = IDLE_TIMEOUT_RANGE
    if not low <= value <= high:
        raise SettingsError(f"annotation {TCP_IDLE_TIMEOUT}: idle timeout {value} is not "
                            f"within {low} and {high} minutes")
    return value


def service_settings(svc: ServiceInfo, min_interval: int = DEFAULT_INTERVAL) -> ServiceSettings:
    """Everything the planner needs of `svc`; raises `SettingsError` on a bad request."""
    floating = not _true(svc.annotations.get(DISABLE_FLOATING_IP))
    local = svc.external_traffic_policy == TrafficPolicy.LOCAL
    shared_probe = _local_probe(svc, min_interval) if local else None
    rules = []
    for port in svc.ports:
        if _true(svc.annotations.get(port_annotation(port.port, "no_lb_rule"))):
            continue
        if port.protocol == Protocol.SCTP:
            raise SettingsError(f"port {port.port}: SCTP is not supported by the load balancer")
        if not floating and not port.node_port:
            raise SettingsError(f"port {port.port}: floating IP is disabled but the port has "
                                "no nodePort (allocateLoadBalancerNodePorts: false)")
        probe = shared_probe if local else _cluster_probe(svc, port, min_interval)
        rules.append(RuleSpec(port, probe))
    requested = (svc.annotations.get(IPV4) or "").strip() or svc.load_balancer_ip
    return ServiceSettings(
        internal=_true(svc.annotations.get(INTERNAL)), requested_ip=requested or None,
        floating_ip=floating, idle_timeout=_idle_timeout(svc),
        load_distribution=LoadDistribution.SOURCE_IP if svc.client_ip_affinity
        else LoadDistribution.DEFAULT,
        source_ranges=_source_ranges(svc), rules=tuple(rules))
