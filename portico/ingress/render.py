"""Plan -> HAProxy's files: haproxy.cfg, five routing maps, a crt-list and PEM files (pure).

Theory of operation (the shape HAProxy's own ingress controller uses on 2.6):
routing is data, not config. Both frontends (`http`, `https`) run the same
chain: the Host header (port stripped, lower case) is looked up in `host.map`
(exact hosts, then `*.x` stored as `.x` after dropping the first label, then
"" for rules without a host); `host + path` is then looked up in
`path-exact.map`, `path-prefix-exact.map`, `path-regex.map` (first match, longest
regex first) and `path-prefix.map` (`map_beg`: HAProxy's prefix tree returns the
longest key), in that order. A Prefix route `/foo` is written as the exact key
`h/foo` plus the prefix key `h/foo/`, which makes prefixes element-wise. The
value `<backend>.<route id>` picks the backend; the route id lets a backend
apply per-path rules (redirects, rewrites) and canaries.

Canaries follow ingress-nginx's balancer.lua: `http-request set-var(txn.canary)`
rules, one per decision and each only while nothing has decided yet, set
`canary` or `main` in its order (header, cookie, weight); a `use_backend` per
canary route then picks the canary on `canary`. What HAProxy cannot mirror
exactly: a pattern is matched against each line of a header sent several
times (nginx joins them with ", "), a cookie name is case-sensitive (nginx's
`$cookie_` is not) and a cookie sent twice counts if any copy decides (nginx
reads the first).

Everything that changes often stays out of haproxy.cfg's *shape*: map rows
(runtime `add map`), certificates and crt-list lines (runtime `set ssl cert`),
server addresses in pre-allocated slots (runtime `set server`). `shape()`
masks the server addresses, so the applier reloads only when it differs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from portico.ingress import apr1_lua
from portico.ingress.endpoints import Slots
from portico.ingress.model import Backend, BasicAuth, Canary, MatchKind, Plan, Route, Settings

NOT_FOUND_BACKEND = "default_404"
PLACEHOLDER = "127.0.0.1:1"
HOST_MAP, EXACT_MAP, PREFIX_EXACT_MAP, REGEX_MAP, PREFIX_MAP, REDIRECT_MAP = (
    "host.map", "path-exact.map", "path-prefix-exact.map", "path-regex.map", "path-prefix.map",
    "redirect.map")
MAP_NAMES = (HOST_MAP, EXACT_MAP, PREFIX_EXACT_MAP, REGEX_MAP, PREFIX_MAP, REDIRECT_MAP)
AUTH_LUA = "auth.lua"
_SERVER_LINE = re.compile(r"^(\s+server s\d+) \S+( disabled)?$", re.MULTILINE)


@dataclass(frozen=True)
class Rendered:
    """Everything HAProxy reads; file names are relative to `Settings.state_dir`."""

    config: str
    maps: Mapping[str, str] = field(default_factory=dict)          # maps/<name>
    certificates: Mapping[str, str] = field(default_factory=dict)  # tls/certs/<name>
    crt_list: str = ""                                             # tls/crt-list
    default_certificate: str = ""                                  # tls/default.pem
    lua: str = ""                                                  # auth.lua (when needed)


def map_path(settings: Settings, name: str) -> PurePosixPath:
    return settings.state_dir / "maps" / name


def cert_path(settings: Settings, name: str) -> PurePosixPath:
    return settings.state_dir / "tls" / "certs" / name


def crt_list_path(settings: Settings) -> PurePosixPath:
    return settings.state_dir / "tls" / "crt-list"


def shape(config: str) -> str:
    """The config with server addresses masked: equal shapes need no reload."""
    return _SERVER_LINE.sub(r"\1", config)


# --- maps ------------------------------------------------------------------------------
def host_key(host: str) -> str:
    return host[1:] if host.startswith("*.") else host


def render_maps(routes: tuple[Route, ...], redirects: tuple[str, ...] = ()) -> dict[str, str]:
    rows: dict[str, list[str]] = {name: [] for name in MAP_NAMES}
    hosts = sorted({host_key(r.host) for r in routes if r.host})
    rows[HOST_MAP] = [f"{h} {h}" for h in hosts]
    regexes: list[tuple[int, str, str]] = []
    for route in routes:
        key, value = host_key(route.host) + route.path, f"{route.backend}.{route.route_id}"
        if route.kind == MatchKind.EXACT:
            rows[EXACT_MAP].append(f"{key} {value}")
        elif route.kind == MatchKind.REGEX:
            pattern = "^" + re.escape(host_key(route.host)) + "(?i:" + route.path + ")"
            regexes.append((-len(route.path), pattern, value))
        elif route.path == "/":
            rows[PREFIX_MAP].append(f"{host_key(route.host)}/ {value}")
        else:
            rows[PREFIX_EXACT_MAP].append(f"{key} {value}")
            rows[PREFIX_MAP].append(f"{key}/ {value}")
    rows[REGEX_MAP] = [f"{p} {v}" for _, p, v in sorted(regexes)]
    rows[REDIRECT_MAP] = [f"{rid} 1" for rid in redirects]
    return {name: "".join(f"{line}\n" for line in (lines if name == REGEX_MAP
                                                    else sorted(lines)))
            for name, lines in rows.items()}


# --- config ----------------------------------------------------------------------------
def global_section(plan: Plan, s: Settings) -> list[str]:
    lines = ["global",
             f"    stats socket {s.admin_socket} mode 600 level admin expose-fd listeners",
             "    stats timeout 1m",
             f"    hard-stop-after {s.hard_stop_after}",
             "    tune.ssl.default-dh-param 2048",
             "    ssl-default-bind-options ssl-min-ver TLSv1.2"]
    if s.nbthread:
        lines.append(f"    nbthread {s.nbthread}")
    if _needs_lua(plan):
        lines.append(f"    lua-load {s.state_dir / AUTH_LUA}")
    return lines + [
        "",
        "defaults",
        "    mode http",
        "    option forwardfor",
        "    option idle-close-on-response",
        "    option dontlognull",
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 60s",
        "    timeout tunnel 1h",
        "",
        "frontend stats",
        f"    bind {s.bind_address}:{s.stats_port}",
        "    monitor-uri /healthz",
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "    http-request return status 404",
    ]


def _routing(s: Settings) -> list[str]:
    m = {name: map_path(s, name) for name in MAP_NAMES}
    lookup = "var(txn.host_match),concat(,txn.path,)"
    unmatched = "if !{ var(txn.path_match) -m found }"
    return [
        "    http-request set-header X-Forwarded-Host %[req.hdr(host)]",
        "    http-request set-header X-Forwarded-Port %[dst_port]",
        "    http-request set-header X-Real-IP %[src]",
        "    http-request set-var(txn.host) req.hdr(host),field(1,:),lower",
        "    http-request set-var(txn.path) path",
        f"    http-request set-var(txn.host_match) var(txn.host),map({m[HOST_MAP]})",
        f"    http-request set-var(txn.host_match) var(txn.host),regsub(^[^.]*,,),"
        f"map({m[HOST_MAP]},'') if !{{ var(txn.host_match) -m found }}",
        f"    http-request set-var(txn.path_match) {lookup},map({m[EXACT_MAP]})",
        f"    http-request set-var(txn.path_match) {lookup},map({m[PREFIX_EXACT_MAP]}) {unmatched}",
        f"    http-request set-var(txn.path_match) {lookup},map_reg({m[REGEX_MAP]}) {unmatched}",
        f"    http-request set-var(txn.path_match) {lookup},map_beg({m[PREFIX_MAP]}) {unmatched}",
        "    http-request set-var(txn.backend) var(txn.path_match),field(1,.)",
        "    http-request set-var(txn.route) var(txn.path_match),field(2,.)",
    ]


def _regex_word(pattern: str) -> str:
    """`pattern` as one config word: single quotes keep `\\` and `$` as they are.

    annotations.py lets no quote, space or `#` through; a pattern that is just
    `}` would close the ACL's braces, so it is written as the same regex `\\}`.
    """
    return "'\\}'" if pattern == "}" else f"'{pattern}'"


def _header_rules(c: Canary) -> list[tuple[str, str]]:
    """(decision, condition) for the header: nginx reads `$http_<name>`, all lines joined."""
    if not c.header:
        return []
    one = f"{{ req.fhdr_cnt({c.header}) eq 1 }}"  # a joined "a, b" equals no basic value
    value = f"{{ req.fhdr({c.header}) -m str"
    if c.header_value:
        return [("canary", f"{one} {value} {c.header_value} }}")]
    if c.header_pattern_fails:
        return [("main", f"{{ req.fhdr_cnt({c.header}) gt 0 }}")]
    if c.header_pattern:  # unanchored and case-sensitive, as ngx.re.match; each line alone
        return [("canary", f"{{ req.fhdr({c.header}) -m reg {_regex_word(c.header_pattern)} }}")]
    return [("canary", f"{one} {value} always }}"), ("main", f"{one} {value} never }}")]


def _decisions(c: Canary) -> list[tuple[str, str]]:
    """(canary | main, condition), in the order balancer.lua tries them (see model.Canary)."""
    rules = _header_rules(c)
    if c.cookie:
        cookie = f"{{ req.cook({c.cookie}) -m str"
        rules += [("canary", f"{cookie} always }}"), ("main", f"{cookie} never }}")]
    if c.weight > 0:
        rules.append(("canary", f"{{ rand({c.weight_total}) lt {c.weight} }}"))
    return rules


def _canary_rules(canaries: tuple[Canary, ...]) -> list[str]:
    """`txn.canary` set by the first rule that decides; later ones see it set and skip."""
    return [f"    http-request set-var(txn.canary) str({decision}) if "
            f"{{ var(txn.route) -m str {c.route_id} }} !{{ var(txn.canary) -m found }} "
            f"{condition}" for c in canaries for decision, condition in _decisions(c)]


def _canary_backends(canaries: tuple[Canary, ...]) -> list[str]:
    return [f"    use_backend {c.canary} if {{ var(txn.route) -m str {c.route_id} }} "
            "{ var(txn.canary) -m str canary }" for c in canaries
            if any(decision == "canary" for decision, _ in _decisions(c))]


def _frontends(plan: Plan, s: Settings) -> list[str]:
    default = plan.default_backend or NOT_FOUND_BACKEND
    tail = [*_canary_rules(plan.canaries), *_canary_backends(plan.canaries),
            "    use_backend %[var(txn.backend)] if { var(txn.backend) -m found }",
            f"    default_backend {default}"]
    tls_dir = s.state_dir / "tls"
    return [
        "",
        "frontend http",
        f"    bind {s.bind_address}:{s.http_port}",
        "    http-request set-header X-Forwarded-Proto http",
        *_routing(s), _redirect_line(s), *tail,
        "",
        "frontend https",
        f"    bind {s.bind_address}:{s.https_port} ssl crt {tls_dir / 'default.pem'} "
        f"crt-list {tls_dir / 'crt-list'} alpn h2,http/1.1",
        "    http-request set-header X-Forwarded-Proto https",
        *_routing(s), *tail,
        "",
        f"backend {NOT_FOUND_BACKEND}",
        "    http-request return status 404 content-type text/plain "
        "string \"404 page not found\"",
    ]


def _needs_lua(plan: Plan) -> bool:
    return any(u.scheme == "apr1" for b in plan.backends if b.options.auth
               for u in b.options.auth.users)


def _auth_lines(name: str, auth: BasicAuth) -> tuple[list[str], list[str]]:
    """(userlist section, backend lines) for basic authentication."""
    section: list[str] = []
    alternatives: list[str] = []
    crypt = [u for u in auth.users if u.scheme == "crypt"]
    if crypt:
        section = ["", f"userlist ul_{name}"] + \
            [f"    user {u.name} password '{u.hash}'" for u in crypt]
        alternatives.append(f"{{ http_auth(ul_{name}) }}")
    for u in auth.users:
        if u.scheme == "sha":
            alternatives.append(f"{{ http_auth_user -m str {u.name} }} "
                                f"{{ http_auth_pass,sha1,base64 -m str {u.hash[5:]} }}")
        elif u.scheme == "apr1":
            alternatives.append(f"{{ http_auth_user -m str {u.name} }} "
                                f"{{ lua.portico_apr1({u.hash}) -m bool }}")
    realm = f'"{auth.realm}"'
    if not alternatives:
        return section, [f"    http-request auth realm {realm}"]
    return section, [f"    http-request auth realm {realm} unless " + " || ".join(alternatives)]


def _redirect_line(s: Settings) -> str:
    """HTTP -> HTTPS (308, path and query kept) for the routes listed in redirect.map."""
    port = "" if s.https_port == 443 else f":{s.https_port}"
    return (f"    http-request redirect location https://%[req.hdr(host),field(1,:)]{port}"
            f"%[capture.req.uri] code 308 if {{ var(txn.route),map({map_path(s, REDIRECT_MAP)}) "
            "-m found }")


def _backend(backend: Backend, slots: Slots, s: Settings) -> list[str]:
    o = backend.options
    lines = ["", f"backend {backend.name}",
             f"    # {backend.ingress[0]}/{backend.ingress[1]} -> service "
             f"{backend.service}:{backend.port}"]
    if o.connect_timeout:
        lines.append(f"    timeout connect {o.connect_timeout}s")
    if o.read_timeout or o.send_timeout:
        lines.append(f"    timeout server {max(o.read_timeout or 0, o.send_timeout or 0)}s")
    if o.affinity_cookie:
        lines += [f"    cookie {o.affinity_cookie} insert indirect nocache dynamic",
                  f"    dynamic-cookie-key {backend.name}"]
    if o.limit_rps:
        lines.append("    stick-table type ip size 100k expire 10s store http_req_rate(1s)")
    if o.limit_rps:
        lines += ["    http-request track-sc0 src",
                  "    http-request deny deny_status 503 if "
                  f"{{ sc_http_req_rate(0) gt {o.limit_rps * o.limit_burst_multiplier} }}"]
    if o.whitelist:
        lines.append(f"    http-request deny deny_status 403 if !{{ src {' '.join(o.whitelist)} }}")
    if o.auth is not None:
        lines += _auth_lines(backend.name, o.auth)[1]
    if o.body_size:
        lines.append("    http-request deny deny_status 413 if "
                     f"{{ req.hdr_val(content-length) gt {o.body_size} }}")
    target = (o.rewrite_target or "").replace("$", "\\")
    for rid, regex in backend.rewrites:
        lines.append(f"    http-request replace-path '(?i)^(?:{regex}).*' '{target}' "
                     f"if {{ var(txn.route) -m str {rid} }}")
    if o.backend_https:
        lines.append("    default-server ssl verify none")
    for i, server in enumerate(slots, start=1):
        lines.append(f"    server s{i} {server}" if server else
                     f"    server s{i} {PLACEHOLDER} disabled")
    return lines


def render_config(plan: Plan, slots: Mapping[str, Slots], settings: Settings) -> Rendered:
    """All of HAProxy's files for `plan`, with servers placed in `slots` (by backend name)."""
    lines = global_section(plan, settings) + _frontends(plan, settings)
    for backend in plan.backends:
        lines += _backend(backend, slots[backend.name], settings)
    for backend in plan.backends:
        if backend.options.auth is not None:
            lines += _auth_lines(backend.name, backend.options.auth)[0]
    crt_list = "".join(
        f"{cert_path(settings, c.name)}" + "".join(f" {h}" for h in c.hosts) + "\n"
        for c in plan.certificates)
    maps = render_maps(plan.routes, plan.redirect_routes)
    return Rendered(config="\n".join(lines) + "\n", maps=maps,
                    certificates={c.name: c.pem for c in plan.certificates},
                    crt_list=crt_list, default_certificate=settings.default_certificate,
                    lua=apr1_lua.SOURCE if _needs_lua(plan) else "")
