"""Snapshot -> Plan: which Ingresses are ours, their routes, backends, canaries and certs (pure).

Theory of operation:
1. Class. An Ingress is ours when `spec.ingressClassName` (or, without it, the
   legacy annotation `kubernetes.io/ingress.class`) names an IngressClass whose
   `spec.controller` is ours (or our class name itself), or when it names none
   and one of our IngressClasses is annotated
   `ingressclass.kubernetes.io/is-default-class: "true"`. Others are ignored.
2. Order. Ingresses are taken oldest first (creationTimestamp, then
   namespace/name): on a conflict (same host, path and match kind) the older
   Ingress wins, as ingress-nginx does.
3. Routes. Every (host, path) becomes a `Route`: Exact -> EXACT; Prefix ->
   PREFIX with the trailing slash dropped; ImplementationSpecific -> PREFIX
   too, or REGEX when the Ingress has `use-regex` (documented choice). Hosts are
   lower-cased. Canary Ingresses add no routes: each canary path attaches to
   the winning route with the same host, path and kind (ignored if none).
4. Default backend. `spec.defaultBackend` of the oldest Ingress that has one
   serves what no rule matches; an Ingress with both rules and a defaultBackend
   also gets an implicit `Prefix /` route per host (ingress-nginx's root
   location), which any explicit `/` route beats. Without one, 404.
5. Backends are one per (Ingress, Service, port) so that each Ingress's
   annotations apply to its own traffic only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace

from portico.ingress import annotations as ingress_annotations
from portico.ingress import endpoints, tls
from portico.ingress.model import (
    Backend,
    Canary,
    Certificate,
    MatchKind,
    NamespacedName,
    Obj,
    Options,
    Plan,
    Reason,
    Route,
    Settings,
    Snapshot,
    Warning_,
    meta,
    namespaced_name,
)
from portico.model.vocabulary import PathType

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
_UNSAFE = re.compile(r"[^a-z0-9-]")
_SPACE = re.compile(r"\s")


def our_classes(snapshot: Snapshot, settings: Settings) -> tuple[set[str], bool]:
    """(class names served, whether one of them is the default class)."""
    names, default = {settings.ingress_class}, False
    for cls in snapshot.ingress_classes:
        if (cls.get("spec") or {}).get("controller") == settings.controller:
            names.add(str(meta(cls).get("name")))
            ann = meta(cls).get("annotations") or {}
            default = default or str(ann.get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true"
    return names, default


def is_ours(ingress: Obj, names: set[str], default: bool) -> bool:
    wanted = (ingress.get("spec") or {}).get("ingressClassName") or \
        (meta(ingress).get("annotations") or {}).get(CLASS_ANNOTATION)
    return wanted in names if wanted else default


def age_key(ingress: Obj) -> tuple[str, str, str]:
    ns, name = namespaced_name(ingress)
    return str(meta(ingress).get("creationTimestamp") or ""), ns, name


def backend_name(ingress: NamespacedName, service: str, port: str) -> str:
    parts = (*ingress, service, port)
    return "ing_" + "_".join(_UNSAFE.sub("-", p.lower()) for p in parts)


def route_id(ingress: NamespacedName, host: str, path: str, kind: MatchKind) -> str:
    digest = hashlib.sha1(f"{ingress[0]}/{ingress[1]}|{host}|{path}|{kind}".encode())
    return "r" + digest.hexdigest()[:10]


def normalize(path: str, path_type: str, options: Options) -> tuple[str, MatchKind]:
    if path_type == PathType.EXACT:
        return path, MatchKind.EXACT
    if path_type == PathType.IMPLEMENTATION_SPECIFIC and options.use_regex:
        return path or "/", MatchKind.REGEX
    trimmed = path.rstrip("/")
    return (trimmed or "/"), MatchKind.PREFIX


@dataclass
class _Builder:
    snapshot: Snapshot
    settings: Settings
    slices: dict[NamespacedName, list[Obj]]
    routes: dict[tuple[str, str, MatchKind], Route] = field(default_factory=dict)
    implicit: dict[tuple[str, str, MatchKind], Route] = field(default_factory=dict)
    backends: dict[str, Backend] = field(default_factory=dict)
    canary_routes: list[tuple[Route, Options]] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)
    certificates: dict[str, Certificate] = field(default_factory=dict)
    options: dict[str, Options] = field(default_factory=dict)
    default_backend: str | None = None

    def warn(self, ingress: NamespacedName, reason: Reason, message: str) -> None:
        self.warnings.append(Warning_(ingress, reason, message))

    def backend(self, ingress: NamespacedName, ref: Obj, options: Options) -> str | None:
        service = ref.get("service")
        if not service:
            self.warn(ingress, Reason.SYNC, "resource backends are not supported; path ignored")
            return None
        port_ref = service.get("port") or {}
        port = str(port_ref.get("number") or port_ref.get("name") or "")
        name = backend_name(ingress, str(service.get("name")), port)
        if name not in self.backends:
            servers = endpoints.ready_servers(self.snapshot, self.slices, ingress[0],
                                              str(service.get("name")), port)
            self.backends[name] = Backend(name=name, ingress=ingress,
                                          service=str(service.get("name")), port=port,
                                          servers=servers, options=options)
        return name

    def add_ingress(self, ingress: Obj) -> None:
        key = namespaced_name(ingress)
        spec = ingress.get("spec") or {}
        options, problems = ingress_annotations.parse(
            meta(ingress).get("annotations") or {}, key[0],
            lambda ns, name: self.snapshot.secrets.get((ns, name)))
        for reason, message in problems:
            self.warn(key, reason, message)
        self.add_tls(key, spec.get("tls") or [])
        default = spec.get("defaultBackend")
        default_name = self.backend(key, default, options) if default else None
        if default_name and self.default_backend is None and not options.canary:
            self.default_backend = default_name
        for rule in spec.get("rules") or []:
            host = str(rule.get("host") or "").lower()
            for item in (rule.get("http") or {}).get("paths") or []:
                self.add_path(key, host, item, options)
            if default_name and not options.canary:
                self.add_route(Route(host, "/", MatchKind.PREFIX, default_name,
                                     route_id(key, host, "/", MatchKind.PREFIX), key),
                               options, implicit=True)

    def add_path(self, key: NamespacedName, host: str, item: Obj, options: Options) -> None:
        raw = str(item.get("path") or "")
        if _SPACE.search(raw) or "'" in raw:
            self.warn(key, Reason.SYNC, f"path {raw!r} contains spaces or quotes; ignored")
            return
        path, kind = normalize(raw, str(item.get("pathType") or ""), options)
        backend = self.backend(key, item.get("backend") or {}, options)
        if backend is None:
            return
        self.add_route(Route(host, path, kind, backend, route_id(key, host, path, kind), key),
                       options)

    def add_route(self, route: Route, options: Options, implicit: bool = False) -> None:
        self.options[route.route_id] = options
        if options.canary:
            self.canary_routes.append((route, options))
            return
        table = self.implicit if implicit else self.routes
        table.setdefault((route.host, route.path, route.kind), route)

    def add_tls(self, key: NamespacedName, entries: list[Obj]) -> None:
        for entry in entries:
            secret_name = entry.get("secretName")
            if not secret_name:
                continue
            secret = self.snapshot.secrets.get((key[0], secret_name))
            if secret is None:
                self.warn(key, Reason.SYNC, f"TLS secret {key[0]}/{secret_name} not found; "
                          "the default certificate is served instead")
                continue
            try:
                pem = tls.pem_from_secret(secret)
            except ValueError as exc:
                self.warn(key, Reason.SYNC, f"TLS secret {key[0]}/{secret_name} {exc}")
                continue
            name = f"{key[0]}_{secret_name}.pem"
            hosts = tuple(str(h).lower() for h in entry.get("hosts") or [])
            known = self.certificates.get(name)
            merged = tuple(sorted(set(hosts) | set(known.hosts if known else ())))
            self.certificates[name] = Certificate(name=name, pem=pem, hosts=merged)


def covers(tls_host: str, host: str) -> bool:
    """Whether a TLS host (maybe `*.x`) covers a rule host."""
    if tls_host == host:
        return True
    return tls_host.startswith("*.") and "." in host and \
        host.split(".", 1)[1] == tls_host[2:] and not host.startswith("*.")


def _finish_backends(b: _Builder, routes: list[Route]) -> tuple[tuple[Backend, ...], set[str]]:
    tls_hosts = [h for cert in b.certificates.values() for h in cert.hosts]
    redirects: set[str] = set()
    rewrites: dict[str, list[tuple[str, str]]] = {}
    ids: dict[str, set[str]] = {}
    for route in routes + [r for r, _ in b.canary_routes]:
        ids.setdefault(route.backend, set()).add(route.route_id)
        options = b.options[route.route_id]
        has_tls = any(covers(h, route.host) for h in tls_hosts)
        if options.force_ssl_redirect or (options.ssl_redirect and has_tls):
            redirects.add(route.route_id)
        if options.rewrite_target:
            regex = route.path if route.kind == MatchKind.REGEX else re.escape(route.path)
            rewrites.setdefault(route.backend, []).append((route.route_id, regex))
    backends = tuple(replace(be, route_ids=tuple(sorted(ids.get(be.name, ()))),
                             rewrites=tuple(sorted(set(rewrites.get(be.name, ())))))
                     for _, be in sorted(b.backends.items())
                     if be.name in ids or be.name == b.default_backend)
    return backends, redirects


def _canary(primary: str, backend: str, o: Options) -> Canary:
    return Canary(route_id=primary, canary=backend, weight=o.canary_weight,
                  weight_total=o.canary_weight_total, header=o.canary_header,
                  header_value=o.canary_header_value, header_pattern=o.canary_header_pattern,
                  header_pattern_fails=o.canary_header_pattern_fails, cookie=o.canary_cookie)


def build_plan(snapshot: Snapshot, settings: Settings) -> Plan:
    names, default = our_classes(snapshot, settings)
    ours = sorted((i for i in snapshot.ingresses if is_ours(i, names, default)), key=age_key)
    b = _Builder(snapshot, settings, endpoints.index_slices(snapshot.endpoint_slices))
    for ingress in ours:
        b.add_ingress(ingress)
    for key, route in b.implicit.items():
        b.routes.setdefault(key, route)
    routes = sorted(b.routes.values(), key=lambda r: (r.host, r.path, r.kind))
    canaries = []
    for route, options in b.canary_routes:
        primary = b.routes.get((route.host, route.path, route.kind))
        if primary is not None:
            canaries.append(_canary(primary.route_id, route.backend, options))
    unique = {c.route_id: c for c in reversed(canaries)}  # first canary for a route wins
    backends, redirects = _finish_backends(b, routes)
    return Plan(routes=tuple(routes), backends=backends, redirect_routes=tuple(sorted(redirects)),
                default_backend=b.default_backend,
                canaries=tuple(sorted(unique.values(), key=lambda c: c.route_id)),
                certificates=tuple(sorted(b.certificates.values(), key=lambda c: c.name)),
                warnings=tuple(b.warnings),
                ingresses=tuple(namespaced_name(i) for i in ours))
