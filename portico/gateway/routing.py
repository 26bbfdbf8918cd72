"""One Gateway's routing table: match entries in the spec's precedence, and backends (pure).

Theory of operation: a Gateway that is not Accepted serves nothing. Each
attachment (route x listener x served hostname) and each match of each rule
becomes an `Entry`; entries are sorted per listener by
the spec's precedence - the more specific hostname (exact, longer), then Exact
path, longer prefix, a method match, more header matches, more query matches,
the older route, `namespace/name`, the earlier rule. A request takes the first
entry whose conditions all hold. An entry's backend choices carry weights; a
backendRef that cannot be resolved keeps its share but answers 500 (backend
`None`), and a rule with no backendRefs answers 500 too. Services become
HAProxy backends named `be_<ns>_<service>_<port>` with their ready endpoints
(`_h2c` added for GRPCRoute backends, which HAProxy reaches over h2c): those
the entries use, and every port of every Service in the attached routes'
namespaces (`_declared`), so that moving a backendRef to another Service
there changes which backend a map names, not the set of backends. A
GRPCRoute match is the HTTP match it means (`grpc_match`): the path
`/package.Service/Method`, exactly, by service prefix or by regex.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portico.gateway import checks
from portico.gateway.attach import Attachment, backend_problem
from portico.gateway.listeners import GatewayView, Listener
from portico.gateway.model import Obj, Snapshot, meta, namespaced_name
from portico.ingress import endpoints
from portico.ingress import model as ingress_model
from portico.model.gatewayapi import MatchType, PathMatchType


@dataclass(frozen=True)
class Mirror:
    """A RequestMirror filter's resolved backend and the share of requests copied there."""

    backend: str
    numerator: int = 1
    denominator: int = 1


@dataclass(frozen=True)
class Choice:
    backend: str | None   # None: 500
    weight: int
    filters: tuple[Obj, ...] = ()    # the backendRef's own filters
    mirrors: tuple[Mirror, ...] = ()  # the backendRef's own RequestMirror filters


@dataclass(frozen=True)
class Entry:
    listener: str
    hostname: str | None
    match: Obj
    filters: tuple[Obj, ...]
    choices: tuple[Choice, ...]
    scheme: str
    port: int
    timeout_ms: int | None = None    # timeouts.backendRequest, else timeouts.request
    mirrors: tuple[Mirror, ...] = ()


H2_SUFFIX = "_h2c"
_DURATION = re.compile(r"(\d+)(ms|h|m|s)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def timeout_ms(rule: Obj) -> int | None:
    """The rule's backend timeout in ms (Gateway API duration), None when unset or `0s`."""
    timeouts = rule.get("timeouts") or {}
    for key in ("backendRequest", "request"):
        if timeouts.get(key):
            ms = sum(int(n) * _UNIT_MS[u] for n, u in _DURATION.findall(str(timeouts[key])))
            if ms:
                return ms
    return None


@dataclass(frozen=True)
class Backend:
    name: str
    servers: tuple[ingress_model.Server, ...]
    h2: bool = False                    # GRPCRoute backends speak h2c


@dataclass(frozen=True)
class Table:
    listeners: tuple[Listener, ...]     # the valid ones
    entries: tuple[Entry, ...]
    backends: tuple[Backend, ...]


def _host_rank(host: str | None) -> tuple[int, int]:
    if host is None:
        return (2, 0)
    return (1 if host.startswith("*.") else 0, -len(host))


def _path(match: Obj) -> Obj:
    return match.get("path") or {"type": "PathPrefix", "value": "/"}


Precedence = tuple[object, ...]   # a sort key: smaller goes first


def precedence(entry: Entry, route: Obj, rule_index: int) -> Precedence:
    path = _path(entry.match)
    exact = path.get("type") == PathMatchType.EXACT
    prefix = path.get("type") == PathMatchType.PATH_PREFIX
    return (_host_rank(entry.hostname), not exact,
            -len(str(path.get("value") or "/")) if prefix else 0,
            "method" not in entry.match, -len(entry.match.get("headers") or []),
            -len(entry.match.get("queryParams") or []),
            str(meta(route).get("creationTimestamp") or ""),
            "/".join(namespaced_name(route)), rule_index)


def backend_name(ns: str, service: str, port: int, h2: bool = False) -> str:
    return f"be_{ns}_{service}_{port}" + (H2_SUFFIX if h2 else "")


def parse_backend_name(name: str) -> tuple[str, str, str, bool]:
    """(namespace, service, port, h2) of a `backend_name` (names hold no `_`)."""
    h2 = name.endswith(H2_SUFFIX)
    _, ns, service, port = name.removesuffix(H2_SUFFIX).split("_")
    return ns, service, port, h2


def grpc_match(match: Obj) -> Obj:
    """A GRPCRoute match as the HTTP match it means: `/service/method` paths, headers."""
    method = match.get("method") or {}
    service, name = method.get("service"), method.get("method")
    if method.get("type") == MatchType.REGULAR_EXPRESSION:
        path = {"type": "RegularExpression",
                "value": f"/{service or '[^/]+'}/{name or '[^/]+'}"}
    elif service and name:
        path = {"type": "Exact", "value": f"/{service}/{name}"}
    elif service:
        path = {"type": "PathPrefix", "value": f"/{service}"}
    elif name:
        path = {"type": "RegularExpression", "value": f"/[^/]+/{re.escape(name)}"}
    else:
        path = {"type": "PathPrefix", "value": "/"}
    return {"path": path, "headers": match.get("headers") or []}


def _resolved(snapshot: Snapshot, kind: str, route_ns: str, ref: Obj) -> str | None:
    """The backend name of a backendRef, None when it cannot be used."""
    if backend_problem(snapshot, kind, route_ns, ref) or not ref.get("port"):
        return None
    return backend_name(ref.get("namespace") or route_ns, ref["name"], int(ref["port"]),
                        kind == "GRPCRoute")


def mirrors(snapshot: Snapshot, kind: str, route_ns: str, filters: list[Obj],
            ) -> tuple[Mirror, ...]:
    """The RequestMirror filters among `filters` whose backendRef resolves (the others,
    reported in ResolvedRefs, mirror nothing); `percent` or `fraction` as a share."""
    out = []
    for f in filters:
        spec = f.get("requestMirror") or {}
        name = _resolved(snapshot, kind, route_ns, spec.get("backendRef") or {"name": ""}) \
            if f.get("type") == "RequestMirror" else None
        if name is None:
            continue
        if spec.get("percent") is not None:
            out.append(Mirror(name, int(spec["percent"]), 100))
        elif spec.get("fraction"):
            fraction = spec["fraction"]
            out.append(Mirror(name, int(fraction["numerator"]),
                              int(fraction.get("denominator") or 100)))
        else:
            out.append(Mirror(name))
    return tuple(out)


def _choices(snapshot: Snapshot, kind: str, route_ns: str, rule: Obj) -> tuple[Choice, ...]:
    out = []
    for ref in rule.get("backendRefs") or []:
        filters = list(ref.get("filters") or [])
        out.append(Choice(_resolved(snapshot, kind, route_ns, ref), int(ref.get("weight", 1)),
                          tuple(filters), mirrors(snapshot, kind, route_ns, filters)))
    return tuple(out)


def _entries(snapshot: Snapshot, listener: Listener, att: Attachment,
             ) -> list[tuple[Precedence, Entry]]:
    route_ns = namespaced_name(att.route)[0]
    out = []
    dropped = checks.dropped_rules(att.kind, att.route)
    for index, rule in enumerate((att.route.get("spec") or {}).get("rules") or [{}]):
        if index in dropped:
            continue
        choices = _choices(snapshot, att.kind, route_ns, rule)
        copies = mirrors(snapshot, att.kind, route_ns, list(rule.get("filters") or []))
        for match in rule.get("matches") or [{}]:
            if att.kind == "GRPCRoute":
                match = grpc_match(match)
            for host in att.hostnames:
                entry = Entry(listener.name, host, match, tuple(rule.get("filters") or []),
                              choices, "https" if listener.protocol == "HTTPS" else "http",
                              listener.port, timeout_ms(rule), copies)
                out.append((precedence(entry, att.route, index), entry))
    return out


def _declared(snapshot: Snapshot, attached: list[Attachment]) -> set[str]:
    """Backends declared up front: every port of every Service in the namespaces of the
    attached routes (h2c ones for GRPCRoutes' namespaces), so that a backendRef moved to
    another Service there finds its backend already in HAProxy's config."""
    kinds: dict[str, set[bool]] = {}
    for att in attached:
        kinds.setdefault(namespaced_name(att.route)[0], set()).add(att.kind == "GRPCRoute")
    return {backend_name(ns, name, int(port["port"]), h2)
            for (ns, name), service in snapshot.services.items() if ns in kinds
            for port in (service.get("spec") or {}).get("ports") or [] if port.get("port")
            for h2 in kinds[ns]}


def _backends(snapshot: Snapshot, entries: list[Entry], attached: list[Attachment],
              ) -> tuple[Backend, ...]:
    names = sorted({c.backend for e in entries for c in e.choices if c.backend} |
                   {m.backend for e in entries
                    for m in e.mirrors + tuple(m for c in e.choices for m in c.mirrors)} |
                   _declared(snapshot, attached))
    slices = endpoints.index_slices(snapshot.endpoint_slices)
    shim = ingress_model.Snapshot(services=snapshot.services)
    out = []
    for name in names:
        ns, service, port, h2 = parse_backend_name(name)
        out.append(Backend(name, endpoints.ready_servers(shim, slices, ns, service, port), h2))
    return tuple(out)


def build_table(snapshot: Snapshot, view: GatewayView, attached: list[Attachment]) -> Table:
    valid = {li.name: li for li in view.listeners if li.valid and view.accepted.status}
    here = [att for att in attached if att.gateway == view.key and att.listener in valid]
    keyed = [item for att in here for item in _entries(snapshot, valid[att.listener], att)]
    entries = [entry for _, entry in sorted(keyed, key=lambda kv: kv[0])]
    return Table(tuple(valid.values()), tuple(entries), _backends(snapshot, entries, here))
