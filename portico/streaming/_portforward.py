"""Port-forward vocabulary: the SPDY stream headers, the tunnel and the legacy WebSocket framing.

Theory of operation (kubelet `cri/streaming/portforward`, client-go `tools/portforward`):

- SPDY (`Upgrade: SPDY/3.1`, `X-Stream-Protocol-Version: portforward.k8s.io`), directly
  or tunneled in WebSocket binary messages (subprotocol `SPDY/3.1+portforward.k8s.io`,
  KEP-4006; message boundaries mean nothing, the SPDY codec reassembles): for every
  local connection the client opens an `error` stream and a `data` stream with the
  same `requestid` and the remote `port`; the server dials the pod's port and copies
  bytes between the data stream and the TCP connection; failures are plain text on
  the error stream.
- Legacy WebSocket (the Python client; `?ports=80,443`, channel protocols without v5):
  port i uses channel 2i for data and 2i+1 for errors; the server starts by writing
  the port number (2 bytes, little endian) on both channels; one TCP connection per
  port per WebSocket.

Pure.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

PORT_FORWARD_PROTOCOL = "portforward.k8s.io"
SPDY_PROTOCOL = "SPDY/3.1"
TUNNEL_PROTOCOL = f"{SPDY_PROTOCOL}+{PORT_FORWARD_PROTOCOL}"


class StreamType(StrEnum):
    """The `streamtype` header of a SPDY stream (remote command and port-forward)."""

    ERROR = "error"
    DATA = "data"
    STDIN = "stdin"
    STDOUT = "stdout"
    STDERR = "stderr"
    RESIZE = "resize"


class StreamHeader(StrEnum):
    STREAM_TYPE = "streamtype"
    PORT = "port"
    REQUEST_ID = "requestid"


class PortForwardError(ValueError):
    """A request that names no usable port (kubelet answers 400 with this text)."""


def parse_port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise PortForwardError(f"unable to parse {value!r} as a port: invalid syntax") \
            from None
    if not 0 < port < 65536:
        raise PortForwardError(f"port {value!r} must be > 0 and < 65536")
    return port


def parse_ports(values: Iterable[str]) -> list[int]:
    """`?ports=80,443&ports=8080` as [80, 443, 8080]."""
    ports = [parse_port(p.strip()) for v in values for p in v.split(",") if p.strip()]
    if not ports:
        raise PortForwardError("at least one port must be specified")
    return ports


def port_prefix(port: int) -> bytes:
    """The first bytes the server writes on each of a port's WebSocket channels."""
    return struct.pack("<H", port)


@dataclass(frozen=True)
class PortChannels:
    port: int
    data: int
    error: int


def port_channels(ports: list[int]) -> list[PortChannels]:
    return [PortChannels(port, 2 * i, 2 * i + 1) for i, port in enumerate(ports)]


def forward_error(port: int, pod: str, uid: str, error: str) -> bytes:
    """The text kubelet writes on a port-forward error stream."""
    return f"error forwarding port {port} to pod {pod}, uid {uid}: {error}".encode()
