"""Listener and route hostnames: what a pair of them serves (pure).

Theory of operation: a listener hostname and a route hostname intersect when
they are equal, when one is a wildcard (`*.example.com`, a suffix match that
needs at least one more label) covering the other, or when both are
wildcards and one covers the other; the hostname served is the more specific
of the two. A listener without a hostname takes the route's as it is.
"""

from __future__ import annotations


def _wild_match(wildcard: str, host: str) -> bool:
    return host.endswith(wildcard[1:]) and len(host) > len(wildcard) - 1


def intersect(listener: str | None, route: str) -> str | None:
    """The hostname served for a listener hostname and a route hostname, None if disjoint."""
    if listener is None or listener == route:
        return route
    if listener.startswith("*."):
        if _wild_match(listener, route.replace("*.", "x.", 1) if route.startswith("*.")
                       else route):
            return route
        return listener if route.startswith("*.") and _wild_match(route, listener[2:]) else None
    return listener if route.startswith("*.") and _wild_match(route, listener) else None
