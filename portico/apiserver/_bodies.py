"""Request bodies in (JSON, YAML, protobuf) and responses out, with kube's errors.

Responses are serialized with one `orjson.dumps` call. Objects from the list cache
may be shared, so nothing here changes them: items missing apiVersion/kind get a
typed shallow copy, and a listed item's JSON is kept in its version's memo and
embedded as an `orjson.Fragment`. Watch events are written a batch at a time (`EventWriter`);
the line of one change is serialized once for all its watchers (`_event_line`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson
import yaml
from aiohttp import web

from portico.apiserver import errors
from portico.apiserver._tables import memo_json, table
from portico.apiserver.protobuf import PROTOBUF_CONTENT_TYPE
from portico.apiserver.protobuf import decode as decode_protobuf
from portico.apiserver.registry import PATCH_TYPES, PatchType
from portico.apiserver.resources._base import Object, ResourceType

if TYPE_CHECKING:
    from portico.apiserver.registry._objects import Stored
    from portico.apiserver.registry._read import WatchEvent

MAX_BODY_BYTES = 3 * 1024 * 1024


def json_response(body: Any, status: int = 200, content_type: str = "application/json",
                  warnings: list[str] | None = None) -> web.Response:
    """`body` as JSON with the newline Go's `json.Encoder` ends every document with."""
    headers = {"Content-Type": content_type}
    if warnings:
        headers["Warning"] = ", ".join(
            '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in warnings)
    return web.Response(body=orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE),
                        status=status, headers=headers)


# What Go's `json.Encoder` escapes inside strings (SetEscapeHTML defaults to true):
# `<`, `>`, `&` and the line/paragraph separators U+2028/U+2029.
_GO_ESCAPED = re.compile(rb"[<>&]|\xe2\x80[\xa8\xa9]")
_GO_ESCAPES = {b"<": b"\\u003c", b">": b"\\u003e", b"&": b"\\u0026",
               "\u2028".encode(): b"\\u2028", "\u2029".encode(): b"\\u2029"}


def status_json(status: dict[str, Any]) -> bytes:
    """A Status byte for byte as kube-apiserver writes it (`json.NewEncoder(w).Encode`):
    compact, HTML characters escaped, a newline at the end. Only Status bodies are
    escaped: they are small, while a scan of every list for `<>&` would cost time."""
    data = orjson.dumps(status, option=orjson.OPT_APPEND_NEWLINE)
    return _GO_ESCAPED.sub(lambda match: _GO_ESCAPES[match.group(0)], data)


def status_response(exc: errors.StatusError) -> web.Response:
    return status_body_response(exc.status(), exc.code)


def status_body_response(status: dict[str, Any], code: int = 200) -> web.Response:
    return web.Response(body=status_json(status), status=code,
                        headers={"Content-Type": "application/json"})


def media_type(request: web.Request) -> str:
    raw = request.headers.get("Content-Type", "")
    return raw.split(";")[0].strip().lower()


async def read_raw(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise errors.request_too_large()
    data = bytearray()
    async for chunk in request.content.iter_chunked(65536):
        data += chunk
        if len(data) > MAX_BODY_BYTES:
            raise errors.request_too_large()
    return bytes(data)


def _parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"error decoding JSON: {exc}") from None


def _parse_yaml(raw: bytes) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None


async def read_object(request: web.Request) -> dict[str, Any]:
    """A create/update body: JSON (also when no Content-Type is sent), YAML or protobuf."""
    raw = await read_raw(request)
    kind = media_type(request)
    if kind == PROTOBUF_CONTENT_TYPE:
        return decode_protobuf(raw)
    if kind in ("", "application/json", "*/*"):
        body = _parse_json(raw)
    elif kind in ("application/yaml", "application/x-yaml", "text/yaml"):
        body = _parse_yaml(raw)
    else:
        raise errors.unsupported_media_type(kind)
    if not isinstance(body, dict):
        raise errors.bad_request(
            "Object 'Kind' is missing in '" + raw.decode(errors="replace")[:200] + "'")
    return body


async def read_patch(request: web.Request) -> tuple[str, Any]:
    kind = media_type(request)
    if kind not in PATCH_TYPES:
        raise errors.StatusError(
            415, "UnsupportedMediaType",
            f'the body of the request was in an unknown format - accepted media types include: '
            f'{", ".join(PATCH_TYPES)}')
    raw = await read_raw(request)
    body = _parse_apply(raw) if kind == PatchType.APPLY else _parse_json(raw)
    return kind, body


def _parse_apply(raw: bytes) -> Any:
    """An apply patch is YAML, and JSON (what kubectl sends) is YAML: JSON is tried first,
    as it parses a hundred times faster (a Gateway API CRD is half a megabyte)."""
    if raw.lstrip()[:1] == b"{":
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return _parse_yaml(raw)


def _typed(rt: ResourceType, obj: Object) -> Object:
    if "apiVersion" in obj and "kind" in obj:
        return obj
    return {"apiVersion": rt.api_version, "kind": rt.kind, **obj}


def list_items(rt: ResourceType, items: list[Object]) -> list[Object]:
    """The `items` of a list response, with apiVersion and kind (copies where missing)."""
    return [_typed(rt, obj) for obj in items]


def stored_items(rt: ResourceType, items: list[Stored]) -> list[orjson.Fragment]:
    """The `items` of a list response from the registry: each version serialized once."""
    return [memo_json(rt, item) for item in items]


_LINES: dict[tuple[str, str, str, str, str], bytes] = {}


def _event_line(kind_of_event: str, rt: ResourceType, obj: Object) -> bytes:
    """The JSON line of one watch event, serialized once for all its watchers."""
    meta = obj.get("metadata", {})
    key = (kind_of_event, rt.api_version, rt.kind, str(meta.get("uid")),
           str(meta.get("resourceVersion")))
    line = _LINES.get(key)
    if line is None:
        if len(_LINES) > 4096:
            _LINES.clear()
        line = orjson.dumps({"type": kind_of_event, "object": _typed(rt, obj)}) + b"\n"
        _LINES[key] = line
    return line


class EventWriter:
    """Writes watch events to a chunked response as JSON lines, one write per batch."""

    def __init__(self, response: web.StreamResponse, rt: ResourceType, as_table: bool,
                 include: str) -> None:
        self.response = response
        self.rt = rt
        self.as_table = as_table
        self.include = include
        self.headers_sent = False

    async def _line(self, payload: dict[str, Any]) -> None:
        await self.response.write(orjson.dumps(payload) + b"\n")

    def _table_line(self, event: WatchEvent) -> bytes:
        obj = event.object  # shared by every watcher of this change: never mutated here
        tbl = table(self.rt, [_typed(self.rt, obj)], self.include,
                    obj["metadata"].get("resourceVersion", ""), headers=not self.headers_sent)
        self.headers_sent = True
        return orjson.dumps({"type": event.type, "object": tbl}) + b"\n"

    async def send(self, events: list[WatchEvent]) -> None:
        if self.as_table:
            lines = [self._table_line(event) for event in events]
        else:
            lines = [_event_line(event.type, self.rt, event.object) for event in events]
        await self.response.write(lines[0] if len(lines) == 1 else b"".join(lines))

    async def bookmark(self, revision: int) -> None:
        await self._line({"type": "BOOKMARK", "object": {
            "kind": self.rt.kind, "apiVersion": self.rt.api_version,
            "metadata": {"resourceVersion": str(revision)}}})

    async def error(self, exc: errors.StatusError) -> None:
        await self.response.write(status_json({"type": "ERROR", "object": exc.status()}))
