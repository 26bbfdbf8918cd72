"""The HTTPRoute CORS filter as HAProxy rules (pure).

Theory of operation: for a matched entry `m<n>` with a CORS filter, an ACL
`m<n>_co` holds when the request's Origin is one of `allowOrigins` (scheme and
host, `*` in the host a greedy match to the left, the scheme's default port
optional when the origin names none; `*` alone: any Origin). Then:
- an allowed Origin sets `txn.cors` to the entry, and remembers the Origin,
  and for a preflight (OPTIONS with Origin and Access-Control-Request-Method)
  the requested method and headers; the gateway answers the preflight itself,
  200 with an empty body. A preflight from any other Origin is answered 204
  without CORS headers (the spec's "200/204 without the headers"); a simple
  request from it goes to the backend untouched.
- `http-after-response` rules (they run for the gateway's own answers too)
  add to every answer of an allowed Origin: Access-Control-Allow-Origin (the
  Origin echoed, which the spec allows in every case and requires with
  credentials), Allow-Credentials `true` when allowCredentials, and
  Expose-Headers; to a preflight also Allow-Methods (the list, or the
  requested method for `*`), Allow-Headers when the request named some (the
  list, or the requested ones for `*`) and Max-Age (default 5 s).
"""

from __future__ import annotations

import re

from portico.gateway.model import Obj

_ORIGIN = re.compile(r"(https?)://([^:/]+)(?::(\d+))?")
_DEFAULT_PORT = {"http": "80", "https": "443"}
PREFLIGHT = "METH_OPTIONS { req.fhdr(origin) -m found } " \
    "{ req.fhdr(access-control-request-method) -m found }"


def origin_regex(origin: str) -> str:
    """A case-insensitive regex matching the Origin values `origin` allows."""
    found = _ORIGIN.fullmatch(origin)
    if found is None:
        return ".*" if origin == "*" else "^$"
    scheme, host, port = found.groups()
    pattern = re.escape(host).replace(r"\*", "[a-z0-9.-]+")
    default = _DEFAULT_PORT[scheme]
    ports = f":{port}" if port and port != default else f"(?::{default})?"
    return f"^{scheme}://{pattern}{ports}$"


def _spec(filters: tuple[Obj, ...]) -> Obj | None:
    return next((f.get("cors") or {} for f in filters if f.get("type") == "CORS"), None)


def request_lines(n: int, filters: tuple[Obj, ...]) -> list[str]:
    """The entry's origin ACL, the remembered request values and the preflight answers."""
    spec = _spec(filters)
    if spec is None:
        return []
    origins = list(spec.get("allowOrigins") or [])
    matched = f"{{ var(txn.match) -m str m{n} }}"
    allowed = f"{{ var(txn.cors) -m str m{n} }}"
    if "*" in origins:
        acl = f"    acl m{n}_co req.fhdr(origin) -m found"
    else:
        acl = f"    acl m{n}_co req.fhdr(origin) -m reg -i " + \
            (" ".join(origin_regex(o) for o in origins) or "^$")
    return [acl,
            f"    http-request set-var(txn.cors) str(m{n}) if {matched} m{n}_co",
            f"    http-request set-var(txn.cors_o) req.fhdr(origin) if {allowed}",
            f"    http-request set-var(txn.cors_pf) bool(1) if {allowed} {PREFLIGHT}",
            "    http-request set-var(txn.cors_m) req.fhdr(access-control-request-method) "
            f"if {allowed} {PREFLIGHT}",
            "    http-request set-var(txn.cors_h) req.fhdr(access-control-request-headers) "
            f"if {allowed} {PREFLIGHT}",
            f"    http-request return status 200 if {allowed} {PREFLIGHT}",
            f"    http-request return status 204 if {matched} !m{n}_co {PREFLIGHT}"]


def _listed(values: list[str], echoed: str) -> str:
    """A header value: the list joined, or the request's own value for `*`."""
    return f"%[var({echoed})]" if "*" in values else ",".join(values)


def response_lines(n: int, filters: tuple[Obj, ...]) -> list[str]:
    """`http-after-response` lines adding the CORS headers to an allowed Origin's answers."""
    spec = _spec(filters)
    if spec is None:
        return []
    allowed = f"if {{ var(txn.cors) -m str m{n} }}"
    preflight = f"{allowed} {{ var(txn.cors_pf) -m bool }}"
    credentials = bool(spec.get("allowCredentials"))
    out = [f"    http-after-response set-header Access-Control-Allow-Origin "
           f"%[var(txn.cors_o)] {allowed}"]
    if credentials:
        out.append(f"    http-after-response set-header Access-Control-Allow-Credentials true "
                   f"{allowed}")
    expose = list(spec.get("exposeHeaders") or [])
    if expose and not (credentials and "*" in expose):
        out.append(f"    http-after-response set-header Access-Control-Expose-Headers "
                   f"{','.join(expose)} {allowed}")
    methods = list(spec.get("allowMethods") or [])
    if methods:
        out.append(f"    http-after-response set-header Access-Control-Allow-Methods "
                   f"{_listed(methods, 'txn.cors_m')} {preflight}")
    headers = list(spec.get("allowHeaders") or [])
    if headers:
        out.append(f"    http-after-response set-header Access-Control-Allow-Headers "
                   f"{_listed(headers, 'txn.cors_h')} {preflight} "
                   "{ var(txn.cors_h) -m found }")
    out.append(f"    http-after-response set-header Access-Control-Max-Age "
               f"{int(spec.get('maxAge') or 5)} {preflight}")
    return out
