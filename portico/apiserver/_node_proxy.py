"""Subresources served by the node agent: kube-apiserver proxies them to the kubelet.

`pods/log` becomes `GET https://<node InternalIP>:10250/containerLogs/<ns>/<pod>/<container>`
with the API server's kubelet-client certificate; the answer streams back as is.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from portico.apiserver import errors
from portico.apiserver.registry import Registry
from portico.apiserver.resources._base import Object

KUBELET_PORT = 10250
_LOG_PARAMS = ("follow", "tailLines", "previous", "timestamps", "limitBytes", "sinceSeconds",
               "sinceTime")


@dataclass(frozen=True)
class KubeletClientConfig:
    ca_cert: Path
    client_cert: Path
    client_key: Path
    port: int = KUBELET_PORT


def _container_names(pod: Object) -> list[str]:
    spec = pod.get("spec", {})
    return [c["name"] for c in spec.get("containers", [])]


def pick_container(pod: Object, requested: str) -> str:
    """The container a log/exec request means, with kube-apiserver's errors."""
    name = pod["metadata"]["name"]
    names = _container_names(pod)
    init = [c["name"] for c in pod.get("spec", {}).get("initContainers", []) or []]
    if requested:
        if requested not in names and requested not in init:
            raise errors.bad_request(
                f"container {requested} is not valid for pod {name}")
        return requested
    if len(names) == 1:
        return names[0]
    raise errors.bad_request(
        f"a container name must be specified for pod {name}, choose one of: "
        f"[{' '.join(names)}]" + (f" or one of the init containers: [{' '.join(init)}]"
                                  if init else ""))


def node_address(registry: Registry, pod: Object) -> str:
    node_name = pod.get("spec", {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(
            f"pod {pod['metadata']['name']} does not have a host assigned")
    nodes = registry.find("", "v1", "nodes")
    assert nodes is not None
    node = registry.get(nodes, "", node_name)
    for address in node.get("status", {}).get("addresses", []) or []:
        if address.get("type") == "InternalIP":
            return str(address["address"])
    raise errors.StatusError(
        503, "ServiceUnavailable", f"no preferred addresses found; known addresses: {[]}")


class NodeProxy:
    def __init__(self, registry: Registry, config: KubeletClientConfig | None) -> None:
        self.registry = registry
        self.config = config
        self._tls: ssl.SSLContext | None = None

    def tls(self) -> ssl.SSLContext:
        if self.config is None:
            raise errors.StatusError(503, "ServiceUnavailable", "no kubelet client configured")
        if self._tls is None:
            ctx = ssl.create_default_context(cafile=str(self.config.ca_cert))
            ctx.load_cert_chain(self.config.client_cert, self.config.client_key)
            self._tls = ctx
        return self._tls

    def kubelet_url(self, pod: Object, path: str) -> str:
        host = node_address(self.registry, pod)
        port = self.config.port if self.config else KUBELET_PORT
        return f"https://{host}:{port}{path}"

    async def logs(self, request: web.Request, pod: Object) -> web.StreamResponse:
        container = pick_container(pod, request.query.get("container", ""))
        meta = pod["metadata"]
        params: dict[str, Any] = {k: request.query[k] for k in _LOG_PARAMS if k in request.query}
        url = self.kubelet_url(pod, f"/containerLogs/{meta['namespace']}/{meta['name']}/"
                                    f"{container}")
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                upstream = await session.get(url, params=params, ssl=self.tls())
            except aiohttp.ClientError as exc:
                raise errors.StatusError(
                    500, "InternalError",
                    f"Get \"{url}\": {exc}") from None
            async with upstream:
                if upstream.status != 200:
                    text = (await upstream.text()).strip()
                    raise errors.bad_request(text or f"kubelet answered {upstream.status}")
                response = web.StreamResponse(headers={"Content-Type": "text/plain"})
                response.enable_chunked_encoding()
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response

    async def stream(self, request: web.Request, pod: Object,
                     subresource: str) -> web.StreamResponse:
        """exec, attach and portforward: an upgraded connection carried to the kubelet."""
        raise errors.StatusError(
            400, "BadRequest", f"pods/{subresource} is not supported yet")
