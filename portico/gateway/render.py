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
(`cors`), request mirrors (`mirror`)),
`rand(total weight)` picks one of its backends, and an unresolved choice or an
empty rule goes to a backend answering 500; no entry: 404.
Servers sit in pre-allocated slots (ingress's applier changes them at run
time); any other change is a seamless reload by the same applier.
"""

from __future__ import annotations

from collections.abc import Mapping

from portico.gateway import cors, mirror
from portico.gateway.model import Obj
from portico.gateway.routing import Choice, Entry, Table
from portico.ingress import render as ingress_render
from portico.ingress.endpoints import Slots
from portico.ingress.model import Plan, Settings
from portico.model.gatewayapi import MatchType, PathMatchType

NOT_FOUND, ERROR = "gw_404", "gw_500"
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


def _pick_lines(n: int, e: Entry) -> list[str]:
    """The weighted pick and the chosen backendRef's own header filters."""
    cond = f"{{ var(txn.match) -m str m{n} }}"
    out = []
    if len([c for c in e.choices if c.weight]) > 1:
        out.append(f"    http-request set-var(txn.pick) rand({_total(e)}) if {cond}")
    for c, picked in _ranges(n, e):
        for f in c.filters:
            if f.get("type") == "RequestHeaderModifier":
                out += _header_lines("http-request", f.get("requestHeaderModifier") or {},
                                     f"if {picked}")
            elif f.get("type") == "ResponseHeaderModifier":
                out += _header_lines("http-response", f.get("responseHeaderModifier") or {},
                                     f"if {picked}")
        out += mirror.request_lines(c.mirrors, f"if {picked}")
    return out


def _total(e: Entry) -> int:
    return sum(c.weight for c in e.choices)


def _ranges(n: int, e: Entry) -> list[tuple[Choice, str]]:
    """Each choice with weight, and the condition under which it is the one picked."""
    cond = f"{{ var(txn.match) -m str m{n} }}"
    weighted = [c for c in e.choices if c.weight]
    if len(weighted) == 1:
        return [(weighted[0], cond)]
    out, upto = [], 0
    for c in weighted:
        low, upto = upto, upto + c.weight
        out.append((c, f"{cond} {{ var(txn.pick) -m int ge {low} }} "
                       f"{{ var(txn.pick) -m int lt {upto} }}"))
    return out


def _backend_lines(n: int, e: Entry) -> list[str]:
    if _total(e) == 0:
        return [f"    use_backend {ERROR} if {{ var(txn.match) -m str m{n} }}"]
    return [f"    use_backend {c.backend or ERROR} if {picked}" for c, picked in _ranges(n, e)]


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
    for n, e in indexed:
        lines += _filter_lines(n, e) + _pick_lines(n, e) + cors.response_lines(n, e.filters)
    for n, e in indexed:
        lines += _backend_lines(n, e)
    return lines + [f"    default_backend {NOT_FOUND}"]


def _timeouts(table: Table) -> dict[str, list[str]]:
    """backend -> its `set-timeout server` lines (a timeout needs a backend's capability)."""
    out: dict[str, list[str]] = {}
    for n, e in enumerate(table.entries):
        for c in e.choices:
            if e.timeout_ms and c.backend:
                out.setdefault(c.backend, []).append(
                    f"    http-request set-timeout server {e.timeout_ms}ms "
                    f"if {{ var(txn.match) -m str m{n} }}")
    return out


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
    timeouts = _timeouts(table)
    for b in table.backends:
        lines += ["", f"backend {b.name}", *timeouts.get(b.name, [])]
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
    return ingress_render.Rendered(config="\n".join(lines) + "\n", certificates=certs,
                                   crt_list="".join(crt_lines),
                                   default_certificate=default or s.default_certificate,
                                   lua=mirror.lua_source(s) if mirrors else "")
