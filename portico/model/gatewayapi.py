"""Gateway API's closed vocabularies (gateway.networking.k8s.io), as enums.

Theory of operation
-------------------
As `portico.model.vocabulary` for the core API: each set once, the values word for word
as the Gateway API's Go constants spell them, `StrEnum`s so that members compare equal
to the JSON strings of a route.  Ingress rules that Portico translates into routes use
the same words.  Pure: no I/O.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["MatchType", "PathMatchType"]


class PathMatchType(StrEnum):
    """`HTTPPathMatch.type`; absent means PathPrefix."""

    EXACT = "Exact"
    PATH_PREFIX = "PathPrefix"
    REGULAR_EXPRESSION = "RegularExpression"


class MatchType(StrEnum):
    """`type` of a header, query parameter or gRPC method match; absent means Exact."""

    EXACT = "Exact"
    REGULAR_EXPRESSION = "RegularExpression"
