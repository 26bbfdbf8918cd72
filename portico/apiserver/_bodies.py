"""Request bodies in (JSON, YAML, protobuf) and responses out, with kube's errors."""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from portico.apiserver import errors
from portico.apiserver.protobuf import PROTOBUF_CONTENT_TYPE
from portico.apiserver.protobuf import decode as decode_protobuf
from portico.apiserver.registry import PATCH_TYPES, PatchType

MAX_BODY_BYTES = 3 * 1024 * 1024


def json_response(body: Any, status: int = 200, content_type: str = "application/json",
                  warnings: list[str] | None = None) -> web.Response:
    headers = {"Content-Type": content_type}
    if warnings:
        headers["Warning"] = ", ".join(
            '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in warnings)
    return web.Response(body=orjson.dumps(body), status=status, headers=headers)


def status_response(exc: errors.StatusError) -> web.Response:
    return json_response(exc.status(), exc.code)


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
    body = _parse_yaml(raw) if kind == PatchType.APPLY else _parse_json(raw)
    return kind, body
