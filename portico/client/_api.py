"""`Api`: the one way Portico's components read and write the Kubernetes API.

Objects go in and come out as plain dicts (the JSON the API server speaks); a
kind is a `portico.model.kinds.Kind`, built-in or custom alike. Underneath is
lightkube's async client (TLS, authentication, connection pool; watches are read
by `_watch`, on lightkube's prepared request): every kind is reached through a
lightkube *generic* resource class made here from the `Kind` and never registered
globally, so responses are wrapped dicts (no model parsing, no `to_dict`/`from_dict`
round trips).

Errors are `ApiError`s carrying the server's `Status` (code, reason, message),
whatever the transport reported.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import lightkube
from lightkube import AsyncClient
from lightkube.core import resource as lk_resource
from lightkube.generic_resource import (
    GenericGlobalResource,
    GenericGlobalStatus,
    GenericNamespacedResource,
    GenericNamespacedStatus,
)
from lightkube.types import CascadeType, PatchType

from portico.client._connect import api_client, load_kubeconfig
from portico.client._transport import Transport, kind_path
from portico.client._watch import WatchError, watch_lines
from portico.model.kinds import Kind

Obj = dict[str, Any]
ALL_NAMESPACES = "*"
# What a request raises when the server cannot be reached (refused, reset, timed out:
# TimeoutError is an OSError); writes and watches go over aiohttp (`_transport`).
UNREACHABLE: tuple[type[Exception], ...] = (httpx2.TransportError, aiohttp.ClientError, OSError)

__all__ = ["ALL_NAMESPACES", "UNREACHABLE", "Api", "ApiError", "CascadeType", "Listing",
           "PatchType", "Status", "WatchEvent"]


@dataclass(frozen=True, slots=True)
class Status:
    """The part of a metav1.Status a client acts on."""

    code: int
    reason: str = ""
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any]) -> Status:
        return cls(int(obj.get("code") or 0), str(obj.get("reason") or ""),
                   str(obj.get("message") or ""), obj.get("details") or {})


class ApiError(Exception):
    """The API server answered with an error `Status`."""

    def __init__(self, status: Status) -> None:
        super().__init__(status.message or status.reason or f"HTTP {status.code}")
        self.status = status

    @property
    def code(self) -> int:
        return self.status.code

    @classmethod
    def of(cls, error: lightkube.ApiError) -> ApiError:
        raw = error.status
        return cls(Status(int(raw.code or error.response.status_code or 0), raw.reason or "",
                          raw.message or "", (raw.details.to_dict() if raw.details else {})))


@dataclass(frozen=True, slots=True)
class Listing:
    """A list's items and the resourceVersion to watch from."""

    items: list[Obj]
    resource_version: str | None


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: Obj


@functools.cache
def _resource_class(kind: Kind) -> Any:
    """The lightkube generic class for `kind` (its subresource's when it has one)."""
    gvk = kind.gvk
    main_def = lk_resource.ResourceDef(gvk.group, gvk.version, gvk.kind)
    if kind.subresource is None:
        base: type = GenericNamespacedResource if kind.namespaced else GenericGlobalResource
        info = lk_resource.ApiInfo(resource=main_def, plural=kind.plural, verbs=[
            "delete", "deletecollection", "get", "global_list", "global_watch", "list",
            "patch", "post", "put", "watch"])
    else:
        base = GenericNamespacedStatus if kind.namespaced else GenericGlobalStatus
        info = lk_resource.ApiInfo(resource=main_def, parent=main_def, plural=kind.plural,
                                   verbs=["get", "patch", "put", "post"],
                                   action=kind.subresource)
    return type(kind.name.replace("/", ""), (base,), {"_api_info": info})


def _plain(obj: Any) -> Obj:
    return dict(obj) if obj is not None else {}


class Api:
    """Dict-in, dict-out access to the API with one write path (create, replace, patch,
    apply, delete) for every component."""

    def __init__(self, client: AsyncClient, transport: Transport) -> None:
        self._client = client
        self._transport = transport

    @classmethod
    def connect(cls, kubeconfig: Path | str | None, field_manager: str,
                serviceaccount_dir: Path | str | None = None) -> Api:
        """An Api for a kubeconfig file, or for a pod's service account when it is None."""
        return cls(*api_client(load_kubeconfig(kubeconfig, serviceaccount_dir), field_manager))

    async def close(self) -> None:
        await self._client.close()
        await self._transport.close()

    # --- reads --------------------------------------------------------------------------
    async def get(self, kind: Kind, name: str, namespace: str | None = None) -> Obj:
        try:
            res = _resource_class(kind)
            if kind.namespaced:
                return _plain(await self._client.get(res, name, namespace=namespace))
            return _plain(await self._client.get(res, name))
        except lightkube.ApiError as error:
            raise ApiError.of(error) from error

    async def get_or_none(self, kind: Kind, name: str, namespace: str | None = None
                          ) -> Obj | None:
        """The object, or None when it does not exist (404)."""
        try:
            return await self.get(kind, name, namespace)
        except ApiError as error:
            if error.code == 404:
                return None
            raise

    async def list(self, kind: Kind, namespace: str | None = None,
                   labels: Mapping[str, Any] | None = None,
                   fields: Mapping[str, Any] | None = None) -> Listing:
        """Every object of `kind` (in `namespace`, or all namespaces when None)."""
        scope = {"namespace": namespace or ALL_NAMESPACES} if kind.namespaced else {}
        try:
            listing = self._client.list(_resource_class(kind), labels=labels,  # type: ignore[call-overload]
                                        fields=fields, **scope)
            items = [_plain(item) async for item in listing]
        except lightkube.ApiError as error:
            raise ApiError.of(error) from error
        return Listing(items, listing._resourceVersion or None)

    async def watch(self, kind: Kind, namespace: str | None = None,
                    resource_version: str | None = None,
                    labels: Mapping[str, Any] | None = None,
                    fields: Mapping[str, Any] | None = None) -> AsyncIterator[WatchEvent]:
        """Events after `resource_version`, with bookmarks; the stream re-connects by itself
        when the server ends it and raises `ApiError` (410 when the version is too old).
        `_watch` reads the lines (one decoding each)."""
        scope = namespace if kind.namespaced and namespace != ALL_NAMESPACES else None
        params = {"resourceVersion": resource_version, "allowWatchBookmarks": "true",
                  "labelSelector": _selector(labels), "fieldSelector": _selector(fields)}
        try:
            async for event_type, obj in watch_lines(
                    self._transport, kind_path(kind, scope, None),
                    {k: v for k, v in params.items() if v is not None}):
                yield WatchEvent(event_type, obj)
        except WatchError as error:
            raise ApiError(Status.from_obj(error.status)) from None

    async def readyz(self) -> tuple[int, str]:
        """The API server's `/readyz`: (HTTP status, body)."""
        response = await self._client._client._client.get("/readyz")
        return response.status_code, response.text

    # --- writes -------------------------------------------------------------------------
    async def create(self, kind: Kind, body: Obj, namespace: str | None = None,
                     name: str | None = None) -> Obj:
        """POST `body`; `name` is the parent object's for a subresource (pods/NAME/binding)."""
        return await self._write("post", kind, body, name=name, namespace=namespace)

    async def replace(self, kind: Kind, body: Obj, namespace: str | None = None) -> Obj:
        """PUT `body` (its metadata.resourceVersion is the precondition)."""
        name = (body.get("metadata") or {}).get("name")
        return await self._write("put", kind, body, name=name, namespace=namespace)

    async def patch(self, kind: Kind, name: str, patch: Obj | builtins.list[Obj],
                    namespace: str | None = None, patch_type: PatchType = PatchType.MERGE,
                    force: bool = False, field_manager: str | None = None) -> Obj:
        params = {"force": "true" if force else None, "fieldManager": field_manager}
        return await self._write("patch", kind, patch, name=name, namespace=namespace,
                                 content_type=patch_type.value, params=params)

    async def apply(self, kind: Kind, body: Obj, namespace: str | None = None,
                    force: bool = False, field_manager: str | None = None) -> Obj:
        """Server-side apply of `body` (named by its metadata)."""
        meta = body.get("metadata") or {}
        return await self.patch(kind, str(meta.get("name")), body,
                                namespace=namespace or meta.get("namespace"),
                                patch_type=PatchType.APPLY, force=force,
                                field_manager=field_manager)

    async def delete(self, kind: Kind, name: str, namespace: str | None = None,
                     grace_period: int | None = None,
                     cascade: CascadeType | None = None) -> None:
        try:
            res = _resource_class(kind)
            if kind.namespaced:
                await self._client.delete(res, name, namespace=namespace,
                                          grace_period=grace_period, cascade=cascade)
            else:
                await self._client.delete(res, name, grace_period=grace_period,
                                          cascade=cascade)
        except lightkube.ApiError as error:
            raise ApiError.of(error) from error

    async def _write(self, method: str, kind: Kind, data: Obj | builtins.list[Obj],
                     name: str | None, namespace: str | None,
                     content_type: str = "application/json",
                     params: dict[str, str | None] | None = None) -> Obj:
        if kind.namespaced and namespace is None and isinstance(data, dict):
            namespace = (data.get("metadata") or {}).get("namespace")
        answer = await self._transport.write(method, kind, data, name, namespace, content_type,
                                          params)
        if answer.code >= 400:
            raise ApiError(Status.from_obj(answer.status()))
        return answer.body if isinstance(answer.body, dict) else {}


def _selector(labels: Mapping[str, Any] | None) -> str | None:
    if not labels:
        return None
    return ",".join(f"{key}={value}" for key, value in labels.items())
