"""Admission steps that read other objects inside the write's transaction.

`newest_default(ctx, prefix, annotation)`: the newest object under `prefix` annotated
`<annotation>: "true"`, as the DefaultIngressClass and DefaultStorageClass admission
plugins pick a class (the newest when several are marked).
"""

from __future__ import annotations

import orjson

from portico.apiserver.resources import _base


def stored(ctx: _base.WriteContext, key: str) -> _base.Object | None:
    raw = ctx.get(key)
    return None if raw is None else dict(orjson.loads(raw))


def newest_default(ctx: _base.WriteContext, prefix: str, annotation: str) -> str | None:
    best: tuple[str, str] | None = None
    for key in ctx.keys(prefix):
        obj = stored(ctx, key)
        meta = (obj or {}).get("metadata", {})
        if (meta.get("annotations") or {}).get(annotation) == "true":
            candidate = (str(meta.get("creationTimestamp", "")), str(meta.get("name")))
            best = max(best, candidate) if best else candidate
    return best[1] if best else None
