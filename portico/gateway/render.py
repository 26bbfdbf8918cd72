"""One Gateway's routing table -> HAProxy's files (pure).

Theory of operation: one frontend per listener port (HTTPS ports terminate TLS
with the default certificate - the hostless HTTPS listener's - plus a crt-list
whose lines carry the other listeners' hostnames as SNI filters). In a
frontend the request first picks its listener by Host (port stripped, lower
case): an exact listener hostname, then the longest wildcard, then the
hostless listener (on HTTPS ports by the TLS SNI when the client sent one, as
Envoy chooses a filter chain; the Host header must then match the routes).
Then the table's entries, already in precedence order, are tried in turn:
the first whose ACLs all hold sets `txn.match`. The matched entry's filters
run (redirect, request/response header changes, URL rewrites, CORS
(`cors`), request mirrors (`mirror`)), a random pick weighted by the map
`weights.map` chooses one of its backendRefs, `m<entry>.<backendRef>` in
`txn.choice` (`_pick_lines`), and the map `backends.map` names that choice's
HAProxy backend; an unresolved backendRef keeps its share but answers 500, as
does an entry with no backendRef or a total weight of 0; no entry: 404. The
entry's timeout, if any, comes from the map `timeouts.map` (`txn.timeout`,
which every backend applies).

What changes often stays out of haproxy.cfg's *shape* (as for Ingress): server
addresses sit in pre-allocated slots (runtime `set server`); the Service each
backendRef names, the weights and a rule's timeout are map rows (runtime `add
map`), the backends being declared up front for every Service port of the
routes' namespaces (`routing`). So endpoint changes, backendRefs moved between
those Services or re-weighted, and timeouts changed are runtime commands of
ingress's applier; any other change (listeners, matches, filters, the number
of backendRefs of a rule, the first timeout, certificates' shapes) is a
seamless reload by it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from portico.gateway import cors, mirror
from portico.gateway.model import Obj
from portico.gateway.routing import Entry, Table
from portico.ingress import render as ingress_render
from portico.ingress.endpoints import Slots
from portico.ingress.model import Plan, Settings
from portico.model.gatewayapi import MatchType, PathMatchType

NOT_FOUND, ERROR = "gw_404", "gw_500"
BACKENDS_MAP, WEIGHTS_MAP, TIMEOUTS_MAP = "backends.map", "weights.map", "timeouts.map"
_ESCAPED = {"\\": "\\\\", " ": "\\ ", "'": "\\'", '"': '\\"', "#": "\\#"}


def word(text: str) -> str:
    """`text` as one config word (backslash escapes)."""
    return "".join(_ESCAPED.get(ch, ch) for ch in text)


def log_word(text: str) -> str:
    """`text` as one log-format word: `%` doubled too."""
    return word(text.replace("%", "%%"))


def _listener_lines(table: Table, port: int) -> list[str]:
    here = [li for li in table.listeners if li.port == port]
    exact = [li for li in here if li.hostname and not li.hostname.startswith("*.")]
    wild = sorted((li for li in here if li.hostname and li.hostname.startswith("*.")),
                  key=lambda li: -len(li.hostname or ""))
    unset = "!{ var(txn.listener) -m found }"
    out = [f"    http-request set-var(txn.listener) str({li.name}) if {unset} "
           f"{{ var(txn.lhost) -m str {li.hostname} }}" for li in exact]
    out += [f"    http-request set-var(txn.listener) str({li.name}) if {unset} "
            f"{{ var(txn.lhost) -m end {(li.hostname or '')[1:]} }}" for li in wild]
    out += [f"    http-request set-var(txn.listener) str({li.name}) if {unset}"
            for li in here if not li.hostname]
    return out


def _acls(n: int, e: Entry) -> list[str]:
    """Named ACLs for entry `n` (named, so that no value can close an anonymous `{ }`)."""
    a = f"m{n}"
    lines = [f"    acl {a}_l var(txn.listener) -m str {e.listener}"]
    if e.hostname:
        how = "end" if e.hostname.startswith("*.") else "str"
        lines.append(f"    acl {a}_host var(txn.host) -m {how} {e.hostname.removeprefix('*')}")
    path = e.match.get("path") or {"type": "PathPrefix", "value": "/"}
    value = str(path.get("value") or "/")
    if path.get("type") == PathMatchType.EXACT:
        lines.append(f"    acl {a}_p path -m str {word(value)}")
    elif path.get("type") == PathMatchType.REGULAR_EXPRESSION:
        lines.append(f"    acl {a}_p path -m reg {word('^(?:' + value + ')$')}")
    elif value.rstrip("/"):
        lines += [f"    acl {a}_p path -m str {word(value.rstrip('/'))}",
                  f"    acl {a}_p path -m beg {word(value.rstrip('/') + '/')}"]
    for i, h in enumerate(e.match.get("headers") or []):
        how = "reg" if h.get("type") == MatchType.REGULAR_EXPRESSION else "str"
        lines.append(f"    acl {a}_h{i} req.fhdr({h['name']},1) -m {how} {word(h['value'])}")
    for i, q in enumerate(e.match.get("queryParams") or []):
        how = "reg" if q.get("type") == MatchType.REGULAR_EXPRESSION else "str"
        lines.append(f"    acl {a}_q{i} url_param({q['name']}) -m {how} {word(q['value'])}")
    if e.match.get("method"):
        lines.append(f"    acl {a}_m method {e.match['method']}")
    return lines


def _conditions(n: int, e: Entry) -> str:
    """The entry's ACL names, ANDed."""
    return " ".join(sorted({line.split()[1] for line in _acls(n, e)},
                           key=lambda name: (len(name), name)))


def _redirect(e: Entry, r: Obj) -> str:
    scheme = r.get("scheme") or e.scheme
    port = r.get("port") or (None if r.get("scheme") else e.port)
    port = port or (443 if scheme == "https" else 80)
    shown = "" if (scheme, port) in (("http", 80), ("https", 443)) else f":{port}"
    host = log_word(r["hostname"]) if r.get("hostname") else "%[var(txn.host)]"
    path = "%[capture.req.uri]"
    p = r.get("path") or {}
    if p.get("type") == "ReplaceFullPath":
        path = log_word(p.get("replaceFullPath") or "/")
    elif p.get("type") == "ReplacePrefixMatch":
        path = log_word((p.get("replacePrefixMatch") or "/").rstrip("/")) + "%[var(txn.rest)]"
    return f"redirect location {scheme}://{host}{shown}{path} code {r.get('statusCode', 302)}"



def _prefix(e: Entry) -> str:
    return str((e.match.get("path") or {}).get("value") or "/").rstrip("/")


def _header_lines(verb: str, mod: Obj, cond: str) -> list[str]:
    out = [f"    {verb} set-header {h['name']} {log_word(h['value'])} {cond}"
           for h in mod.get("set") or []]
    out += [f"    {verb} add-header {h['name']} {log_word(h['value'])} {cond}"
            for h in mod.get("add") or []]
    return out + [f"    {verb} del-header {name} {cond}" for name in mod.get("remove") or []]


def _filter_lines(n: int, e: Entry) -> list[str]:
    cond = f"if {{ var(txn.match) -m str m{n} }}"
    prefix = _prefix(e)
    rest = f"    http-request set-var(txn.rest) path,bytes({len(prefix)}) {cond}"
    out: list[str] = []
    for f in e.filters:
        kind = f.get("type")
        if kind == "RequestHeaderModifier":
            out += _header_lines("http-request", f.get("requestHeaderModifier") or {}, cond)
        elif kind == "ResponseHeaderModifier":
            out += _header_lines("http-response", f.get("responseHeaderModifier") or {}, cond)
        elif kind == "RequestRedirect":
            out += [rest, f"    http-request {_redirect(e, f.get('requestRedirect') or {})} {cond}"]
        elif kind == "URLRewrite":
            out += _rewrite_lines(f.get("urlRewrite") or {}, cond, rest)
    return out + cors.request_lines(n, e.filters) + mirror.request_lines(e.mirrors, cond)


def _rewrite_lines(r: Obj, cond: str, rest: str) -> list[str]:
    out = []
    if r.get("hostname"):
        out.append(f"    http-request set-header Host {log_word(r['hostname'])} {cond}")
    p = r.get("path") or {}
    if p.get("type") == "ReplaceFullPath":
        out.append(f"    http-request set-path {log_word(p.get('replaceFullPath') or '/')} {cond}")
    elif p.get("type") == "ReplacePrefixMatch":
        target = log_word((p.get("replacePrefixMatch") or "/").rstrip("/"))
        out += [rest, f"    http-request set-path {target}%[var(txn.rest)] {cond}",
                f"    http-request set-path / {cond} {{ path -m len 0 }}"]
    return out


def _pick_lines(n: int, e: Entry, s: Settings) -> list[str]:
    """The pick among the entry's backendRefs (`txn.choice`) and the chosen one's filters.

    One backendRef is the choice. Of several, `weights.map` holds the total weight
    (`m<n>`) and each one's cumulative upper bound (`m<n>.<i>`): the first whose bound
    exceeds a random pick in [0, total) is the choice (none when the total is 0: 500).
    """
    cond = f"{{ var(txn.match) -m str m{n} }}"
    keys = [f"m{n}.{i}" for i in range(len(e.choices))]
    out = []
    if len(keys) == 1:
        out.append(f"    http-request set-var(txn.choice) str({keys[0]}) if {cond}")
    elif keys:
        weights = ingress_render.map_path(s, WEIGHTS_MAP)
        out += [f"    http-request set-var(txn.total) str(m{n}),map_str_int({weights}) if {cond}",
                f"    http-request set-var(txn.pick) rand,mod(txn.total) if {cond}"]
        for key in keys:
            out += [f"    http-request set-var(txn.upto) str({key}),map_str_int({weights}) "
                    f"if {cond} !{{ var(txn.choice) -m found }}",
                    f"    http-request set-var(txn.choice) str({key}) if {cond} "
                    "!{ var(txn.choice) -m found } { var(txn.pick),sub(txn.upto) -m int lt 0 }"]
    for key, c in zip(keys, e.choices, strict=True):
        picked = f"if {{ var(txn.choice) -m str {key} }}"
        for f in c.filters:
            if f.get("type") == "RequestHeaderModifier":
                out += _header_lines("http-request", f.get("requestHeaderModifier") or {},
                                     picked)
            elif f.get("type") == "ResponseHeaderModifier":
                out += _header_lines("http-response", f.get("responseHeaderModifier") or {},
                                     picked)
        out += mirror.request_lines(c.mirrors, picked)
    return out


def render_maps(table: Table) -> dict[str, str]:
    """`backends.map` (backendRef key -> backend), `weights.map` (entry -> total weight,
    backendRef key -> cumulative weight) and `timeouts.map` (entry -> ms)."""
    choices: list[str] = []
    weights: list[str] = []
    for n, e in enumerate(table.entries):
        choices += [f"m{n}.{i} {(c.backend if c.weight else None) or ERROR}\n"
                    for i, c in enumerate(e.choices)]
        if len(e.choices) > 1:
            bounds = itertools.accumulate(c.weight for c in e.choices)
            weights += [f"m{n} {sum(c.weight for c in e.choices)}\n",
                        *(f"m{n}.{i} {upto}\n" for i, upto in enumerate(bounds))]
    timeouts = [f"m{n} {e.timeout_ms}\n" for n, e in enumerate(table.entries) if e.timeout_ms]
    return {BACKENDS_MAP: "".join(choices), WEIGHTS_MAP: "".join(weights),
            TIMEOUTS_MAP: "".join(timeouts)}


def _timed(table: Table) -> bool:
    return any(e.timeout_ms for e in table.entries)


def _frontend(table: Table, port: int, s: Settings) -> list[str]:
    indexed = [(n, e) for n, e in enumerate(table.entries) if e.port == port]
    https = any(li.protocol == "HTTPS" for li in table.listeners if li.port == port)
    tls_dir = s.state_dir / "tls"
    bind = f"    bind {s.bind_address}:{port}" + (
        f" ssl crt {tls_dir / 'default.pem'} crt-list {tls_dir / 'crt-list'} alpn h2,http/1.1"
        if https else "")
    unset = "!{ var(txn.match) -m found }"
    lines = ["", f"frontend port_{port}", bind]
    lines += [acl for n, e in indexed for acl in _acls(n, e)]
    lines += ["    http-request set-var(txn.host) req.hdr(host),field(1,:),lower",
              "    http-request set-var(txn.lhost) var(txn.host)"]
    if https:
        lines.append("    http-request set-var(txn.lhost) ssl_fc_sni,lower if { ssl_fc_has_sni }")
    lines += _listener_lines(table, port)
    lines += [f"    http-request set-var(txn.match) str(m{n}) if {unset} {_conditions(n, e)}"
              for n, e in indexed]
    if _timed(table):
        lines.append("    http-request set-var(txn.timeout) var(txn.match),"
                     f"map_str_int({ingress_render.map_path(s, TIMEOUTS_MAP)})")
    for n, e in indexed:
        lines += _filter_lines(n, e) + _pick_lines(n, e, s) + cors.response_lines(n, e.filters)
    return lines + [
        f"    use_backend {ERROR} if {{ var(txn.match) -m found }} !{{ var(txn.choice) -m found }}",
        f"    use_backend %[var(txn.choice),map({ingress_render.map_path(s, BACKENDS_MAP)},"
        f"{ERROR})] if {{ var(txn.choice) -m found }}", f"    default_backend {NOT_FOUND}"]


def _mirrors(table: Table) -> bool:
    return any(e.mirrors or any(c.mirrors for c in e.choices) for e in table.entries)


def render_table(table: Table, slots: Mapping[str, Slots], s: Settings) -> ingress_render.Rendered:
    lines = ingress_render.global_section(Plan(), s)
    mirrors = _mirrors(table)
    if mirrors:   # the Lua file is the one ingress's applier writes (`Rendered.lua`)
        lines.insert(lines.index(""), f"    lua-load {s.state_dir / ingress_render.AUTH_LUA}")
    for port in sorted({li.port for li in table.listeners}):
        lines += _frontend(table, port, s)
    if mirrors:
        lines += mirror.frontend_lines(s)
    lines += ["", f"backend {NOT_FOUND}", "    http-request return status 404",
              "", f"backend {ERROR}", "    http-request return status 500"]
    # a timeout needs a backend's capability: each applies the matched entry's
    timeout = ["    http-request set-timeout server var(txn.timeout) "
               "if { var(txn.timeout) -m found }"] if _timed(table) else []
    for b in table.backends:
        lines += ["", f"backend {b.name}", *timeout]
        if b.h2:
            lines.append("    default-server proto h2")
        lines += [f"    server s{i} {server}" if server else
                  f"    server s{i} {ingress_render.PLACEHOLDER} disabled"
                  for i, server in enumerate(slots[b.name], start=1)]
    certs: dict[str, str] = {}
    crt_lines: list[str] = []
    default = ""
    for li in table.listeners:
        for i, pem in enumerate(li.certificates):
            if not li.hostname:
                default = default or pem
                continue
            name = f"{li.name}_{i}.pem"
            certs[name] = pem
            crt_lines.append(f"{ingress_render.cert_path(s, name)} {li.hostname}\n")
    return ingress_render.Rendered(config="\n".join(lines) + "\n", maps=render_maps(table),
                                   certificates=certs,
                                   crt_list="".join(crt_lines),
                                   default_certificate=default or s.default_certificate,
                                   lua=mirror.lua_source(s) if mirrors else "")
