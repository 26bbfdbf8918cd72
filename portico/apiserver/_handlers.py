"""REST handlers for every served kind: the verbs, subresources, Tables and watch."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from dataclasses import replace
from typing import Any

from aiohttp import web

from portico.apiserver import errors
from portico.apiserver._bodies import (
    EventWriter,
    decode_object,
    json_response,
    list_items,
    media_type,
    read_object,
    read_patch,
    read_raw,
    status_body_response,
    stored_items,
)
from portico.apiserver._eviction import evict
from portico.apiserver._node_proxy import NodeProxy
from portico.apiserver._options import (
    delete_options,
    int_param,
    list_options,
    truthy,
    write_options,
)
from portico.apiserver._paths import ResourcePath, parse
from portico.apiserver._scale import from_scale, to_scale
from portico.apiserver._tables import TABLE_CONTENT_TYPE, list_table, table, wants_table
from portico.apiserver.apiextensions._strategy import refuse_request
from portico.apiserver.registry import (
    ListResult,
    Registry,
    WatchEvent,
    WriteOptions,
)
from portico.apiserver.registry._read import WatchStream
from portico.apiserver.resources import pods
from portico.apiserver.resources._base import Object, ResourceType

_NOT_FOUND = errors.StatusError(404, "NotFound", "the server could not find the requested resource")
_BOOKMARK_INTERVAL = 1.0
# kinds whose registries answer a delete with the object (ReturnDeletedObject)
_RETURN_DELETED = ("Pod", "Namespace", "Service", "PersistentVolumeClaim", "PersistentVolume",
                   "StorageClass")
_STREAMING = ("exec", "attach", "portforward")


def _list_body(rt: ResourceType, items: list[Any], rv: int, cont: str,
               remaining: int | None) -> dict[str, Any]:
    """A `<Kind>List` of prepared items (`list_items` or `stored_items`)."""
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if cont:
        meta["continue"] = cont
    if remaining is not None:
        meta["remainingItemCount"] = remaining
    kind = rt.custom.list_kind if rt.custom is not None else f"{rt.kind}List"
    return {"kind": kind, "apiVersion": rt.api_version, "metadata": meta, "items": items}


class ResourceHandlers:
    def __init__(self, registry: Registry, node_proxy: NodeProxy | None = None) -> None:
        self.registry = registry
        self.node_proxy = node_proxy or NodeProxy(registry, None)

    def _resolve(self, group: str, version: str, rest: str) -> tuple[ResourceType, ResourcePath]:
        path = parse(group, version, rest)
        if path is None:
            raise _NOT_FOUND
        rt = self.registry.find(group, version, path.plural)
        if rt is None or (path.namespace is not None and not rt.namespaced):
            raise _NOT_FOUND
        if path.subresource and rt.subresource(path.subresource) is None and not (
            rt.kind == "Namespace" and path.subresource == "finalize"
        ):
            raise _NOT_FOUND
        return rt, path

    async def core(self, request: web.Request) -> web.StreamResponse:
        return await self.dispatch(request, "", "v1", request.match_info["rest"])

    async def grouped(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        return await self.dispatch(request, info["group"], info["version"], info["rest"])

    async def dispatch(self, request: web.Request, group: str, version: str,
                       rest: str) -> web.StreamResponse:
        rt, path = self._resolve(group, version, rest)
        namespace = path.namespace or ""
        method = request.method
        if rt.custom is not None:
            refuse_request(rt.custom, method, bool(path.name), media_type(request))
        if not path.name:
            if rt.namespaced and path.namespace is None and method not in ("GET",):
                raise _NOT_FOUND
            if method == "GET":
                if truthy(request.query.get("watch")):
                    return await self.watch(request, rt, path.namespace)
                return self.list(request, rt, path.namespace)
            if method == "POST":
                return await self.create(request, rt, namespace)
            if method == "DELETE":
                return await self.delete_collection(request, rt, namespace)
            raise errors.method_not_allowed()
        if path.subresource in _STREAMING and rt.kind == "Pod" and method in ("GET", "POST"):
            return await self.node_proxy.stream(request, self.registry.get(rt, namespace,
                                                                           path.name),
                                                path.subresource)
        if method == "GET" and path.subresource == "log" and rt.kind == "Pod":
            return await self.node_proxy.logs(request, self.registry.get(rt, namespace,
                                                                         path.name))
        if method == "GET":
            return self.get(request, rt, namespace, path)
        if method == "POST" and path.subresource == "binding" and rt.kind == "Pod":
            return await self.bind(request, rt, namespace, path.name)
        if method == "POST" and path.subresource == "eviction" and rt.kind == "Pod":
            return await evict(request, self.registry, rt, namespace, path.name)
        if method == "PUT":
            return await self.update(request, rt, namespace, path)
        if method == "PATCH":
            return await self.patch(request, rt, namespace, path)
        if method == "DELETE" and not path.subresource:
            return await self.delete(request, rt, namespace, path.name)
        raise errors.method_not_allowed()

    def _respond(self, request: web.Request, rt: ResourceType, obj: Object,
                 status: int = 200, warnings: list[str] | None = None) -> web.Response:
        if rt.custom is not None and rt.custom.deprecation_warning:
            warnings = [rt.custom.deprecation_warning, *(warnings or [])]
        obj.setdefault("apiVersion", rt.api_version)
        obj.setdefault("kind", rt.kind)
        accept = request.headers.get("Accept", "")
        if wants_table(accept) and obj.get("kind") == rt.kind:
            body = table(rt, [obj], request.query.get("includeObject", "Metadata"),
                         obj["metadata"].get("resourceVersion", ""))
            return json_response(body, status, TABLE_CONTENT_TYPE, warnings)
        return json_response(obj, status, warnings=warnings)

    def get(self, request: web.Request, rt: ResourceType, namespace: str,
            path: ResourcePath) -> web.Response:
        obj = self.registry.get(rt, namespace, path.name)
        if path.subresource == "scale":
            return json_response(to_scale(rt, obj))
        if path.subresource in ("", "status"):
            return self._respond(request, rt, obj)
        raise errors.bad_request(f"{rt.plural}/{path.subresource} is not served yet")

    def list(self, request: web.Request, rt: ResourceType,
             namespace: str | None) -> web.Response:
        result = self.registry.list(rt, namespace, list_options(request))
        accept = request.headers.get("Accept", "")
        if rt.converted:
            return self._converted_list(request, rt, result)
        if wants_table(accept):
            body = list_table(rt, result.stored, request.query.get("includeObject", "Metadata"),
                              str(result.resource_version), result.continue_token,
                              result.remaining)
            return json_response(body, content_type=TABLE_CONTENT_TYPE)
        return json_response(_list_body(rt, stored_items(rt, result.stored),
                                         result.resource_version, result.continue_token,
                                         result.remaining))

    def _converted_list(self, request: web.Request, rt: ResourceType,
                        result: ListResult) -> web.Response:
        """Custom resources (defaults, apiVersion) and built-in kinds served in a version
        other than the stored one are read through their version: no memo."""
        objs = [rt.strategy.read(obj) for obj in result.items]
        deprecation = rt.custom.deprecation_warning if rt.custom is not None else ""
        warnings = [deprecation] if deprecation else None
        if wants_table(request.headers.get("Accept", "")):
            body = table(rt, objs, request.query.get("includeObject", "Metadata"),
                         str(result.resource_version), result.continue_token, result.remaining)
            return json_response(body, content_type=TABLE_CONTENT_TYPE, warnings=warnings)
        return json_response(_list_body(rt, objs, result.resource_version,
                                        result.continue_token, result.remaining),
                             warnings=warnings)

    async def create(self, request: web.Request, rt: ResourceType,
                     namespace: str) -> web.Response:
        raw = await read_raw(request)
        opts = write_options(request, "CreateOptions")
        body = decode_object(request, raw, rt.kind, opts.field_validation)
        obj = body.object
        check_type(rt, obj)
        body_ns = obj.get("metadata", {}).get("namespace")
        if rt.namespaced and body_ns and body_ns != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request")
        opts = replace(opts, duplicate_fields=tuple(body.duplicates))
        created = self.registry.create(rt, namespace, obj, opts)
        return self._respond(request, rt, created, 201, opts.warnings)

    async def update(self, request: web.Request, rt: ResourceType, namespace: str,
                     path: ResourcePath) -> web.Response:
        raw = await read_raw(request)
        opts = write_options(request)
        kind = "Scale" if path.subresource == "scale" else rt.kind
        body = decode_object(request, raw, kind, opts.field_validation)
        obj = body.object
        if path.subresource == "scale":
            live = self.registry.get(rt, namespace, path.name)
            updated = self.registry.update(rt, namespace, path.name, from_scale(live, obj, rt), "",
                                           opts)
            return json_response(to_scale(rt, updated))
        check_type(rt, obj)
        opts = replace(opts, duplicate_fields=tuple(body.duplicates))
        updated = self.registry.update(rt, namespace, path.name, obj, path.subresource, opts)
        return self._respond(request, rt, updated, 200, opts.warnings)

    async def patch(self, request: web.Request, rt: ResourceType, namespace: str,
                    path: ResourcePath) -> web.Response:
        patch_type, body = await read_patch(request)
        opts = write_options(request, "PatchOptions")
        if patch_type.startswith("application/apply-patch") and not opts.field_manager:
            raise errors.bad_request(
                "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests")
        if path.subresource == "scale":
            return json_response(self._patch_scale(rt, namespace, path.name, patch_type, body,
                                                   opts))
        existed = True
        if patch_type.startswith("application/apply-patch"):
            try:
                self.registry.get(rt, namespace, path.name)
            except errors.StatusError:
                existed = False
        patched = self.registry.patch(rt, namespace, path.name, patch_type, body,
                                      path.subresource, opts)
        return self._respond(request, rt, patched, 200 if existed else 201, opts.warnings)

    def _patch_scale(self, rt: ResourceType, namespace: str, name: str, patch_type: str,
                     body: Any, opts: WriteOptions) -> Object:
        from portico.apiserver.patch import json_patch, merge_patch

        live = self.registry.get(rt, namespace, name)
        scale = to_scale(rt, live)
        if patch_type.endswith("json-patch+json"):
            new_scale = json_patch(scale, body)
        else:
            new_scale = merge_patch(scale, body)
        updated = self.registry.update(rt, namespace, name, from_scale(live, new_scale, rt), "",
                                       opts)
        return to_scale(rt, updated)

    async def bind(self, request: web.Request, rt: ResourceType, namespace: str,
                   name: str) -> web.Response:
        """`pods/binding`: assign a pod to a node, once (the scheduler's write)."""
        binding = await read_object(request, "Binding")
        target = binding.get("target") or {}
        node = target.get("name")
        if not node:
            raise errors.invalid_object("Binding", name, [errors.required("target.name")])
        pod = self.registry.get(rt, namespace, name)
        current = pod.get("spec", {}).get("nodeName")
        if current:
            raise errors.conflict("pods/binding", name, "",
                                  f'pod {name} is already assigned to node "{current}"')
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.conflict("pods/binding", name, "",
                                  f"pod {name} is being deleted, cannot be assigned to a host")
        pods.bind(pod, node, datetime.datetime.now(datetime.UTC))
        self.registry.writer.update(rt, pod, self.registry.get(rt, namespace, name), "binding",
                                    write_options(request, "CreateOptions"))
        return status_body_response(errors.status_body("Success", code=201), 201)

    async def delete(self, request: web.Request, rt: ResourceType, namespace: str,
                     name: str) -> web.Response:
        opts = await delete_options(request)
        result = self.registry.delete(rt, namespace, name, opts)
        if not result.deleted:
            return self._respond(request, rt, result.object, 200)
        if rt.kind in _RETURN_DELETED:
            # these registries return the deleted object (ReturnDeletedObject), not a Status
            return self._respond(request, rt, result.object, 200)
        meta = result.object["metadata"]
        return status_body_response(errors.status_body("Success", details={
            "name": name, "group": rt.group, "kind": rt.plural, "uid": meta.get("uid")}))

    async def delete_collection(self, request: web.Request, rt: ResourceType,
                                namespace: str) -> web.Response:
        opts = await delete_options(request)
        listing = self.registry.list(rt, namespace or None, list_options(request))
        deleted = []
        for obj in listing.items:
            meta = obj["metadata"]
            with contextlib.suppress(errors.StatusError):
                result = self.registry.delete(rt, meta.get("namespace", ""), meta["name"], opts)
                deleted.append(result.object)
        return json_response(_list_body(rt, list_items(rt, deleted), self.registry.store.revision,
                                        "", None))

    async def watch(self, request: web.Request, rt: ResourceType,
                    namespace: str | None) -> web.StreamResponse:
        """Stream events as JSON lines; every batch of pending events goes out in one write.

        Errors opening the watch (a bad selector, a compacted resourceVersion) come as an
        ERROR event after the 200 headers, as kube-apiserver sends them."""
        opts = list_options(request)
        timeout = int_param(request, "timeoutSeconds")
        bookmarks = truthy(request.query.get("allowWatchBookmarks"))
        as_table = wants_table(request.headers.get("Accept", ""))
        response = web.StreamResponse(headers={"Content-Type": "application/json",
                                               "Cache-Control": "no-cache, private"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        writer = EventWriter(response, rt, as_table, request.query.get("includeObject",
                                                                       "Metadata"))
        try:
            stream = self.registry.reader.watch(rt, namespace, opts)
        except errors.StatusError as exc:
            with contextlib.suppress(ConnectionResetError):
                await writer.error(exc)
                await response.write_eof()
            return response
        try:
            await self._stream(request, rt, stream, writer, timeout, bookmarks)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            stream.close()
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    async def _stream(self, request: web.Request, rt: ResourceType, stream: WatchStream,
                      writer: EventWriter, timeout: int | None, bookmarks: bool) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        while True:
            wait = _BOOKMARK_INTERVAL
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
                if wait <= 0:
                    return
            batch = await stream.next_batch(wait)
            if batch is None:
                return
            if batch:
                if rt.converted:
                    batch = [WatchEvent(e.type, rt.strategy.read(e.object)) for e in batch]
                await writer.send(batch)
                continue
            transport = request.transport
            if transport is None or transport.is_closing():
                return  # the client went away while nothing happened
            if bookmarks:
                await writer.bookmark(self.registry.store.revision)


def check_type(rt: ResourceType, obj: Object) -> None:
    """The body's apiVersion/kind must name this kind (they may be left out)."""
    api_version = obj.get("apiVersion") or rt.api_version
    kind = obj.get("kind") or rt.kind
    if api_version != rt.api_version:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({rt.api_version})")
    if kind != rt.kind:
        raise errors.bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
    obj["apiVersion"], obj["kind"] = api_version, kind
