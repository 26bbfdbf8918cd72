"""The proxier's state machine, without I/O: tracked changes in, a sync plan out.

Theory of operation. Watch callbacks record into two `ChangeTracker`s (Services
by name, EndpointSlices by namespace/name). `plan()` drains them, folds them into
the synced view (`services`, `slices`) and decides:

- full sync (at start, and after any failure): render every service port and
  replace the table (`diff.full_sync`);
- partial sync: render only the service ports of Services whose spec or slices
  changed, and emit only their difference (`diff.partial_sync`).

The plan also carries what follows a successful apply: UDP conntrack flows to
clear (endpoints that stopped being reachable), health-check state of the
touched Services, and the times the endpoint changes were triggered (for
network programming latency). `commit(plan)` is called only after the
transaction succeeded; `failed()` forces the next sync to be full.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from portico.proxy._conntrack import StaleFlow, stale_flows
from portico.proxy._health import ServiceHealth
from portico.proxy.config import ProxyConfig
from portico.proxy.diff import Applied, full_sync, partial_sync
from portico.proxy.model import (
    ServiceName,
    ServicePort,
    ServicePortName,
    SliceInfo,
    categorize,
    merge_slices,
)
from portico.proxy.nftables import Transaction
from portico.proxy.render import Fragment, service_fragment
from portico.proxy.track import ChangeTracker

PortMap = dict[ServicePortName, ServicePort]
SliceKey = tuple[str, str]


@dataclass
class SyncPlan:
    full: bool
    changes: dict[ServicePortName, Fragment | None] = field(default_factory=dict)
    tx: Transaction | None = None
    applied: Applied | None = None
    stale: list[StaleFlow] = field(default_factory=list)
    reachable: dict[ServicePortName, tuple[ServicePort, frozenset[str]] | None] = \
        field(default_factory=dict)
    health: dict[ServiceName, ServiceHealth | None] = field(default_factory=dict)
    health_ports: dict[ServiceName, int] = field(default_factory=dict)
    trigger_times: list[float] = field(default_factory=list)
    service_changes: int = 0
    endpoint_changes: int = 0


def _parse_time(value: str | None, fallback: float) -> float:
    if not value:
        return fallback
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return fallback


class ProxyState:
    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.service_changes: ChangeTracker[ServiceName, PortMap] = ChangeTracker()
        self.slice_changes: ChangeTracker[SliceKey, SliceInfo] = ChangeTracker()
        self.services: dict[ServiceName, PortMap] = {}
        self.slices: dict[ServiceName, dict[str, SliceInfo]] = {}
        self.applied = Applied()
        self.need_full_sync = True
        self.reachable: dict[ServicePortName, tuple[ServicePort, frozenset[str]]] = {}
        self.health: dict[ServiceName, tuple[int, ServiceHealth]] = {}

    def pending(self) -> bool:
        return self.need_full_sync or bool(len(self.service_changes) or len(self.slice_changes))

    def _fold(self) -> tuple[dict[ServiceName, set[ServicePortName]], list[float], int, int]:
        """Apply drained changes to the synced view; returns touched ports per Service."""
        touched: dict[ServiceName, set[ServicePortName]] = {}
        svc_changes = self.service_changes.drain()
        for name, change in svc_changes.items():
            ports = touched.setdefault(name, set())
            ports.update(change.previous or (), change.current or ())
            if change.current:
                self.services[name] = change.current
            else:
                self.services.pop(name, None)
        triggers: list[float] = []
        slice_changes = self.slice_changes.drain()
        for (_namespace, slice_name), slice_change in slice_changes.items():
            previous, current = slice_change.previous, slice_change.current
            for info in (previous, current):
                if info is not None:
                    touched.setdefault(info.service, set())
            if previous is not None:
                self.slices.get(previous.service, {}).pop(slice_name, None)
            if current is not None:
                self.slices.setdefault(current.service, {})[slice_name] = current
                triggers.append(_parse_time(current.trigger_time, slice_change.observed))
            else:
                triggers.append(slice_change.observed)
        for name, ports in touched.items():
            ports.update(self.services.get(name, {}))
            if not self.slices.get(name, True):
                del self.slices[name]
        return touched, triggers, len(svc_changes), len(slice_changes)

    def plan(self) -> SyncPlan:
        touched, triggers, n_svc, n_eps = self._fold()
        full = self.need_full_sync
        if full:
            touched = {name: set(ports) for name, ports in self.services.items()}
            for spn in self.reachable:
                touched.setdefault(spn.service, set()).add(spn)
            for name in self.health:
                touched.setdefault(name, set())
        plan = SyncPlan(full)
        for name, ports in touched.items():
            self._plan_service(plan, name, ports)
        if full:
            plan.tx, plan.applied = full_sync(self.config, {
                k: v for k, v in plan.changes.items() if v is not None})
        else:
            plan.tx = partial_sync(self.config, self.applied, plan.changes)
        plan.trigger_times = triggers
        plan.service_changes, plan.endpoint_changes = n_svc, n_eps
        return plan

    def _plan_service(self, plan: SyncPlan, name: ServiceName, ports: set[ServicePortName]
                      ) -> None:
        current = self.services.get(name, {})
        endpoints = merge_slices(self.slices.get(name, {}).values())
        local_ready: set[str] = set()
        health_port = 0
        for spn in ports:
            sp = current.get(spn)
            eps = endpoints.get(spn, ()) if sp else ()
            previous = None if plan.full else self.applied.fragments.get(spn)
            plan.changes[spn] = service_fragment(sp, eps, self.config, previous) if sp else None
            reachable: frozenset[str] = frozenset()
            if sp is not None:
                reachable = frozenset(ep.ip for ep in categorize(eps, sp, self.config.node_name)
                                      .reachable)
                plan.reachable[spn] = (sp, reachable)
                if sp.health_check_node_port and sp.external_policy_local:
                    health_port = sp.health_check_node_port
                    local_ready.update(ep.ip for ep in eps
                                       if ep.ready and ep.node_name == self.config.node_name)
            else:
                plan.reachable[spn] = None
            was = self.reachable.get(spn)
            if was is not None:
                plan.stale += stale_flows(was[0], sorted(was[1] - reachable))
        plan.health[name] = ServiceHealth(name, len(local_ready)) if health_port else None
        plan.health_ports[name] = health_port

    def commit(self, plan: SyncPlan) -> None:
        if plan.full:
            assert plan.applied is not None
            self.applied = plan.applied
            self.need_full_sync = False
        else:
            self.applied.commit(plan.changes)
        for spn, value in plan.reachable.items():
            if value is None:
                self.reachable.pop(spn, None)
            else:
                self.reachable[spn] = value
        for name, health in plan.health.items():
            if health is None:
                self.health.pop(name, None)
            else:
                self.health[name] = (plan.health_ports[name], health)

    def failed(self) -> None:
        self.need_full_sync = True

    def health_by_port(self) -> dict[int, ServiceHealth]:
        return {port: health for port, health in self.health.values()}
