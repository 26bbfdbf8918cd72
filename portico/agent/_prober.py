"""Running one probe (httpGet, tcpSocket, exec) against a container: the I/O half.

httpGet connects from the node netns to the pod IP (or `host`), sends a GET
with kubelet's headers (`User-Agent: kube-probe/1.33`, `Accept: */*`, plus
`httpHeaders`) and succeeds on a status in [200, 400), as kubelet's prober; TLS
is not verified (`scheme: HTTPS`).  tcpSocket succeeds when the connection opens.
exec runs the command inside the pod netns with the container's environment and
succeeds on exit 0.  Each is bounded by `timeoutSeconds`; a timeout is a failure.
gRPC probes are reported Unknown (not supported).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portico.agent._probes import ProbeHandler, ProbeResult, probe_handler
from portico.agent._runtime import run_exec

USER_AGENT = "kube-probe/1.33"


@dataclass(frozen=True)
class ProbeTarget:
    pod_ip: str
    container_pid: int  # exec probes run in this process's namespaces
    working_dir: str = "/"
    ports: Mapping[str, int] = field(default_factory=dict)  # container port name -> number
    env: Mapping[str, str] = field(default_factory=dict)


def resolve_port(port: int | str, ports: Mapping[str, int]) -> int:
    """A probe/hook port: a number, a numeric string, or a container port name."""
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    if port in ports:
        return ports[port]
    raise ValueError(f"port {port!r} not found in the container's ports")


def http_request(path: str, host: str, port: int, headers: list[dict[str, str]]) -> bytes:
    names = {h.get("name", "").lower() for h in headers}
    lines = [f"GET {path or '/'} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: {host}:{port}")
    if "user-agent" not in names:
        lines.append(f"User-Agent: {USER_AGENT}")
    if "accept" not in names:
        lines.append("Accept: */*")
    lines += [f"{h['name']}: {h.get('value', '')}" for h in headers]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def http_status(status_line: bytes) -> int:
    parts = status_line.split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise ValueError(f"bad status line {status_line!r}")
    return int(parts[1])


async def _http_get(action: dict[str, Any], target: ProbeTarget) -> ProbeResult:
    host = action.get("host") or target.pod_ip
    port = resolve_port(action["port"], target.ports)
    tls = None
    if (action.get("scheme") or "HTTP").upper() == "HTTPS":
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(host, port, ssl=tls)
    try:
        writer.write(http_request(action.get("path", "/"), host, port,
                                  action.get("httpHeaders") or []))
        await writer.drain()
        code = http_status(await reader.readline())
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return ProbeResult.SUCCESS if 200 <= code < 400 else ProbeResult.FAILURE


async def _tcp(action: dict[str, Any], target: ProbeTarget) -> ProbeResult:
    host = action.get("host") or target.pod_ip
    _, writer = await asyncio.open_connection(host, resolve_port(action["port"], target.ports))
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return ProbeResult.SUCCESS


async def run_probe(probe: dict[str, Any], target: ProbeTarget, timeout: float) -> ProbeResult:
    handler = probe_handler(probe)
    try:
        if handler is ProbeHandler.HTTP_GET:
            return await asyncio.wait_for(_http_get(probe["httpGet"], target), timeout)
        if handler is ProbeHandler.TCP_SOCKET:
            return await asyncio.wait_for(_tcp(probe["tcpSocket"], target), timeout)
        if handler is ProbeHandler.EXEC:
            code, _ = await run_exec(target.container_pid, probe["exec"].get("command") or [],
                                     target.env, target.working_dir, timeout)
            return ProbeResult.SUCCESS if code == 0 else ProbeResult.FAILURE
    except (TimeoutError, OSError, ValueError):
        return ProbeResult.FAILURE
    return ProbeResult.UNKNOWN
