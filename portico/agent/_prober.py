"""Running one probe (httpGet, tcpSocket, exec) against a container: the I/O half.

httpGet connects from the node netns to the pod IP (or `host`), sends a GET
with kubelet's headers (`User-Agent: kube-probe/1.33`, `Accept: */*`, plus
`httpHeaders`) and succeeds on a status in [200, 400), as kubelet's prober; TLS
is not verified (`scheme: HTTPS`).  tcpSocket succeeds when the connection opens.
exec runs the command inside the pod netns with the container's environment and
succeeds on exit 0.  Each is bounded by `timeoutSeconds`; a timeout is a failure.
gRPC probes are reported Unknown (not supported).  Each result comes with kubelet's
output text for the `Unhealthy` event: the exec command's output, `HTTP probe failed
with statuscode: 503`, or Go's error texts (`Get "http://10.244.0.5:8080/": dial tcp
10.244.0.5:8080: connect: connection refused`, `... i/o timeout`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portico.agent._probes import ProbeHandler, ProbeResult, probe_handler
from portico.agent._runtime import run_exec

USER_AGENT = "kube-probe/1.33"
Outcome = tuple[ProbeResult, str]


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


def dial_error(host: str, port: int, error: BaseException) -> str:
    """Go's net.Dial error text: `dial tcp 10.244.0.5:80: connect: connection refused`."""
    if isinstance(error, TimeoutError):
        return f"dial tcp {host}:{port}: i/o timeout"
    errno = error.errno if isinstance(error, OSError) else None
    text = os.strerror(errno) if errno else str(error)
    return f"dial tcp {host}:{port}: connect: {text[:1].lower()}{text[1:]}"


def _url(action: dict[str, Any], host: str, port: int, scheme: str) -> str:
    path = action.get("path") or "/"
    return f"{scheme.lower()}://{host}:{port}{path if path.startswith('/') else '/' + path}"


async def _http_get(action: dict[str, Any], target: ProbeTarget, timeout: float) -> Outcome:
    host = action.get("host") or target.pod_ip
    port = resolve_port(action["port"], target.ports)
    scheme = (action.get("scheme") or "HTTP").upper()
    tls = None
    if scheme == "HTTPS":
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    url = _url(action, host, port, scheme)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=tls), timeout)
    except (OSError, TimeoutError) as error:
        return ProbeResult.FAILURE, f'Get "{url}": {dial_error(host, port, error)}'
    try:
        writer.write(http_request(action.get("path", "/"), host, port,
                                  action.get("httpHeaders") or []))
        await writer.drain()
        code = http_status(await asyncio.wait_for(reader.readline(), timeout))
    except TimeoutError:
        return ProbeResult.FAILURE, (f'Get "{url}": context deadline exceeded '
                                     "(Client.Timeout exceeded while awaiting headers)")
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    if 200 <= code < 400:
        return ProbeResult.SUCCESS, ""
    return ProbeResult.FAILURE, f"HTTP probe failed with statuscode: {code}"


async def _tcp(action: dict[str, Any], target: ProbeTarget, timeout: float) -> Outcome:
    host = action.get("host") or target.pod_ip
    port = resolve_port(action["port"], target.ports)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as error:
        return ProbeResult.FAILURE, dial_error(host, port, error)
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return ProbeResult.SUCCESS, ""


async def _exec(action: dict[str, Any], target: ProbeTarget, timeout: float) -> Outcome:
    command = action.get("command") or []
    code, output = await run_exec(target.container_pid, command, target.env,
                                  target.working_dir, timeout)
    if code is None:
        return ProbeResult.FAILURE, f"command {' '.join(command)!r} timed out"
    text = output.decode(errors="replace")
    return (ProbeResult.SUCCESS if code == 0 else ProbeResult.FAILURE), text


async def run_probe(probe: dict[str, Any], target: ProbeTarget, timeout: float) -> Outcome:
    """(result, output): the output is what kubelet puts after "<Type> probe failed: "."""
    handler = probe_handler(probe)
    try:
        if handler is ProbeHandler.HTTP_GET:
            return await _http_get(probe["httpGet"], target, timeout)
        if handler is ProbeHandler.TCP_SOCKET:
            return await _tcp(probe["tcpSocket"], target, timeout)
        if handler is ProbeHandler.EXEC:
            return await _exec(probe["exec"], target, timeout)
    except (TimeoutError, OSError, ValueError) as error:
        return ProbeResult.FAILURE, str(error)
    return ProbeResult.UNKNOWN, f"probe type {handler} is not supported"
