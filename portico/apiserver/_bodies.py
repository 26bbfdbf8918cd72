"""Request bodies in (JSON, YAML, protobuf) and responses out, with kube's errors.

Bodies are read up to kube-apiserver's 3 MiB within its 60 s request timeout (a
client that sends a header and then trickles its body gets 504), and decoded by `_decode` under its
depth and alias bounds; decoding errors carry kube-apiserver's wording.

Responses are serialized with one `orjson.dumps` call. Objects from the list cache
may be shared, so nothing here changes them: items missing apiVersion/kind get a
typed shallow copy, and a listed item's JSON is kept in its version's memo and
embedded as an `orjson.Fragment`. Watch events are written a batch at a time (`EventWriter`);
the line of one change is serialized once for all its watchers (`_event_line`).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from portico.apiserver import errors
from portico.apiserver._decode import (
    BodyError,
    ExpandsTooLarge,
    TooDeep,
    duplicate_fields,
    load_json,
    load_yaml,
    nesting_exceeds,
    summarize,
)
from portico.apiserver._tables import memo_json, table
from portico.apiserver.protobuf import PROTOBUF_CONTENT_TYPE
from portico.apiserver.protobuf import decode as decode_protobuf
from portico.apiserver.registry import PATCH_TYPES, PatchType
from portico.apiserver.registry._write import object_too_large
from portico.apiserver.resources._base import Object, ResourceType

if TYPE_CHECKING:
    from portico.apiserver.registry._objects import Stored
    from portico.apiserver.registry._read import WatchEvent

MAX_BODY_BYTES = 3 * 1024 * 1024
BODY_TIMEOUT = 60.0  # kube-apiserver's default --request-timeout
# Portico's bound on patch nesting: patches are applied by recursive code, and no
# built-in kind nests anywhere near this deep outside fields it would drop
MAX_PATCH_DEPTH = 200


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


def request_timeout() -> errors.StatusError:
    """kube-apiserver's answer to a request that outlives `--request-timeout`."""
    return errors.StatusError(
        504, "Timeout",
        "Timeout: request did not complete within requested timeout - context deadline exceeded",
        {})


async def read_raw(request: web.Request) -> bytes:
    """The whole body: at most 3 MiB, within kube-apiserver's 60 s request timeout."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise errors.request_too_large()
    data = bytearray()
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            async for chunk in request.content.iter_chunked(65536):
                data += chunk
                if len(data) > MAX_BODY_BYTES:
                    raise errors.request_too_large()
    except TimeoutError:
        raise request_timeout() from None
    return bytes(data)


def _unrecognized(kind: str, reason: str, raw: bytes) -> errors.StatusError:
    """`transformDecodeError` when the decoder could not even find the body's kind."""
    return errors.bad_request(f"the object provided is unrecognized (must be of type {kind}): "
                              f"{reason} ({summarize(raw)})")


def _parse_json(raw: bytes, kind: str) -> Any:
    try:
        return load_json(raw)
    except TooDeep as exc:
        raise _unrecognized(kind, f"couldn't get version/kind; json parse error: {exc}",
                            raw) from None
    except BodyError as exc:
        raise errors.bad_request(f"error decoding JSON: {exc}") from None


def _parse_yaml(raw: bytes, kind: str) -> Any:
    try:
        return load_yaml(raw)
    except BodyError as exc:
        raise _unrecognized(kind, f"error converting YAML to JSON: {exc}", raw) from None
    except ExpandsTooLarge:
        raise object_too_large() from None


@dataclass
class Body:
    """A decoded create/update body, and the duplicate keys its JSON repeated."""

    object: dict[str, Any]
    duplicates: list[str]


def decode_object(request: web.Request, raw: bytes, kind: str, field_validation: str) -> Body:
    """A create/update body: JSON (also when no Content-Type is sent), YAML or protobuf.

    `kind` names the expected type in decoding errors; duplicate JSON keys are looked
    for unless `fieldValidation=Ignore` (the only mode whose decoder does not report them)."""
    media = media_type(request)
    duplicates: list[str] = []
    if media == PROTOBUF_CONTENT_TYPE:
        return Body(decode_protobuf(raw), duplicates)
    if media in ("", "application/json", "*/*"):
        body = _parse_json(raw, kind)
        if field_validation != "Ignore":
            duplicates = duplicate_fields(raw, body)
    elif media in ("application/yaml", "application/x-yaml", "text/yaml"):
        body = _parse_yaml(raw, kind)
    else:
        raise errors.unsupported_media_type(media)
    if not isinstance(body, dict):
        raise errors.bad_request(
            "Object 'Kind' is missing in '" + raw.decode(errors="replace")[:200] + "'")
    return Body(body, duplicates)


async def read_object(request: web.Request, kind: str) -> dict[str, Any]:
    """A body read and decoded in one step (bindings: no field validation applies)."""
    return decode_object(request, await read_raw(request), kind, "Ignore").object


async def read_patch(request: web.Request) -> tuple[str, Any]:
    kind = media_type(request)
    if kind not in PATCH_TYPES:
        raise errors.StatusError(
            415, "UnsupportedMediaType",
            f'the body of the request was in an unknown format - accepted media types include: '
            f'{", ".join(PATCH_TYPES)}')
    raw = await read_raw(request)
    body = _parse_patch(raw, kind)
    if (kind == PatchType.APPLY or raw.count(b"[") + raw.count(b"{") > MAX_PATCH_DEPTH) and (
            nesting_exceeds(body, MAX_PATCH_DEPTH)):
        raise errors.bad_request(f"error decoding patch: exceeded max depth of {MAX_PATCH_DEPTH}")
    return kind, body


def _parse_patch(raw: bytes, kind: str) -> Any:
    if kind != PatchType.APPLY or raw.lstrip()[:1] == b"{":
        # an apply patch is YAML, and JSON (what kubectl sends) is YAML: JSON is tried
        # first, as it parses a hundred times faster (a Gateway API CRD is half a megabyte)
        try:
            return load_json(raw)
        except BodyError as exc:
            if kind != PatchType.APPLY:
                raise errors.bad_request(f"error decoding JSON: {exc}") from None
    try:
        return load_yaml(raw)
    except BodyError as exc:
        raise errors.bad_request(
            f"error decoding YAML: error converting YAML to JSON: {exc}") from None
    except ExpandsTooLarge:
        raise object_too_large() from None


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
