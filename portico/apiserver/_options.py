"""Options of a request from its query (and a DELETE's body), as kube-apiserver reads them.

`write_options` validates `fieldValidation` as `ValidateCreateOptions` (and its
Update/Patch siblings) do: an unknown value is a 422 naming the options kind.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from portico.apiserver import errors
from portico.apiserver._bodies import read_raw
from portico.apiserver.registry import DeleteOptions, ListOptions, WriteOptions


def truthy(value: str | None) -> bool:
    return value in ("1", "true", "True")


def int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f'invalid value for {name}: "{raw}"') from None


def field_manager(request: web.Request) -> str:
    manager = request.query.get("fieldManager", "")
    if manager:
        return manager
    agent = request.headers.get("User-Agent", "")
    return agent.split("/")[0][:128] if agent else ""


FIELD_VALIDATIONS = ("", "Ignore", "Strict", "Warn")


def write_options(request: web.Request, options_kind: str = "UpdateOptions") -> WriteOptions:
    """The query's write options; `options_kind` (CreateOptions, UpdateOptions,
    PatchOptions) names them in kube-apiserver's 422 for a bad `fieldValidation`."""
    dry = request.query.getall("dryRun", [])
    for value in dry:
        if value != "All":
            raise errors.bad_request(f'Invalid dry run value: "{value}"')
    validation = request.query.get("fieldValidation", "")
    if validation not in FIELD_VALIDATIONS:
        raise errors.invalid_object(options_kind, "", [errors.not_supported(
            "fieldValidation", validation, FIELD_VALIDATIONS)], "meta.k8s.io")
    return WriteOptions(
        dry_run=bool(dry),
        field_manager=field_manager(request),
        field_validation=validation,
        force=truthy(request.query.get("force")),
    )


def list_options(request: web.Request) -> ListOptions:
    return ListOptions(
        label_selector=request.query.get("labelSelector", ""),
        field_selector=request.query.get("fieldSelector", ""),
        limit=int_param(request, "limit") or 0,
        continue_token=request.query.get("continue", ""),
        resource_version=request.query.get("resourceVersion", ""),
    )


async def delete_options(request: web.Request) -> DeleteOptions:
    body: dict[str, Any] = {}
    if request.can_read_body:
        raw = await read_raw(request)
        if raw.strip():
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise errors.bad_request(f"error decoding DeleteOptions: {exc}") from None
    grace = body.get("gracePeriodSeconds")
    if grace is None:
        grace = int_param(request, "gracePeriodSeconds")
    pre = body.get("preconditions") or {}
    dry = body.get("dryRun") or request.query.getall("dryRun", [])
    return DeleteOptions(
        propagation_policy=body.get("propagationPolicy")
        or request.query.get("propagationPolicy", ""),
        grace_period_seconds=grace,
        precondition_uid=pre.get("uid") or "",
        precondition_resource_version=pre.get("resourceVersion") or "",
        dry_run=bool(dry),
    )
