"""A watch stream read as JSON lines, straight into dicts.

lightkube's watch decoded every line twice (the event, then the object into a generic
resource whose `metadata` it parses into a model to learn the resourceVersion) over
httpx's text decoding and line splitting; an agent reads every pod change of the
cluster (its NetworkPolicy engine watches all pods), so that cost is paid per pod and
per node.  `watch_lines` opens the watch on the `Transport`'s aiohttp session, splits
the raw bytes at newlines and decodes each line once (orjson).  As lightkube's, the
stream re-connects when the server ends it normally (its `timeoutSeconds`), from the
last resourceVersion seen (events and bookmarks); an `ERROR` event, or an error
answer to the request itself, raises `WatchError` with the Status (410 Gone when the
version is too old).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from portico.client._transport import Answer, Transport

Obj = dict[str, Any]
WatchLine = tuple[str, Obj]  # event type, object


async def lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The non-blank lines of a byte stream, however its chunks cut them."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        if b"\n" not in pending:
            continue
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if line.strip():
                yield line
    if pending.strip():
        yield pending


async def watch_lines(transport: Transport, path: str,
                      params: dict[str, str]) -> AsyncIterator[WatchLine]:
    """(type, object) of every event of the watch at `path`; raises WatchError with the
    Status of an ERROR event or of an error answer (the caller turns it into ApiError)."""
    params = {**params, "watch": "true"}
    while True:
        async with transport.stream(path, params) as response:
            if response.status >= 400:
                raise WatchError(Answer.of(response.status, await response.read()).status())
            async for line in lines(response.content.iter_any()):
                event = orjson.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    raise WatchError(obj)
                version = (obj.get("metadata") or {}).get("resourceVersion")
                if version:
                    params["resourceVersion"] = version
                yield str(event.get("type")), obj


class WatchError(Exception):
    """An ERROR event: its object is a Status."""

    def __init__(self, status: Obj) -> None:
        super().__init__(status.get("message") or "watch error")
        self.status = status
