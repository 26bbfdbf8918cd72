"""The aiohttp application: routes, authentication, and errors as `Status` bodies."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from portico.apiserver import errors
from portico.apiserver._bodies import json_response, status_response
from portico.apiserver._discovery import (
    aggregated,
    api_group,
    api_group_list,
    api_versions,
    resource_list,
    wants_aggregated,
)
from portico.apiserver._handlers import ResourceHandlers
from portico.apiserver._node_proxy import NodeProxy
from portico.apiserver.auth.service import PUBLIC_PATHS, Auth
from portico.apiserver.openapi import document, openapi_root, openapi_v2
from portico.apiserver.registry import Registry
from portico.apiserver.resources._base import ResourceType

log = logging.getLogger("portico.apiserver")

KUBERNETES_VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0+portico",
                      "gitCommit": "portico", "gitTreeState": "clean",
                      "buildDate": "2026-11-28T00:00:00Z", "goVersion": "python3.11",
                      "compiler": "cpython", "platform": "linux/amd64"}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _not_found() -> errors.StatusError:
    return errors.StatusError(404, "NotFound", "the server could not find the requested resource")


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.StatusError as exc:
        return status_response(exc)
    except web.HTTPNotFound:
        return status_response(_not_found())
    except web.HTTPMethodNotAllowed:
        return status_response(errors.method_not_allowed())
    except web.HTTPRequestEntityTooLarge:
        return status_response(errors.request_too_large())
    except web.HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - any bug becomes a 500 Status, never a hang
        log.exception("internal error on %s %s", request.method, request.path)
        return status_response(errors.internal(str(exc)))


class Api:
    """Routes for discovery, OpenAPI, health and every resource."""

    def __init__(self, registry: Registry, advertise: str, ready: Callable[[], bool],
                 node_proxy: NodeProxy | None = None) -> None:
        self.registry = registry
        self.advertise = advertise
        self.ready = ready
        self.handlers = ResourceHandlers(registry, node_proxy)

    @property
    def resources(self) -> Sequence[ResourceType]:
        """Every served kind, custom ones included (they change as CRDs do)."""
        return self.registry.resources

    async def api(self, request: web.Request) -> web.Response:
        return self._discovery(request, True, lambda: api_versions(self.advertise))

    async def apis(self, request: web.Request) -> web.Response:
        return self._discovery(request, False, lambda: api_group_list(self.resources))

    def _discovery(self, request: web.Request, legacy: bool,
                   unaggregated: Callable[[], dict[str, Any]]) -> web.Response:
        """`/api` (`legacy`) or `/apis`: the aggregated discovery document when the client
        asks for it (kubectl does), else `unaggregated()`."""
        content_type = wants_aggregated(request.headers.get("Accept", ""))
        if content_type:
            return json_response(aggregated(self.resources, legacy, content_type), 200,
                                 content_type)
        return json_response(unaggregated())

    async def core_v1(self, request: web.Request) -> web.Response:
        body = resource_list(self.resources, "", "v1")
        assert body is not None
        return json_response(body)

    async def group(self, request: web.Request) -> web.Response:
        body = api_group(self.resources, request.match_info["group"])
        if body is None:
            raise _not_found()
        return json_response(body)

    async def group_version(self, request: web.Request) -> web.Response:
        info = request.match_info
        body = resource_list(self.resources, info["group"], info["version"])
        if body is None:
            raise _not_found()
        return json_response(body)

    async def openapi_v2(self, request: web.Request) -> web.Response:
        status, body, headers = openapi_v2(self.resources, request.headers.get("Accept", ""),
                                           request.headers.get("If-None-Match", ""))
        return web.Response(status=status, body=body or None, headers=headers)

    async def openapi_v3(self, request: web.Request) -> web.Response:
        return json_response(openapi_root(self.resources))

    async def openapi_v3_doc(self, request: web.Request) -> web.Response:
        doc = document(request.match_info["path"], self.resources)
        if doc is None:
            raise _not_found()
        return web.Response(body=doc.data, headers={"Content-Type": "application/json"})

    async def version(self, request: web.Request) -> web.Response:
        return json_response(KUBERNETES_VERSION)

    async def health(self, request: web.Request) -> web.Response:
        if request.path == "/readyz" and not self.ready():
            return web.Response(status=500, text="[-]bootstrap failed: not finished\nreadyz check failed")  # noqa: E501
        return web.Response(text="ok")


def build_app(api: Api, auth: Auth) -> web.Application:
    app = web.Application(middlewares=[_errors, auth.middleware],
                          client_max_size=3 * 1024 * 1024)
    r = app.router
    for path in PUBLIC_PATHS[:3]:
        r.add_get(path, api.health)
    r.add_get("/version", api.version)
    r.add_get("/api", api.api)
    r.add_get("/apis", api.apis)
    r.add_get("/api/v1", api.core_v1)
    r.add_get("/openapi/v2", api.openapi_v2)
    r.add_get("/openapi/v3", api.openapi_v3)
    r.add_get("/openapi/v3/{path:.+}", api.openapi_v3_doc)
    r.add_get("/apis/{group}", api.group)
    r.add_get("/apis/{group}/{version}", api.group_version)
    r.add_route("*", "/api/v1/{rest:.+}", api.handlers.core)
    r.add_route("*", "/apis/{group}/{version}/{rest:.+}", api.handlers.grouped)
    return app
