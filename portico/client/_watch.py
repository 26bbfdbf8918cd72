"""A watch stream read as JSON lines, straight into dicts.

lightkube's watch decodes every line twice (the event, then the object into a generic
resource whose `metadata` it parses into a model to learn the resourceVersion) over
httpx's text decoding and line splitting; an agent reads every pod change of the
cluster (its NetworkPolicy engine watches all pods), so that cost is paid per pod and
per node.  `watch_lines` sends lightkube's prepared request itself, splits the raw
bytes at newlines and decodes each line once (orjson).  As lightkube's, the stream
re-connects when the server ends it normally (its `timeoutSeconds`), from the last
resourceVersion seen (events and bookmarks); an `ERROR` event raises `ApiError` with
its Status (410 Gone when the version is too old), an HTTP error status raises
httpx's `HTTPStatusError` as lightkube's watch did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import orjson

Obj = dict[str, Any]
WatchLine = tuple[str, Obj]  # event type, object


async def _lines(response: httpx2.Response) -> AsyncIterator[bytes]:
    pending = b""
    async for chunk in response.aiter_bytes():
        pending += chunk
        if b"\n" not in pending:
            continue
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if line.strip():
                yield line
    if pending.strip():
        yield pending


async def watch_lines(client: httpx2.AsyncClient, url: str, params: dict[str, Any],
                      timeout: httpx2.Timeout) -> AsyncIterator[WatchLine]:
    """(type, object) of every event of the watch at `url`; raises WatchError with the
    Status of an ERROR event (the caller turns it into ApiError)."""
    params = dict(params)
    while True:
        request = client.build_request("GET", url, params=params, timeout=timeout)
        response = await client.send(request, stream=True)
        try:
            response.raise_for_status()
            async for line in _lines(response):
                event = orjson.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    raise WatchError(obj)
                version = (obj.get("metadata") or {}).get("resourceVersion")
                if version:
                    params["resourceVersion"] = version
                yield str(event.get("type")), obj
        finally:
            await response.aclose()


class WatchError(Exception):
    """An ERROR event: its object is a Status."""

    def __init__(self, status: Obj) -> None:
        super().__init__(status.get("message") or "watch error")
        self.status = status
