"""What a route rule asks for that this data plane cannot do safely (pure).

Theory of operation: a route is rendered into HAProxy's configuration, and
HAProxy refuses the *whole* configuration when one regex does not compile
or one name breaks a sample fetch's argument list - one bad route would then
freeze every Gateway's routing. So `problem(kind,
route)` looks at every regex (path, header, query param, GRPC method; compiled
with the PCRE2 options HAProxy uses, `portico.ingress.pcre`) and every header
or query-parameter name it uses, CORS header lists included (letters, digits,
`-`, `_` and `.` only); the
first problem makes the route's parentRefs Accepted False / UnsupportedValue
and the route is left out, while every other route keeps working.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from portico.gateway.model import Obj
from portico.ingress import pcre
from portico.model.gatewayapi import MatchType, PathMatchType

_NAME = re.compile(r"[A-Za-z0-9._-]+")


def _regexes(kind: str, match: Obj) -> Iterator[str]:
    path = match.get("path") or {}
    if path.get("type") == PathMatchType.REGULAR_EXPRESSION:
        yield f"^(?:{path.get('value')})$"
    for item in (match.get("headers") or []) + (match.get("queryParams") or []):
        if item.get("type") == MatchType.REGULAR_EXPRESSION:
            yield str(item.get("value"))
    method = match.get("method") or {}
    if kind == "GRPCRoute" and method.get("type") == MatchType.REGULAR_EXPRESSION:
        yield from (str(v) for v in (method.get("service"), method.get("method")) if v)


def _names(rule: Obj) -> Iterator[str]:
    for match in rule.get("matches") or []:
        yield from (str(i.get("name")) for i in (match.get("headers") or []) +
                    (match.get("queryParams") or []))
    filters = list(rule.get("filters") or []) + [
        f for ref in rule.get("backendRefs") or [] for f in ref.get("filters") or []]
    for f in filters:
        for key in ("requestHeaderModifier", "responseHeaderModifier"):
            mod = f.get(key) or {}
            yield from (str(h.get("name")) for h in (mod.get("set") or []) +
                        (mod.get("add") or []))
            yield from (str(n) for n in mod.get("remove") or [])
        cors = f.get("cors") or {}
        yield from (str(n) for n in (cors.get("allowHeaders") or []) +
                    (cors.get("exposeHeaders") or []) if n != "*")


def rule_problem(kind: str, rule: Obj) -> str:
    """"" when the rule can be rendered, else what cannot."""
    for match in rule.get("matches") or []:
        for regex in _regexes(kind, match):
            error = pcre.haproxy_error(regex)
            if error:
                return f"regular expression {regex!r} is not supported: {error}"
    for name in _names(rule):
        if not _NAME.fullmatch(name):
            return f"header or query parameter name {name!r} is not supported"
    return ""


def dropped_rules(kind: str, route: Obj) -> dict[int, str]:
    """Rule index -> problem, for the rules left out of the data plane."""
    rules = (route.get("spec") or {}).get("rules") or []
    found = {i: rule_problem(kind, rule) for i, rule in enumerate(rules)}
    return {i: text for i, text in found.items() if text}
