"""Services + Nodes -> the Azure-style load balancers (pure): the planner.

`plan()` is the whole decision of one sync. It reads every Service and Node and
the frontends recorded in the LoadBalancer objects, and returns:
- `load_balancers`: `<cluster>` (public frontends) and `<cluster>-internal`
  (internal ones), each with one frontend IP configuration per Service, one
  backend pool (Ready nodes without the exclude label), one rule per Service port
  and the probes of those rules (named like the rule, as AKS does);
- `outcomes`: per managed Service, its address or the error to report;
- `cleanup`: Services that carry our finalizer but no longer want a load balancer
  (deleted, type changed, other class), whose rules are gone from the plan.
The caller applies the rules first and only then writes statuses and removes
finalizers, so an address is freed only once nothing forwards to it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from portico.cloud.lb.annotations import (
    DEFAULT_INTERVAL,
    ServiceSettings,
    SettingsError,
    service_settings,
)
from portico.cloud.lb.ipam import Assignment, Candidate, Pools, assign
from portico.cloud.lb.model import (
    BackendAddressPool,
    BackendMember,
    FrontendIPConfiguration,
    LoadBalancer,
    LoadBalancerType,
    LoadBalancingRule,
    NodeInfo,
    Probe,
    ServiceInfo,
    TransportProtocol,
    frontend_name,
    rule_name,
)

INTERNAL_SUFFIX = "-internal"


@dataclass(frozen=True)
class LbConfig:
    cluster_name: str = "portico"
    public_pool: ipaddress.IPv4Network = ipaddress.IPv4Network("198.51.100.0/24")
    internal_subnet: ipaddress.IPv4Network = ipaddress.IPv4Network("10.224.0.0/16")
    min_probe_interval: int = DEFAULT_INTERVAL

    def lb_name(self, kind: LoadBalancerType) -> str:
        suffix = INTERNAL_SUFFIX if kind == LoadBalancerType.INTERNAL else ""
        return self.cluster_name + suffix


@dataclass(frozen=True)
class Outcome:
    service: ServiceInfo
    ip: str | None = None
    error: str | None = None
    type: LoadBalancerType = LoadBalancerType.PUBLIC


@dataclass
class Plan:
    load_balancers: dict[LoadBalancerType, LoadBalancer] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # uid -> outcome
    cleanup: list[ServiceInfo] = field(default_factory=list)

    def rules_of(self, svc: ServiceInfo) -> tuple[LoadBalancingRule, ...]:
        name = frontend_name(svc.uid)
        return tuple(r for lb in self.load_balancers.values()
                     for r in lb.load_balancing_rules if r.frontend_ip_configuration == name)

    def probes_of(self, svc: ServiceInfo) -> tuple[Probe, ...]:
        names = {r.probe for r in self.rules_of(svc)}
        return tuple(p for lb in self.load_balancers.values() for p in lb.probes
                     if p.name in names)


def backend_pool(nodes: list[NodeInfo], config: LbConfig) -> BackendAddressPool:
    members = tuple(BackendMember(n.name, n.address) for n in sorted(nodes, key=lambda n: n.name)
                    if n.ready and not n.excluded and n.address)
    return BackendAddressPool(config.cluster_name, members)


def _rules(svc: ServiceInfo, settings: ServiceSettings, ip: str
           ) -> tuple[list[LoadBalancingRule], list[Probe]]:
    frontend = frontend_name(svc.uid)
    rules: list[LoadBalancingRule] = []
    probes: dict[str, Probe] = {}
    for spec in settings.rules:
        name = rule_name(frontend, spec.port.protocol, spec.port.port)
        probe_name = None
        if spec.probe is not None:
            probe_name = name
            p = spec.probe
            probes[name] = Probe(name, p.protocol, p.port, p.request_path, p.interval,
                                 p.number_of_probes)
        rules.append(LoadBalancingRule(
            name=name, frontend_ip_configuration=frontend, frontend_ip=ip,
            protocol=TransportProtocol(spec.port.protocol.value.capitalize()),
            frontend_port=spec.port.port,
            backend_port=spec.port.port if settings.floating_ip else spec.port.node_port,
            enable_floating_ip=settings.floating_ip,
            idle_timeout_in_minutes=settings.idle_timeout,
            load_distribution=settings.load_distribution, probe=probe_name))
    return rules, list(probes.values())


def _candidate(svc: ServiceInfo, settings: ServiceSettings,
               remembered: dict[str, str]) -> Candidate:
    ports = frozenset((r.port.protocol.value, r.port.port) for r in settings.rules)
    recorded = remembered.get(frontend_name(svc.uid))
    current = svc.ingress_ips + ((recorded,) if recorded else ())
    return Candidate(svc.uid, svc.key, svc.created, settings.internal, settings.requested_ip,
                     ports, current)


def plan(services: list[ServiceInfo], nodes: list[NodeInfo], config: LbConfig,
         remembered: dict[str, str] | None = None) -> Plan:
    """The load balancers for `services` on `nodes`.

    `remembered` maps a frontend name (`a` + uid) to the address a LoadBalancer
    object records for it (used when the Service's status lacks one).
    """
    result = Plan()
    settings: dict[str, ServiceSettings] = {}
    for svc in sorted(services, key=lambda s: (s.created, s.key)):
        if not svc.wants_load_balancer:
            if svc.has_finalizer:
                result.cleanup.append(svc)
            continue
        try:
            settings[svc.uid] = service_settings(svc, config.min_probe_interval)
        except SettingsError as exc:
            result.outcomes[svc.uid] = Outcome(svc, error=str(exc))
    by_uid = {s.uid: s for s in services}
    pools = Pools(config.public_pool, config.internal_subnet,
                  frozenset(n.address for n in nodes if n.address))
    assignment = assign([_candidate(by_uid[uid], s, remembered or {})
                         for uid, s in settings.items()], pools)
    result.load_balancers = _load_balancers(by_uid, settings, assignment, nodes, config)
    for uid, s in settings.items():
        kind = LoadBalancerType.INTERNAL if s.internal else LoadBalancerType.PUBLIC
        result.outcomes[uid] = Outcome(by_uid[uid], assignment.ips.get(uid),
                                       assignment.errors.get(uid), kind)
    return result


def _load_balancers(by_uid: dict[str, ServiceInfo], settings: dict[str, ServiceSettings],
                    assignment: Assignment, nodes: list[NodeInfo], config: LbConfig
                    ) -> dict[LoadBalancerType, LoadBalancer]:
    pool = backend_pool(nodes, config)
    parts: dict[LoadBalancerType, tuple[list[FrontendIPConfiguration],
                                        list[LoadBalancingRule], list[Probe]]] = {}
    for uid, s in settings.items():
        ip = assignment.ips.get(uid)
        if ip is None:
            continue
        svc = by_uid[uid]
        kind = LoadBalancerType.INTERNAL if s.internal else LoadBalancerType.PUBLIC
        frontends, rules, probes = parts.setdefault(kind, ([], [], []))
        frontends.append(FrontendIPConfiguration(frontend_name(uid), ip, svc.key, kind,
                                                 s.source_ranges))
        new_rules, new_probes = _rules(svc, s, ip)
        rules.extend(new_rules)
        probes.extend(new_probes)
    return {kind: LoadBalancer(
        config.lb_name(kind), kind, tuple(sorted(f, key=lambda x: x.name)), pool,
        tuple(sorted(r, key=lambda x: x.name)), tuple(sorted(p, key=lambda x: x.name)))
        for kind, (f, r, p) in sorted(parts.items())}
