"""Which backend serves (host, path): the routing rules as a pure function, and the maps' reading.

`match(plan, host, path)` states the rules directly over the plan's routes:
1. host: the Host header without its port, lower case; an exact rule host wins,
   then `*.rest` when the host is `<one label>.rest`, then rules without a host;
2. path, first hit wins: Exact (equal); Prefix whose path equals the request
   path; `use-regex` regexes (case-insensitive, anchored at the start, longest
   first); the longest element-wise Prefix (`/foo` matches `/foo/bar`, not
   `/foobar`; `/` matches everything);
3. no route: the default backend (`spec.defaultBackend`), else 404.

`lookup(maps, host, path)` answers the same question by reading the rendered
map files the way HAProxy's converters do (`map`, `regsub`, `map_reg`,
`map_beg`), so tests can check that the maps encode exactly these rules.
Both return the backend name, or `render.NOT_FOUND_BACKEND` / the default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from portico.ingress import render
from portico.ingress.model import MatchKind, Plan, Route


def request_host(host_header: str) -> str:
    return host_header.split(":", 1)[0].lower()


def _host_routes(plan: Plan, host: str) -> list[Route]:
    hosts = {r.host for r in plan.routes}
    if host in hosts and host:
        chosen = host
    elif "." in host and "*." + host.split(".", 1)[1] in hosts:
        chosen = "*." + host.split(".", 1)[1]
    else:
        chosen = ""
    return [r for r in plan.routes if r.host == chosen]


def _prefix_matches(prefix: str, path: str) -> bool:
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


def match_route(plan: Plan, host_header: str, path: str) -> Route | None:
    routes = _host_routes(plan, request_host(host_header))
    for kind in (MatchKind.EXACT, MatchKind.PREFIX):
        for route in routes:
            # Prefix `/` has no exact row (render.render_maps): it is only a prefix.
            exact_row = kind == MatchKind.EXACT or route.path != "/"
            if route.kind == kind and route.path == path and exact_row:
                return route
    regexes = sorted((r for r in routes if r.kind == MatchKind.REGEX), key=lambda r: -len(r.path))
    for route in regexes:
        if re.match("(?i:" + route.path + ")", path):
            return route
    prefixes = [r for r in routes if r.kind == MatchKind.PREFIX and _prefix_matches(r.path, path)]
    return max(prefixes, key=lambda r: len(r.path), default=None)


def match(plan: Plan, host_header: str, path: str) -> str:
    route = match_route(plan, host_header, path)
    if route is not None:
        return route.backend
    return plan.default_backend or render.NOT_FOUND_BACKEND


# --- the same question, answered from the map files ------------------------------------
def _rows(text: str) -> list[tuple[str, str]]:
    return [(k, v) for k, _, v in (line.partition(" ") for line in text.splitlines() if line)]


def lookup(maps: Mapping[str, str], host_header: str, path: str,
           default_backend: str | None = None) -> str:
    host = request_host(host_header)
    hosts = dict(_rows(maps[render.HOST_MAP]))
    host_match = hosts.get(host)
    if host_match is None:
        host_match = hosts.get(re.sub(r"^[^.]*", "", host, count=1), "")
    key = host_match + path
    found = dict(_rows(maps[render.EXACT_MAP])).get(key) or \
        dict(_rows(maps[render.PREFIX_EXACT_MAP])).get(key)
    if found is None:
        found = next((v for p, v in _rows(maps[render.REGEX_MAP]) if re.search(p, key)), None)
    if found is None:
        prefixes = [(k, v) for k, v in _rows(maps[render.PREFIX_MAP]) if key.startswith(k)]
        found = max(prefixes, key=lambda kv: len(kv[0]), default=(None, None))[1]
    if found is None:
        return default_backend or render.NOT_FOUND_BACKEND
    return found.split(".", 1)[0]
