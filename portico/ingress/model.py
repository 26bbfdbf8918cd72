"""Plain data for the ingress controller: the snapshot it reads and the plan it renders.

Theory of operation: the controller's caches hold raw API objects (dicts). A
`Snapshot` freezes what one sync sees; `routes.build_plan(snapshot, settings)`
turns it into a `Plan` (routes, backends with their ready endpoints, canaries,
certificates, warnings); `render.render_config(plan, slots, settings)` turns the
plan into HAProxy's files. Everything here is immutable and free of I/O, so the
same snapshot always gives the same plan and the same text.

Vocabulary follows the Ingress API: a *rule* has a host and HTTP paths; each
path with its `pathType` becomes a `Route`. HAProxy vocabulary is used for what
it owns: a *backend* (one per Ingress x Service port) has *server slots*.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

Obj = dict[str, Any]
NamespacedName = tuple[str, str]


class MatchKind(StrEnum):
    """How a route's path is compared with the request path (one HAProxy map each)."""

    EXACT = "exact"    # path == route path
    PREFIX = "prefix"  # element-wise prefix (`/foo` matches `/foo`, `/foo/x`, not `/foobar`)
    REGEX = "regex"    # `use-regex`: case-insensitive regex anchored at the start


class Reason(StrEnum):
    """Event reasons on Ingresses."""

    UNSUPPORTED_ANNOTATION = "UnsupportedAnnotation"
    INVALID_ANNOTATION = "InvalidAnnotation"
    SYNC = "Sync"


@dataclass(frozen=True)
class Server:
    """One ready endpoint of a Service port: pod IP and target port."""

    address: str
    port: int

    def __str__(self) -> str:
        return f"{self.address}:{self.port}"


@dataclass(frozen=True)
class User:
    """One htpasswd line: `hash` is what HAProxy checks, by `scheme`."""

    name: str
    hash: str
    scheme: str  # "crypt" (userlist), "sha" ({SHA} base64), "apr1"


@dataclass(frozen=True)
class BasicAuth:
    realm: str
    users: tuple[User, ...]


@dataclass(frozen=True)
class Options:
    """The annotations of one Ingress that HAProxy enforces, parsed and validated."""

    rewrite_target: str | None = None
    use_regex: bool = False
    ssl_redirect: bool = True
    force_ssl_redirect: bool = False
    body_size: int | None = None          # bytes; None = unlimited
    connect_timeout: int | None = None    # seconds
    read_timeout: int | None = None
    send_timeout: int | None = None
    affinity_cookie: str | None = None    # cookie name when affinity: cookie
    whitelist: tuple[str, ...] = ()
    canary: bool = False
    canary_weight: int = 0
    canary_weight_total: int = 100
    canary_header: str | None = None       # the request header's name (`_` read as `-`)
    canary_header_value: str | None = None
    canary_header_pattern: str | None = None
    canary_header_pattern_fails: bool = False  # PCRE cannot compile it: the header forces main
    canary_cookie: str | None = None
    limit_rps: int | None = None
    limit_burst_multiplier: int = 5
    auth: BasicAuth | None = None
    backend_https: bool = False


@dataclass(frozen=True)
class Warning_:
    """Something about an Ingress the user must hear about (becomes a Warning Event)."""

    ingress: NamespacedName
    reason: Reason
    message: str


@dataclass(frozen=True)
class Backend:
    """An HAProxy backend: one Service port as used by one Ingress (annotations are per Ingress)."""

    name: str
    ingress: NamespacedName
    service: str
    port: str                 # the Service port as the Ingress names it (number or name)
    servers: tuple[Server, ...]
    options: Options = field(default_factory=Options)
    route_ids: tuple[str, ...] = ()          # the routes that lead here
    # route id -> the regex its rewrite-target applies to
    rewrites: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Route:
    """One (host, path) of an Ingress rule. `host` is lower case: "" (any), "a.b" or "*.b"."""

    host: str
    path: str
    kind: MatchKind
    backend: str
    route_id: str
    ingress: NamespacedName


@dataclass(frozen=True)
class Canary:
    """Requests on route `route_id` may go to backend `canary` instead, as ingress-nginx decides.

    In order (balancer.lua, `route_to_alternative_balancer`), the first rule
    that decides wins: the header (`header_value`, else `header_pattern`, else
    `always` / `never`), then the cookie (`always` / `never`), then the weight
    (`weight` out of `weight_total`). Any other header or cookie value decides
    nothing.
    """

    route_id: str
    canary: str
    weight: int
    weight_total: int
    header: str | None = None
    header_value: str | None = None
    header_pattern: str | None = None
    header_pattern_fails: bool = False
    cookie: str | None = None


@dataclass(frozen=True)
class Certificate:
    """A TLS certificate + key (one PEM file) served for `hosts` (SNI filters)."""

    name: str                 # file name: <namespace>_<secret>.pem
    pem: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    routes: tuple[Route, ...] = ()
    backends: tuple[Backend, ...] = ()
    default_backend: str | None = None
    canaries: tuple[Canary, ...] = ()
    certificates: tuple[Certificate, ...] = ()
    redirect_routes: tuple[str, ...] = ()        # route ids that redirect HTTP to HTTPS
    warnings: tuple[Warning_, ...] = ()
    ingresses: tuple[NamespacedName, ...] = ()   # the Ingresses of our class


@dataclass(frozen=True)
class Settings:
    """What the controller serves and where HAProxy's files live (fixed for a process)."""

    ingress_class: str = "webapprouting.kubernetes.azure.com"
    controller: str = "webapprouting.kubernetes.azure.com/nginx"
    state_dir: PurePosixPath = PurePosixPath("/var/lib/portico-ingress")
    # Sockets: a short path of its own (a UNIX socket path has at most 97 bytes for HAProxy).
    run_dir: PurePosixPath = PurePosixPath("/run/portico-ingress")
    http_port: int = 80
    https_port: int = 443
    stats_port: int = 10254
    bind_address: str = ""           # "" = all addresses
    slot_scale: int = 16             # server slots per backend grow in steps of this
    hard_stop_after: str = "60s"
    nbthread: int | None = None
    default_certificate: str = ""    # PEM served for unknown names (filled in by the controller)

    @property
    def admin_socket(self) -> PurePosixPath:
        return self.run_dir / "admin.sock"

    @property
    def master_socket(self) -> PurePosixPath:
        return self.run_dir / "master.sock"


@dataclass(frozen=True)
class Snapshot:
    """The API objects one sync sees (raw dicts, as the API server sent them)."""

    ingresses: tuple[Obj, ...] = ()
    ingress_classes: tuple[Obj, ...] = ()
    services: Mapping[NamespacedName, Obj] = field(default_factory=dict)
    endpoint_slices: tuple[Obj, ...] = ()
    secrets: Mapping[NamespacedName, Obj] = field(default_factory=dict)


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def namespaced_name(obj: Obj) -> NamespacedName:
    m = meta(obj)
    return str(m.get("namespace") or ""), str(m.get("name") or "")
