"""Kubernetes' own type schemas, loaded from the pinned `kubernetes-validate` package.

One data set (the v1.33 definitions, with upstream descriptions and the
`x-kubernetes-*` list and patch extensions) feeds the OpenAPI documents, strict
unknown-field checks, strategic merge patch and server-side apply.
"""

from portico.apiserver.schema._definitions import (
    Definitions,
    ListInfo,
    definitions,
)

__all__ = ["Definitions", "ListInfo", "definitions"]
